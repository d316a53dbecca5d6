// The simulated pool loses its master: what members answer, local logins, emergency_transition_to_master,
// recover_slaves, power_state_reset of the old master's VMs, and the old master coming back (simulator/master-loss.ts).
import t, { type Test } from 'tap';
import { startSim } from '../helpers/sim.js';
import type { Simulation } from '../../simulator/run.js';
import type { HostRuntime } from '../../simulator/pool.js';
import { waitFor } from '../../core/concurrency.js';

type RpcAnswer = { result?: unknown; error?: { message: string; data: string[] } } | 'timeout' | 'connection';

async function rpc(sim: Simulation, h: HostRuntime, method: string, params: unknown[], timeoutMs = 1500): Promise<RpcAnswer> {
  try {
    const res = await fetch(`${sim.server.urlOf(h)}/jsonrpc`, {
      method: 'POST',
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return (await res.json()) as RpcAnswer;
  } catch (err) {
    return (err as Error).name === 'TimeoutError' ? 'timeout' : 'connection';
  }
}
const code = (a: RpcAnswer) => (typeof a === 'string' ? a : (a.error?.message ?? 'ok'));
const result = <T>(a: RpcAnswer) => {
  if (typeof a === 'string' || a.error) throw new Error(`expected a result, got ${JSON.stringify(a)}`);
  return a.result as T;
};

const until = (what: string, f: () => Promise<boolean> | boolean, ms = 8000) => waitFor(what, f, { timeoutMs: ms, everyMs: 50 });

const FAST = { xapiFuseMs: 100, xapiStartMs: 400, remoteTimeoutMs: 300, hostDeadAfterMs: 3000 };

async function rig(t: Test) {
  const sim = await startSim({ ...FAST });
  t.teardown(() => sim.stop());
  const [a, b, c] = sim.pool.hosts as [HostRuntime, HostRuntime, HostRuntime];
  t.equal(sim.pool.master, a, 'the first host is master');
  const login = async (h: HostRuntime) => result<string>(await rpc(sim, h, 'session.login_with_password', ['root', 'simulated', '1.0', 'test']));
  const localLogin = async (h: HostRuntime) => result<string>(await rpc(sim, h, 'session.slave_local_login_with_password', ['root', 'simulated']));
  const fail = async (h: HostRuntime) => {
    sim.pool.failHost(h);
    await sim.server.sync();
  };
  return { sim, a, b, c, login, localLogin, fail };
}

t.test('a dead master: members still name it, calls needing it stall, local logins work', async (t) => {
  const { sim, a, b, login, localLogin, fail } = await rig(t);
  const session = await login(a);
  await fail(a);
  const redirect = await rpc(sim, b, 'session.login_with_password', ['root', 'simulated', '1.0', 'test']);
  t.same(
    redirect,
    { jsonrpc: '2.0', error: { code: 1, message: 'HOST_IS_SLAVE', data: [a.address] }, id: 1 },
    'HOST_IS_SLAVE names the dead master (pool.conf)',
  );
  t.equal(code(await rpc(sim, b, 'host.get_all', [session], 600)), 'timeout', "a pool session's check needs the master's database: it stalls");
  const rrd = await fetch(`${sim.server.urlOf(b)}/rrd_updates?start=-10&host=true&json=true&session_id=${session}`, { signal: AbortSignal.timeout(600) }).then(
    (r) => r.status,
    (e: Error) => e.name,
  );
  t.equal(rrd, 'TimeoutError', "a member's /rrd_updates validates the session in the master's database: it stalls too");
  t.equal(code(await rpc(sim, b, 'session.slave_local_login_with_password', ['root', 'wrong'])), 'SESSION_AUTHENTICATION_FAILED');
  const local = await localLogin(b);
  t.equal(result(await rpc(sim, b, 'pool.is_slave', [local, b.ref])), true);
  t.equal(result(await rpc(sim, b, 'host.is_in_emergency_mode', [local])), false, 'a running member is not in emergency mode');
  t.equal(code(await rpc(sim, a, 'pool.is_slave', [local, a.ref], 400)), 'timeout', 'the hung master answers nothing');
  t.equal(code(await rpc(sim, sim.pool.hosts[2]!, 'pool.is_slave', [local, b.ref])), 'SESSION_INVALID', 'a local session is good on its own host only');
  t.equal(code(await rpc(sim, b, 'host.get_all', [local], 600)), 'timeout', 'other calls on a local session still need the database');
  t.equal(code(await rpc(sim, b, 'pool.emergency_transition_to_master', [session])), 'SESSION_INVALID', 'emergency calls need a local session');
});

t.test('promote a member, recover the others, reset the old master VMs, start them elsewhere', async (t) => {
  const { sim, a, b, c, login, localLogin, fail } = await rig(t);
  const aVms = (sim.pool.store.get('host', a.ref)!.resident_VMs as string[]).filter((r) => !sim.pool.store.get('VM', r)!.is_control_domain);
  await fail(a);
  const local = await localLogin(b);
  t.same(result(await rpc(sim, b, 'pool.emergency_transition_to_master', [local])), '');
  await until(
    'the member to restart as master',
    async () => code(await rpc(sim, b, 'session.login_with_password', ['root', 'simulated', '1.0', 't'])) === 'ok',
  );
  const promotedAt = Date.now();
  t.equal(sim.pool.master, b, 'the database names the new master (dbsync_master)');
  const session = await login(b);
  const oldLive = result(await rpc(sim, b, 'host_metrics.get_live', [session, sim.pool.store.get('host', a.ref)!.metrics]));
  t.ok(
    oldLive === true || Date.now() - promotedAt >= FAST.hostDeadAfterMs,
    'the dead old master is still live in the new master view until its heartbeat deadline',
  );
  t.same(
    await rpc(sim, c, 'session.login_with_password', ['root', 'simulated', '1.0', 't']),
    { jsonrpc: '2.0', error: { code: 1, message: 'HOST_IS_SLAVE', data: [a.address] }, id: 1 },
    'an unrecovered member still names the old master',
  );
  const reset = await rpc(sim, b, 'VM.power_state_reset', [session, aVms[0]]);
  t.equal(code(reset), 'ok', 'power_state_reset: the old master is marked live but does not answer when asked (is_host_alive)');
  const started = Date.now();
  const recovered = result<string[]>(await rpc(sim, b, 'pool.recover_slaves', [session], 3000));
  t.same(recovered, [c.ref], 'recover_slaves returns the hosts it reset, not the dead one');
  t.ok(Date.now() - started >= FAST.remoteTimeoutMs - 20, 'the hung old master cost the call a timeout');
  await until(
    'the recovered member to follow the new master',
    async () =>
      code(await rpc(sim, c, 'session.login_with_password', ['root', 'simulated', '1.0', 't'])) === 'HOST_IS_SLAVE' && sim.pool.roles.reachesMaster(c),
  );
  t.same(await rpc(sim, c, 'session.login_with_password', ['root', 'simulated', '1.0', 't']), {
    jsonrpc: '2.0',
    error: { code: 1, message: 'HOST_IS_SLAVE', data: [b.address] },
    id: 1,
  });
  const rrd = await fetch(`${sim.server.urlOf(c)}/rrd_updates?start=-10&host=true&json=true&session_id=${session}`, { signal: AbortSignal.timeout(2000) });
  t.equal(rrd.status, 200, "the recovered member's /rrd_updates answers again");
  t.equal(code(await rpc(sim, b, 'VM.start_on', [session, aVms[0], c.ref, false, false])), 'ok', 'the reset VM starts on a survivor');
  await until('the old master to be declared dead', async () => !sim.pool.isLive(a.ref));
  for (const vm of aVms.slice(1)) t.equal(code(await rpc(sim, b, 'VM.power_state_reset', [session, vm])), 'ok');
  const status = (await (await fetch(`${sim.controlUrl}/sim`)).json()) as { masters: string[] };
  t.same(status.masters, [b.address], 'one master');

  // The old master boots: it still believes it is master, finds the new one (check_no_other_masters) and follows it.
  sim.pool.powerOn(a);
  await sim.server.sync();
  t.same(sim.pool.roles.roleOf(a), { kind: 'slave', master: b.address }, 'the old master demoted itself');
  t.same(sim.pool.roles.masters(), [b]);
  t.same(await rpc(sim, a, 'session.login_with_password', ['root', 'simulated', '1.0', 't']), {
    jsonrpc: '2.0',
    error: { code: 1, message: 'HOST_IS_SLAVE', data: [b.address] },
    id: 1,
  });
});

t.test('trap: an old master that resumes without a reboot still acts as master; emergency_reset_master demotes it', async (t) => {
  const { sim, a, b, localLogin, fail } = await rig(t);
  await fail(a);
  await rpc(sim, b, 'pool.emergency_transition_to_master', [await localLogin(b)]);
  await until('the new master', () => sim.pool.master === b && sim.pool.answers(b));
  const resumed = await fetch(`${sim.controlUrl}/sim/hosts/${a.address}/heal`, { method: 'POST' });
  t.equal(resumed.status, 200);
  t.same(
    ((await (await fetch(`${sim.controlUrl}/sim`)).json()) as { masters: string[] }).masters.sort(),
    [a.address, b.address].sort(),
    'two masters: nothing restarted, so nothing checked',
  );
  t.equal(code(await rpc(sim, a, 'session.login_with_password', ['root', 'simulated', '1.0', 't'])), 'ok', 'the old master accepts logins');
  const local = await localLogin(a);
  t.equal(code(await rpc(sim, a, 'pool.emergency_reset_master', [local, b.address])), 'ok', 'emergency_reset_master works on a master too');
  await until('the old master to restart as a slave', () => sim.pool.roles.roleOf(a).kind === 'slave' && !sim.pool.roles.isRestarting(a));
  t.same(sim.pool.roles.masters(), [b], 'one master again');
  t.same(await rpc(sim, a, 'session.login_with_password', ['root', 'simulated', '1.0', 't']), {
    jsonrpc: '2.0',
    error: { code: 1, message: 'HOST_IS_SLAVE', data: [b.address] },
    id: 1,
  });
  t.equal(sim.pool.roles.inEmergencyMode(a), false, 'it reaches its new master');
});

t.test('a new master that cannot be seen at the old master boot: the old one carries on as master', async (t) => {
  const { sim, a, b, localLogin, fail } = await rig(t);
  await fail(a);
  await rpc(sim, b, 'pool.emergency_transition_to_master', [await localLogin(b)]);
  await until('the new master', () => sim.pool.master === b && sim.pool.answers(b));
  await fail(b);
  sim.pool.powerOn(a);
  await sim.server.sync();
  t.same(sim.pool.roles.roleOf(a), { kind: 'master' }, 'check_no_other_masters skips hosts that do not answer: "not a guarantee"');
  t.same(sim.pool.roles.roleOf(b), { kind: 'master' }, 'the hung new master still believes it is master');
  sim.pool.powerOn(b);
  await sim.server.sync();
  t.same(sim.pool.roles.roleOf(b), { kind: 'slave', master: a.address }, 'the new master, booting, found the old one answering and followed it');
  t.same(sim.pool.roles.masters(), [a]);
});

t.test('promoting while the old master still answers: the new one finds it at start and goes back to being a slave', async (t) => {
  const { sim, a, b, localLogin } = await rig(t);
  t.equal(code(await rpc(sim, b, 'pool.emergency_transition_to_master', [await localLogin(b)])), 'ok');
  await until('the member xapi to exit', () => sim.pool.roles.isRestarting(b), 3000);
  await until('the member xapi to start again', () => !sim.pool.roles.isRestarting(b) && sim.pool.answers(b), 3000);
  t.equal(sim.pool.master, a, 'the live master keeps the pool');
  t.same(sim.pool.roles.roleOf(b), { kind: 'slave', master: a.address });
});

t.test('a member whose xapi restarts while the master is dead runs in emergency mode; HA refuses the transition', async (t) => {
  const { sim, a, b, c, localLogin, fail } = await rig(t);
  await fail(a);
  sim.pool.killToolstack(c);
  sim.pool.restartToolstack(c);
  await sim.server.sync();
  const answer = await rpc(sim, c, 'session.login_with_password', ['root', 'simulated', '1.0', 't']);
  t.equal(code(answer), 'INTERNAL_ERROR', 'a member in emergency mode answers its emergency error, not HOST_IS_SLAVE');
  t.equal(result(await rpc(sim, c, 'host.is_in_emergency_mode', [await localLogin(c)])), true);
  sim.pool.store.mod('pool', sim.pool.poolRef, { ha_enabled: true });
  t.equal(code(await rpc(sim, b, 'pool.emergency_transition_to_master', [await localLogin(b)])), 'HA_IS_ENABLED');
});

t.test('recover_slaves answers the hosts it reset newest first, as xapi builds its list; with HA armed it resets none', async (t) => {
  const sim = await startSim({ ...FAST, size: { hosts: 4, vmsPerHost: 1, disksPerVm: 1, vifsPerVm: 1, vcpusPerVm: 1, hostCpus: 2 } });
  t.teardown(() => sim.stop());
  const [a, b, c, d] = sim.pool.hosts as [HostRuntime, HostRuntime, HostRuntime, HostRuntime];
  sim.pool.failHost(a);
  await sim.server.sync();
  const local = result<string>(await rpc(sim, b, 'session.slave_local_login_with_password', ['root', 'simulated']));
  await rpc(sim, b, 'pool.emergency_transition_to_master', [local]);
  await until('b to answer as master', async () => code(await rpc(sim, b, 'session.login_with_password', ['root', 'simulated', '1.0', 't'])) === 'ok');
  const session = result<string>(await rpc(sim, b, 'session.login_with_password', ['root', 'simulated', '1.0', 't']));
  sim.pool.store.mod('pool', sim.pool.poolRef, { ha_enabled: true });
  t.same(result(await rpc(sim, b, 'pool.recover_slaves', [session], 3000)), [], 'HA armed: every remote emergency_reset_master refuses');
  t.same(sim.pool.roles.roleOf(c), { kind: 'slave', master: a.address }, 'nothing reset');
  sim.pool.store.mod('pool', sim.pool.poolRef, { ha_enabled: false });
  t.same(result(await rpc(sim, b, 'pool.recover_slaves', [session], 3000)), [d.ref, c.ref], 'xapi prepends each host it reset (hosts in database order: c, d)');
  await until('c and d to follow b', () => [c, d].every((h) => sim.pool.roles.roleOf(h).kind === 'slave' && sim.pool.roles.reachesMaster(h)));
  t.same(
    [c, d].map((h) => sim.pool.roles.roleOf(h)),
    [
      { kind: 'slave', master: b.address },
      { kind: 'slave', master: b.address },
    ],
  );
});
