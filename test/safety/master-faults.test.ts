// Safety matrix: a pool master failover that cannot go as planned (recovery-hooks/workflows/master.ts) — hosts that
// disagree about who is master, a refused local login, a promoted member that never comes back, a promoted member whose
// database copy is older than the last VM moves. Besides the
// monitor's three counts, each scenario samples how many hosts act as master every 20 ms (never more than one) and
// counts the promotions the simulated hosts accept.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../../core/concurrency.js';
import type { HostRuntime } from '../../simulator/pool.js';
import { tempDir } from '../recovery-hooks/helpers/harness.js';
import { type Rig, type SimHost, fire, masterLostAlert, notification, progressLines, taskStates, waitUntil } from '../recovery-hooks/helpers/sim-rig.js';
import { DEFAULT_SIZE } from '../../simulator/model/build.js';
import { MASTER_FAILOVER, MASTER_RIG, MASTER_SIM, countCalls, loseMaster, observe } from './helpers/master.js';
import { confirmFenced, describe, runElsewhere, runOnce, scenario, untilSettled, untilSettledOrWaiting } from './helpers/scenario.js';

/** One JSON-RPC call at a simulated host's own address (what an operator's `xe` on that host does). */
async function callAt(rig: Rig, h: HostRuntime, method: string, params: unknown[]): Promise<unknown> {
  const res = await fetch(`${rig.sim.server.urlOf(h)}/jsonrpc`, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }) });
  const answer = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (answer.error) throw new Error(`${method}: ${answer.error.message}`);
  return answer.result;
}

/** Wait until the notification waits again after an operator's confirmation (a new open wait, since then). */
async function untilWaitingAgain(rig: Rig, uuid: string, confirmedAt: number): Promise<any> {
  return waitUntil(
    `notification ${uuid} to wait for an operator again`,
    async () => {
      const n = await notification(rig.hook!, uuid);
      return n.operator_wait && Date.parse(n.operator_wait.since) >= confirmedAt ? n : undefined;
    },
    60_000,
    100,
  );
}

const members = (rig: Rig, master: SimHost) =>
  rig.hosts
    .filter((h) => h.uuid !== master.uuid)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((h) => ({ host: h, runtime: rig.sim.pool.findHost(h.name)! }));

scenario({
  name: 'pool master lost while a member already claims to be master',
  expected:
    'someone promoted a member by hand and left the other on the old master: the receiver fences and promotes nothing, waits for an operator (master_failover) naming each host’s answer',
  rig: MASTER_RIG,
  async run(ctx) {
    const { t, rig } = ctx;
    const { watch, promotions } = observe(ctx);
    const { master } = await loseMaster(ctx);
    const [first, second] = members(rig, master);
    // The half-done manual failover: the first member promoted, recover_slaves never run.
    const local = await callAt(rig, first!.runtime, 'session.slave_local_login_with_password', ['root', 'simulated']);
    await callAt(rig, first!.runtime, 'pool.emergency_transition_to_master', [local]);
    await waitUntil('the member to act as master', () => rig.sim.pool.roles.masters().includes(first!.runtime), 20_000, 20);
    const uuid = await fire(rig.hook!, masterLostAlert(rig, master));
    const n = await untilSettledOrWaiting(rig.hook!, uuid, 60_000);
    t.equal(n.operator_wait?.kind, 'master_failover', describe(n));
    t.match(
      n.operator_wait?.reason,
      new RegExp(
        `^the hosts of pool ${rig.poolName} disagree about who is master \\(.*${first!.host.name}: master.*${second!.host.name}: member of ${master.address.replace(/\./g, '\\.')}.*\\): nothing fenced or promoted`,
      ),
    );
    t.ok(
      progressLines(n).some((l) => l.startsWith('confirm_master_lost: waiting for an operator (master_failover): the hosts of pool')),
      'in the progress',
    );
    t.same(rig.calls.powerOffs, [], 'nothing fenced');
    t.same(promotions, [first!.host.name], 'no promotion but the manual one');
    t.same(rig.sim.pool.roles.roleOf(second!.runtime), { kind: 'slave', master: master.address }, 'the other member untouched');
    t.equal(watch.most(), 1, 'never two masters');
    return `${describe(n)}; nothing fenced; ${promotions.length} promotion (the manual one); at most ${watch.most()} master`;
  },
});

const passwordDir = tempDir();
const passwordFile = join(passwordDir, 'root.password');
writeFileSync(passwordFile, 'wrong-local-password-4711\n');
const { password: _password, ...failoverWithoutPassword } = MASTER_FAILOVER;

