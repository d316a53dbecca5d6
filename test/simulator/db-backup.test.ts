// The members' copies of the pool database (simulator/db-backup.ts): a promoted member starts on its copy, each xapi
// start resyncs the VMs it runs against the database (faults/host.ts resyncResidentOn), pool.sync_database refreshes
// every copy, and each host's /rrd_updates lists the domains it runs whatever the database says.
import t, { type Test } from 'tap';
import { waitFor } from '../../core/concurrency.js';
import type { Ref } from '../../simulator/model/types.js';
import type { HostRuntime } from '../../simulator/pool.js';
import type { Simulation } from '../../simulator/run.js';
import { startSim } from '../helpers/sim.js';

const FAST = { xapiFuseMs: 100, xapiStartMs: 300, xapiResyncMs: 300, remoteTimeoutMs: 300, hostDeadAfterMs: 60_000 };

async function rpc<T>(sim: Simulation, h: HostRuntime, method: string, params: unknown[]): Promise<T> {
  const res = await fetch(`${sim.server.urlOf(h)}/jsonrpc`, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }) });
  const answer = (await res.json()) as { result?: T; error?: { message: string } };
  if (answer.error) throw new Error(`${method}: ${answer.error.message}`);
  return answer.result as T;
}

async function rig(t: Test) {
  const sim = await startSim(FAST);
  t.teardown(() => sim.stop());
  const [a, b, c] = sim.pool.hosts as [HostRuntime, HostRuntime, HostRuntime];
  const { pool } = sim;
  const guests = (h: HostRuntime) => (pool.store.get('host', h.ref)!.resident_VMs as Ref[]).filter((r) => !pool.store.get('VM', r)!.is_control_domain);
  const placement = (vm: Ref) => ({ power: pool.store.get('VM', vm)!.power_state, on: pool.store.get('VM', vm)!.resident_on });
  const session = await rpc<string>(sim, a, 'session.login_with_password', ['root', 'simulated', '1.0', 'test']);
  /** hard_shutdown then start_on `to`, through the master. */
  const move = async (vm: Ref, to: HostRuntime) => {
    await rpc(sim, a, 'VM.hard_shutdown', [session, vm]);
    await rpc(sim, a, 'VM.start_on', [session, vm, to.ref, false, false]);
  };
  /** The master hangs; `b` is promoted (local login, emergency_transition_to_master) and answers as master. */
  const promoteB = async () => {
    pool.failHost(a);
    await sim.server.sync();
    const local = await rpc<string>(sim, b, 'session.slave_local_login_with_password', ['root', 'simulated']);
    await rpc(sim, b, 'pool.emergency_transition_to_master', [local]);
    await waitFor('b to act as master', () => pool.roles.masters().includes(b), { timeoutMs: 8000, everyMs: 20 });
    return rpc<string>(sim, b, 'session.login_with_password', ['root', 'simulated', '1.0', 'test']);
  };
  /** The VM uuids of a host's /rrd_updates legend. */
  const rrdVms = async (h: HostRuntime, s: string) => {
    const res = await fetch(`${sim.server.urlOf(h)}/rrd_updates?start=-10&json=true&session_id=${s}`);
    const body = (await res.json()) as { meta: { legend: string[] } };
    return new Set(body.meta.legend.filter((l) => l.startsWith('AVERAGE:vm:')).map((l) => l.split(':')[2]!));
  };
  const uuid = (vm: Ref) => pool.store.get('VM', vm)!.uuid as string;
  return { sim, pool, a, b, c, guests, placement, session, move, promoteB, rrdVms, uuid };
}

t.test('a promoted member starts on its old copy; its own resync then shuts down what the copy places elsewhere', async (t) => {
  const { pool, a, b, c, guests, placement, move, promoteB, rrdVms, uuid } = await rig(t);
  const [offMaster] = guests(a);
  const [ontoMaster] = guests(c);
  const [ontoB] = guests(a).slice(1);
  await move(offMaster!, c);
  await move(ontoMaster!, a);
  await move(ontoB!, b);
  t.same(placement(offMaster!), { power: 'Running', on: c.ref }, 'moved off the master, in the master database');
  const session = await promoteB();
  // Rolled back to the copy b took at build: what moved since is where it was.
  t.same(placement(offMaster!), { power: 'Running', on: a.ref }, 'the new master places the VM moved off the old master on it again');
  t.same(placement(ontoMaster!).on, c.ref, 'and the VM moved onto the old master on c');
  t.same(pool.truth.hostsRunning(offMaster!), [c.ref], 'c still runs it (nothing told c)');
  t.ok((await rrdVms(b, session)).has(uuid(ontoB!)), "b's rrdd lists the domain it runs before its resync");
  await waitFor('b to resync', () => pool.truth.hostsRunning(ontoB!).length === 0, { timeoutMs: 5000, everyMs: 20 });
  t.same(
    placement(ontoB!),
    { power: 'Running', on: a.ref },
    "b's resync shut down the domain its database places on the old master; the database still says so",
  );
  t.notOk((await rrdVms(b, session)).has(uuid(ontoB!)), "and b's rrdd no longer lists it");
});

