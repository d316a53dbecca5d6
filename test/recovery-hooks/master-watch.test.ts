// The master watch (recovery-hooks/master-watch.ts) demotes a second master only when every answering member and the
// receiver's own session follow the other one; otherwise it does nothing but log.
import { Counter, Registry } from 'prom-client';
import t from 'tap';
import { Secret } from '../../core/config/secret.js';
import { memoryLogger } from '../../core/log.js';
import type { ProbeResult } from '../../core/xapi/client.js';
import { MasterWatch, type MasterWatchOptions } from '../../recovery-hooks/master-watch.js';
import type { Notification } from '../../recovery-hooks/store/types.js';
import type { MasterFailoverAccess } from '../../recovery-hooks/workflows/deps.js';

const HOSTS = [
  { uuid: 'u1', name: 'old', address: '10.0.0.1' },
  { uuid: 'u2', name: 'new', address: '10.0.0.2' },
  { uuid: 'u3', name: 'member', address: '10.0.0.3' },
];

/** The store's side of a demotion: the notifications it lists and the progress written. */
function fakeStore(notifications: Partial<Notification>[], fails = false) {
  const progress: { uuid: string; task: string; message: string }[] = [];
  const store: MasterWatchOptions['store'] = {
    async list(filter) {
      if (fails) throw new Error('store down');
      return notifications.filter((n) => n.type === filter.type && n.hostUuid === filter.hostUuid) as Notification[];
    },
    async addProgress(uuid, task, message) {
      progress.push({ uuid, task, message });
    },
  };
  return { store, progress };
}
const FAILOVER_OF_OLD: Partial<Notification> = { uuid: 'n-old', type: 'COMPUTE_HOST', hostUuid: 'u1', poolName: 'p', payload: { xcp_failure: 'pool_master' } };

function rig(answers: Record<string, ProbeResult>, receiverFollows = '10.0.0.2', store = fakeStore([FAILOVER_OF_OLD]).store) {
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
  const watch = new MasterWatch({ pools: ['p'], accessFor: () => access, probeTimeoutMs: 10, intervalMs: 1000, logger, demotions, store, now: () => 1 });
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

t.test("the demotion is written into the old master's failover notification, in recover_members", async (t) => {
  const both = { '10.0.0.1': master, '10.0.0.2': master, '10.0.0.3': memberOf('10.0.0.2') };
  const other: Partial<Notification> = { ...FAILOVER_OF_OLD, uuid: 'n-other-pool', poolName: 'q' };
  const plain: Partial<Notification> = { ...FAILOVER_OF_OLD, uuid: 'n-host', payload: {} };
  const s = fakeStore([other, plain, FAILOVER_OF_OLD]);
  t.same(await rig(both, '10.0.0.2', s.store).watch.check('p'), ['old']);
  t.same(
    s.progress.map((p) => [p.uuid, p.task]),
    [['n-old', 'recover_members']],
    'only the master failover of this pool and host',
  );
  t.match(
    s.progress[0]!.message,
    /^master watch: old came back acting as a second pool master .*: demoted \(local login, pool\.emergency_reset_master\(10\.0\.0\.2\)\); it restarts as a member of new$/,
  );

  const none = rig(both, '10.0.0.2', fakeStore([plain]).store);
  t.same(await none.watch.check('p'), ['old'], 'no failover notification: demoted all the same');
  t.ok(none.logger.lines.some((l) => /only logged and counted/.test(String(l.msg))));
  const down = rig(both, '10.0.0.2', fakeStore([FAILOVER_OF_OLD], true).store);
  t.same(await down.watch.check('p'), ['old'], 'the store failing does not stop the demotion');
  t.equal((await down.demotions.get()).values[0]?.value, 1, 'counted');
  t.ok(down.logger.lines.some((l) => /could not be written/.test(String(l.msg))));
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