scenario({
  name: 'pool master lost with a wrong local password',
  expected:
    'old master fenced, nothing promoted: waits for an operator (master_failover) naming SESSION_AUTHENTICATION_FAILED, the password nowhere; password file fixed and confirmed: one promotion, VMs elsewhere once',
  rig: { ...MASTER_RIG, pool: { master_failover: { ...failoverWithoutPassword, password_file: passwordFile } } },
  async run(ctx) {
    const { t, rig } = ctx;
    const { watch, promotions } = observe(ctx);
    const { master, vms } = await loseMaster(ctx);
    const uuid = await fire(rig.hook!, masterLostAlert(rig, master));
    const waiting = await untilSettledOrWaiting(rig.hook!, uuid, 90_000);
    t.equal(waiting.operator_wait?.kind, 'master_failover', describe(waiting));
    t.match(waiting.operator_wait?.reason, /^xcp-host-\d+ refuses the local login of root \(SESSION_AUTHENTICATION_FAILED\): nothing promoted/);
    t.match(taskStates(waiting), { fence_master: 'SUCCESS', choose_member: 'SUCCESS', promote_member: 'RUNNING', recover_members: 'PENDING' });
    t.same(promotions, [], 'nothing promoted');
    t.same(rig.sim.pool.roles.masters(), [], 'no master');
    const metrics = await (await fetch(`${rig.hook!.url}/metrics`)).text();
    for (const [where, text] of [
      ['the notification', JSON.stringify(waiting)],
      ["the receiver's log (debug)", JSON.stringify(rig.hook!.logger.lines)],
      ['the metrics', metrics],
    ] as const)
      t.notOk(text.includes('wrong-local-password-4711'), `the password is not in ${where}`);

    // The operator fixes the password file and confirms: the failover goes on without a restart.
    writeFileSync(passwordFile, 'simulated\n');
    t.equal((await confirmFenced(rig.hook!, uuid, master.uuid)).status, 202);
    const n = await untilSettled(rig.hook!, uuid, 120_000);
    t.equal(n.status, 'finished', describe(n));
    t.equal(promotions.length, 1, `one promotion (${promotions.join(', ')})`);
    const moved = runElsewhere(ctx, vms, master);
    t.equal(moved, vms.length, 'every VM of the old master runs on another host');
    t.notOk(JSON.stringify(rig.hook!.logger.lines).includes('simulated"'), 'the right password is not logged either');
    t.equal(watch.most(), 1, 'never two masters');
    return `waited (master_failover: SESSION_AUTHENTICATION_FAILED), 0 promotions; after the fix: ${describe(n)}; ${moved}/${vms.length} VMs elsewhere`;
  },
});

scenario({
  name: 'pool master lost, the promoted member never comes back',
  expected:
    'its transition is accepted, its xapi never answers: waits for an operator (master_failover) after promote_timeout_seconds; confirmed, it waits again and promotes no other member; once it answers: finished, VMs elsewhere once',
  rig: { ...MASTER_RIG, pool: { master_failover: { ...MASTER_FAILOVER, promote_timeout_seconds: 5 } } },
  async run(ctx) {
    const { t, rig } = ctx;
    const { watch, promotions } = observe(ctx);
    // The promoted member's xapi exits after the fuse and does not start again (a healthy host: powering it off, or
    // promoting another member while it may come back as master, would both be wrong).
    const roles = rig.sim.pool.roles;
    const started = roles.xapiStarted.bind(roles);
    let stuck: HostRuntime | undefined;
    roles.xapiStarted = (h) => {
      if (promotions.length === 1 && !stuck && rig.sim.pool.store.get('host', h.ref)!.name_label === promotions[0]) {
        stuck = h;
        rig.sim.pool.killToolstack(h);
        rig.sim.pool.wireChanged();
        return;
      }
      started(h);
    };
    const { master, vms } = await loseMaster(ctx);
    const uuid = await fire(rig.hook!, masterLostAlert(rig, master));
    const first = await untilSettledOrWaiting(rig.hook!, uuid, 90_000);
    t.equal(first.operator_wait?.kind, 'master_failover', describe(first));
    t.match(
      first.operator_wait?.reason,
      /^xcp-host-\d+ does not answer as pool master within master_failover\.promote_timeout_seconds \(5 s\) of its promotion: no other member is promoted/,
    );
    t.ok(stuck, 'the promoted member is the one that did not come back');
    t.same(promotions.length, 1);
    t.same(rig.sim.pool.roles.masters(), [], 'no master meanwhile');

    const confirmedAt = Date.now();
    t.equal((await confirmFenced(rig.hook!, uuid, master.uuid)).status, 202, 'the operator looks again');
    const again = await untilWaitingAgain(rig, uuid, confirmedAt);
    t.match(again.operator_wait?.reason, /does not answer as pool master within/);
    t.same(promotions.length, 1, 'still one promotion: no other member chosen');
    for (const m of members(rig, master).filter((m) => m.runtime !== stuck))
      t.same(rig.sim.pool.roles.roleOf(m.runtime), { kind: 'slave', master: master.address }, `${m.host.name} untouched`);

    // Its xapi is started by hand: it comes up as master (its pool.conf), and a confirmation finishes the failover.
    await rig.control(`/sim/hosts/${promotions[0]}/restart-toolstack`, {});
    await waitUntil('the promoted member to act as master', () => rig.sim.pool.roles.masters().includes(stuck!), 20_000, 20);
    t.equal((await confirmFenced(rig.hook!, uuid, master.uuid)).status, 202);
    const n = await untilSettled(rig.hook!, uuid, 120_000);
    t.equal(n.status, 'finished', describe(n));
    t.equal(promotions.length, 1, 'one promotion in all');
    t.same(rig.calls.powerOffs, [master.name], 'only the old master fenced');
    const moved = runElsewhere(ctx, vms, master);
    t.equal(moved, vms.length, 'every VM of the old master runs on another host');
    t.equal(watch.most(), 1, 'never two masters');
    return `waited twice (master_failover), 1 promotion; after its xapi started: ${describe(n)}; ${moved}/${vms.length} VMs elsewhere`;
  },
});

