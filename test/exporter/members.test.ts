// Asking each host directly (XapiClient.probe) and choosing a new master to follow.
import t from 'tap';
import { Secret } from '../../core/config/secret.js';
import { XapiClient } from '../../core/xapi/client.js';
import { type HostProbe, newMaster, probeHosts, toolstackAnswers } from '../../exporter/collector/members.js';
import { startSim } from '../helpers/sim.js';

t.test('what each kind of host answers to a probe', async (t) => {
  const sim = await startSim({ xapiFuseMs: 50, xapiStartMs: 50 });
  t.teardown(() => sim.stop());
  const xapi = new XapiClient({ url: sim.url, username: 'root', password: new Secret('simulated') });
  t.teardown(() => xapi.logout());
  const [a, , c] = sim.pool.hosts;
  const known = sim.pool.hosts.map((h) => ({ uuid: h.ref, name: h.address, address: h.address }));
  sim.pool.failHost(a!);
  sim.pool.restartToolstack(c!); // a member restarting while its master is dead: emergency mode
  await sim.server.sync();
  const sessions = sim.pool.sessions.size;
  const probes = await probeHosts(xapi, known, 500, 4);
  t.equal(probes[0]!.result.state, 'silent', 'the hung master');
  t.same(probes[1]!.result, { state: 'member', master: a!.address }, 'a member names the dead master');
  t.same(probes[2]!.result, { state: 'answers', code: 'INTERNAL_ERROR' }, 'a member in emergency mode still answers');
  t.same(probes.map(toolstackAnswers), [false, true, true]);
  sim.pool.powerOn(a!);
  await sim.server.sync();
  const master = await xapi.probe(a!.address, 2000);
  t.same(master, { state: 'master' }, 'the master accepts the login');
  t.equal(sim.pool.sessions.size, sessions, 'the probe logged out again: no session left behind');
});

t.test('the master to follow: exactly one other host that accepts the login', async (t) => {
  const p = (address: string, result: HostProbe['result']): HostProbe => ({ uuid: address, name: address, address, result });
  const member = (m: string) => ({ state: 'member' as const, master: m });
  t.equal(newMaster([p('a', member('x')), p('b', member('x'))], 'x'), undefined, 'members only: nobody to follow');
  t.equal((newMaster([p('a', { state: 'master' }), p('b', member('x'))], 'x') as HostProbe).address, 'a');
  t.equal(newMaster([p('a', { state: 'master' }), p('b', { state: 'master' })], 'x'), 'ambiguous', 'two masters: follow neither');
  t.equal(newMaster([p('x', { state: 'master' })], 'x'), undefined, 'the current master is not a new one');
});
