// The master watch (recovery-hooks/master-watch.ts) demotes a second master only when every answering member and the
// receiver's own session follow the other one; otherwise it does nothing but log.
import { Counter, Registry } from 'prom-client';
import t from 'tap';
import { Secret } from '../../core/config/secret.js';
import { memoryLogger } from '../../core/log.js';
import type { ProbeResult } from '../../core/xapi/client.js';
import { MasterWatch } from '../../recovery-hooks/master-watch.js';
import type { MasterFailoverAccess } from '../../recovery-hooks/workflows/deps.js';

const HOSTS = [
  { uuid: 'u1', name: 'old', address: '10.0.0.1' },
  { uuid: 'u2', name: 'new', address: '10.0.0.2' },
  { uuid: 'u3', name: 'member', address: '10.0.0.3' },
];

function rig(answers: Record<string, ProbeResult>, receiverFollows = '10.0.0.2') {
  const calls: string[] = [];
  const access: MasterFailoverAccess = {
    config: { username: 'root', password: new Secret('pw'), candidates: [], promoteTimeoutMs: 1, membersTimeoutMs: 1, watchIntervalMs: 1000 },
    hosts: () => HOSTS,
    probe: async (address) => answers[address]!,
    callAt: async <T>(address: string, method: string, params: unknown[]) => {
      calls.push(`${address} ${method} ${method.startsWith('session.') ? '' : JSON.stringify(params.slice(1))}`.trim());
      return 'OpaqueRef:local' as T;
    },
    follow: () => undefined,
    follows: (address) => address === receiverFollows,
    callTimeoutMs: 1000,
  };
  const demotions = new Counter({ name: 'd', help: 'd', labelNames: ['pool_name', 'host_name'], registers: [new Registry()] });
  const logger = memoryLogger('info');
  const watch = new MasterWatch({ pools: ['p'], accessFor: () => access, probeTimeoutMs: 10, intervalMs: 1000, logger, demotions });
  return { watch, calls, demotions, logger };
}

const master: ProbeResult = { state: 'master' };
const memberOf = (address: string): ProbeResult => ({ state: 'member', master: address });

t.test('two masters, the member and the receiver follow the new one: the old one is demoted, counted', async (t) => {
  const { watch, calls, demotions } = rig({ '10.0.0.1': master, '10.0.0.2': master, '10.0.0.3': memberOf('10.0.0.2') });
  t.same(await watch.check('p'), ['old']);
  t.same(calls, ['10.0.0.1 session.slave_local_login_with_password', '10.0.0.1 pool.emergency_reset_master ["10.0.0.2"]']);
  t.equal((await demotions.get()).values.find((v) => v.labels.host_name === 'old')?.value, 1);
});

t.test('one master: nothing', async (t) => {
  const { watch, calls } = rig({ '10.0.0.1': { state: 'silent', error: new Error('x') }, '10.0.0.2': master, '10.0.0.3': memberOf('10.0.0.2') });
  t.same(await watch.check('p'), []);
  t.same(calls, []);
});

t.test('members follow the old one, or the receiver follows the other: nothing, logged once', async (t) => {
  const a = rig({ '10.0.0.1': master, '10.0.0.2': master, '10.0.0.3': memberOf('10.0.0.1') });
  t.same(await a.watch.check('p'), []);
  t.same(await a.watch.check('p'), []);
  t.same(a.calls, []);
  t.equal(a.logger.lines.filter((e) => /two masters/.test(String(e.msg))).length, 1, 'logged once per episode');
  const b = rig({ '10.0.0.1': master, '10.0.0.2': master, '10.0.0.3': memberOf('10.0.0.2') }, '10.0.0.1');
  t.same(await b.watch.check('p'), []);
  t.same(b.calls, []);
  const c = rig({ '10.0.0.1': master, '10.0.0.2': master, '10.0.0.3': { state: 'silent', error: new Error('x') } });
  t.same(await c.watch.check('p'), [], 'no member answers: nobody to go by');
});