scenario({
  name: 'pool master lost after VMs moved since the members’ database copies',
  expected:
    'the promoted member starts on its old copy: a VM moved off the old master still shows there while a member runs it — reset before the members restart, it is claimed by its member’s resync and keeps running (same guest run), nothing started until every host’s RRDs agree with the database; a VM moved onto the old master and one started there since the copy (halted in it) are restarted from the receiver’s last read of the old master’s host record',
  // The receiver reads the pool's host records every half second (a minute by default), so that its last read before
  // the loss is the one after the moves.
  rig: { ...MASTER_RIG, hook: { ...MASTER_RIG.hook, hostRefreshMs: 500 } },
  async run(ctx) {
    const { t, rig } = ctx;
    const master = rig.hosts.find((h) => h.master)!;
    const { watch, promotions } = observe(ctx);
    const reads = countCalls(rig, 'host.get_all_records');
    // Members by name: the first is promoted (choose_member), the second is pointed at it by recover_slaves.
    const recovered = members(rig, master)[1]!.host;
    const [away, started] = rig.residentVms(master);
    const [onto] = rig.residentVms(recovered);
    // `started` is halted when every member's copy is taken (pool.sync_database), and started on the master after.
    await rig.xapi.call('VM.hard_shutdown', started!.ref);
    await rig.xapi.call('pool.sync_database');
    // After the copies: one VM leaves the master, one joins it, one starts there.
    const move = async (vm: { ref: string }, to: { ref: string }) => {
      await rig.xapi.call('VM.hard_shutdown', vm.ref);
      await rig.xapi.call('VM.start_on', vm.ref, to.ref, false, false);
    };
    await move(away!, recovered);
    await move(onto!, master);
    await rig.xapi.call('VM.start_on', started!.ref, master.ref, false, false);
    const run = rig.sim.pool.truth.guestRun(away!.ref);
    // The receiver's host directory reads again only once its last read is answered: when the second read after the
    // moves starts, the first, which saw them, is kept.
    const since = reads();
    await waitUntil('the receiver to read the host records after the moves', () => reads() >= since + 2, 30_000, 20);
    const { vms } = await loseMaster(ctx);
    const uuid = await fire(rig.hook!, masterLostAlert(rig, master));
    const n = await untilSettledOrWaiting(rig.hook!, uuid, 120_000);
    t.equal(n.status, 'finished', describe(n));
    t.equal(promotions.length, 1, 'one promotion');
    const lines = progressLines(n);
    t.ok(
      lines.some((l) =>
        new RegExp(`^confirm_master_lost: the receiver's last read of ${master.name}'s host record, \\d+ s ago, lists ${vms.length + 1} VM\\(s\\)`).test(l),
      ),
      `the last read, after the moves, is kept with the loss (${lines.filter((l) => l.startsWith('confirm_master_lost')).join(' | ')})`,
    );
    for (const vm of [onto!, started!])
      t.ok(
        lines.some(
          (l) =>
            l.startsWith(`verify_vm_placement: VM ${vm.name} ran on ${master.name} when the receiver last read its host record`) &&
            l.endsWith('restarted with the plan'),
        ),
        `${vm.name} is restarted from the last read (${lines.filter((l) => l.startsWith('verify_vm_placement')).join(' | ')})`,
      );
    t.equal(runOnce(ctx, [away!]), 1, `${away!.name}, moved off the old master, runs once`);
    t.equal(rig.sim.pool.truth.guestRun(away!.ref), run, `${away!.name} was never shut down: the same guest run as before the loss`);
    t.equal(runOnce(ctx, [onto!, started!]), 2, `${onto!.name} and ${started!.name} run once each`);
    const moved = runElsewhere(ctx, vms, master);
    t.equal(moved, vms.length, 'every VM of the old master runs on another host');
    t.equal(watch.most(), 1, 'never two masters');
    return `${describe(n)}; ${away!.name} kept running on ${recovered.name}; ${onto!.name} (moved onto the old master) and ${started!.name} (started there since the copy) restarted from the receiver's last read; ${moved}/${vms.length} VMs elsewhere`;
  },
});