t.test('a recovered member answers first, then its resync shuts down what the copy places elsewhere and halts what it does not run', async (t) => {
  const { sim, pool, a, b, c, guests, placement, move, promoteB, rrdVms, uuid } = await rig(t);
  const [offMaster] = guests(a);
  const [ontoMaster] = guests(c);
  await move(offMaster!, c);
  await move(ontoMaster!, a);
  const session = await promoteB();
  const reset = await rpc<Ref[]>(sim, b, 'pool.recover_slaves', [session]);
  t.ok(reset.includes(c.ref), 'recover_slaves reset c');
  await waitFor('c to answer as a member of b', () => pool.answers(c) && pool.roles.roleOf(c).kind === 'slave' && pool.roles.reachesMaster(c), {
    timeoutMs: 8000,
    everyMs: 10,
  });
  t.same(pool.truth.hostsRunning(offMaster!), [c.ref], 'answering, c has not resynced yet: it still runs the VM its database places on the old master');
  t.ok((await rrdVms(c, session)).has(uuid(offMaster!)), "c's rrdd lists it, the database places it on a");
  t.notOk((await rrdVms(c, session)).has(uuid(ontoMaster!)), "c's rrdd does not list the VM its database places there");
  await waitFor('c to resync', () => pool.truth.hostsRunning(offMaster!).length === 0, { timeoutMs: 5000, everyMs: 20 });
  t.same(placement(ontoMaster!), { power: 'Halted', on: 'OpaqueRef:NULL' }, 'the VM c did not run is Halted (it ran on the old master)');
  t.same(placement(offMaster!), { power: 'Running', on: a.ref }, 'the domain c ran was shut down; the database still places it on a');
});

t.test('pool.sync_database gives every member the database as it is: nothing rolls back', async (t) => {
  const { sim, pool, a, c, guests, placement, session, move, promoteB } = await rig(t);
  const [offMaster] = guests(a);
  await move(offMaster!, c);
  t.equal(await rpc(sim, a, 'pool.sync_database', [session]), '');
  await promoteB();
  t.same(placement(offMaster!), { power: 'Running', on: c.ref }, 'the promoted copy is current');
  t.same(pool.truth.hostsRunning(offMaster!), [c.ref]);
});

t.test('with HA enabled, pool.sync_database flushes to the metadata VDI and refreshes no member’s copy', async (t) => {
  const { sim, pool, a, c, guests, placement, session, move, promoteB } = await rig(t);
  const [offMaster] = guests(a);
  await move(offMaster!, c);
  pool.store.mod('pool', pool.poolRef, { ha_enabled: true });
  t.equal(await rpc(sim, a, 'pool.sync_database', [session]), '');
  // HA refuses an emergency transition (HA_IS_ENABLED): disabled again, the copies are as they were.
  pool.store.mod('pool', pool.poolRef, { ha_enabled: false });
  await promoteB();
  t.same(placement(offMaster!), { power: 'Running', on: a.ref }, 'the promoted copy still places the VM on the old master');
});

t.test('the backup thread refreshes the members’ copies every interval', async (t) => {
  const sim = await startSim({ ...FAST, dbBackupIntervalMs: 200 });
  t.teardown(() => sim.stop());
  const { pool } = sim;
  const [a, b] = pool.hosts as [HostRuntime, HostRuntime];
  const session = await rpc<string>(sim, a, 'session.login_with_password', ['root', 'simulated', '1.0', 'test']);
  const vm = (pool.store.get('host', a.ref)!.resident_VMs as Ref[]).find((r) => !pool.store.get('VM', r)!.is_control_domain)!;
  await rpc(sim, a, 'VM.hard_shutdown', [session, vm]);
  // Two intervals: both members got a copy with the VM halted.
  await new Promise((r) => setTimeout(r, 500));
  pool.failHost(a);
  await sim.server.sync();
  const local = await rpc<string>(sim, b, 'session.slave_local_login_with_password', ['root', 'simulated']);
  await rpc(sim, b, 'pool.emergency_transition_to_master', [local]);
  await waitFor('b to act as master', () => pool.roles.masters().includes(b), { timeoutMs: 8000, everyMs: 20 });
  t.equal(pool.store.get('VM', vm)!.power_state, 'Halted', 'the refreshed copy has the shutdown');
});