scenario({
  name: 'pool master lost after a VM moved between two members since the database copies',
  expected:
    'the copy places the VM on the member it left: the member now running it shuts it down when its xapi restarts (resync_resident_on) — the receiver saw it running there, so once it runs nowhere it is restarted once with the plan; never on two hosts; a VM an operator shuts down meanwhile, where the database placed it, stays down',
  // Four hosts: two members besides the promoted one; their resync 5 s after their xapi starts, so the receiver's first
  // read sees the moved VM, and an operator acts while the task still waits.
  rig: { ...MASTER_RIG, sim: { ...MASTER_SIM, xapiResyncMs: 5000, size: { ...DEFAULT_SIZE, hosts: 4 } } },
  async run(ctx) {
    const { t, rig } = ctx;
    const master = rig.hosts.find((h) => h.master)!;
    const { watch, promotions } = observe(ctx);
    // `to` restarts (recover_slaves goes by host order) and resyncs first: the copy places the VM on `from`, a live
    // host, so `to` shuts it down. (Had `from` resynced first, the VM would be resident nowhere and `to` would claim it.)
    const [promotedHost, to, from] = members(rig, master).map((m) => m.host);
    const [vm] = rig.residentVms(from!);
    const [stopped] = rig.residentVms(promotedHost!);
    await rig.xapi.call('VM.hard_shutdown', vm!.ref);
    await rig.xapi.call('VM.start_on', vm!.ref, to!.ref, false, false);
    const run = rig.sim.pool.truth.guestRun(vm!.ref);
    const { vms } = await loseMaster(ctx);
    const uuid = await fire(rig.hook!, masterLostAlert(rig, master));
    // While the task waits for the members' resyncs (its first read done), an operator shuts down a VM of the new
    // master, where the database places it: no resync stops such a VM, so it must stay down.
    await waitUntil('verify_vm_placement to run', async () => taskStates(await notification(rig.hook!, uuid)).verify_vm_placement === 'RUNNING', 60_000, 20);
    await sleep(1500); // its first read (at once) done; the resyncs come 5 s after the xapi starts
    ctx.monitor.purposefullyStopped(stopped!.ref);
    rig.xapi.follow(rig.sim.pool.roles.masters()[0]!.address);
    await rig.xapi.call('VM.hard_shutdown', stopped!.ref);
    const n = await untilSettledOrWaiting(rig.hook!, uuid, 120_000);
    t.equal(n.status, 'finished', describe(n));
    t.equal(promotions.length, 1, 'one promotion');
    t.ok(
      progressLines(n).some((l) => l.startsWith(`verify_vm_placement: VM ${vm!.name} ran on ${to!.name} until xapi's resync there shut it down`)),
      'the shutdown by the resync is in the progress',
    );
    t.ok(
      progressLines(n).some((l) =>
        l.startsWith(`verify_vm_placement: VM ${stopped!.name} ran on ${promotedHost!.name}, where the database placed it, and is halted now`),
      ),
      'the operator’s shutdown is named in the progress',
    );
    t.same(rig.sim.pool.truth.hostsRunning(stopped!.ref), [], `${stopped!.name}, shut down by the operator, is not started again`);
    t.equal(runOnce(ctx, [vm!]), 1, `${vm!.name} runs once`);
    t.not(rig.sim.pool.truth.guestRun(vm!.ref), run, 'a new guest run: xapi shut the old one down, the receiver started it again');
    t.equal(runElsewhere(ctx, vms, master), vms.length, 'every VM of the old master runs on another host');
    t.equal(watch.most(), 1, 'never two masters');
    return `${describe(n)}; ${vm!.name}, moved ${from!.name} → ${to!.name}, shut down by ${to!.name}'s resync and restarted once; ${stopped!.name}, shut down by an operator meanwhile, left down`;
  },
});
