// Safety matrix: hosts that hang or are cut off, alone, two at once, or more than half of the pool.
import { fire, hostDownAlert } from '../recovery-hooks/helpers/sim-rig.js';
import {
  confirmFenced,
  describe,
  failHost,
  memberWithVms,
  pullPlug,
  runElsewhere,
  scenario,
  untilSettled,
  untilSettledOrWaiting,
  waitingGauge,
} from './helpers/scenario.js';

const FIVE_HOSTS = { sim: { size: { hosts: 5, vmsPerHost: 3, disksPerVm: 1, vifsPerVm: 1, vcpusPerVm: 1, hostCpus: 4 } } };

for (const how of ['fail', 'partition'] as const) {
  scenario({
    name: how === 'fail' ? 'host hang' : 'host partitioned but alive',
    expected: 'fenced by the BMC, every VM restarted elsewhere once',
    async run(ctx) {
      const { t, rig } = ctx;
      const victim = memberWithVms(rig);
      const vms = rig.residentVms(victim);
      await failHost(ctx, victim, how);
      const uuid = await fire(rig.hook!, hostDownAlert(rig, victim));
      const n = await untilSettledOrWaiting(rig.hook!, uuid);
      t.equal(n.status, 'finished', describe(n));
      t.same(rig.calls.powerOffs, [victim.name], 'fenced once, through its BMC');
      const moved = runElsewhere(ctx, vms, victim);
      t.equal(moved, vms.length, 'every VM runs on another host');
      return `${describe(n)}; fenced; ${moved}/${vms.length} VMs elsewhere`;
    },
  });
}

scenario({
  name: 'two hosts failing together',
  expected: 'one host fenced and recovered; the second waits for an operator (blast_radius, max_hosts_fenced 1), recovered after confirm-fenced',
  rig: FIVE_HOSTS,
  async run(ctx) {
    const { t, rig } = ctx;
    const a = memberWithVms(rig, 3);
    const b = memberWithVms(rig, 3, [a]);
    const vms = [...rig.residentVms(a), ...rig.residentVms(b)];
    await Promise.all([failHost(ctx, a), failHost(ctx, b)]);
    const uuids = [await fire(rig.hook!, hostDownAlert(rig, a)), await fire(rig.hook!, hostDownAlert(rig, b))];
    const ends = await Promise.all(uuids.map((u) => untilSettledOrWaiting(rig.hook!, u)));
    const waiting = ends.findIndex((n) => n.operator_wait);
    t.equal(ends.filter((n) => n.status === 'finished').length, 1, `one recovered at once (${ends.map(describe).join(' / ')})`);
    t.equal(ends[waiting]?.operator_wait?.kind, 'blast_radius', 'the other waits for an operator: blast radius');
    if (waiting < 0) return ends.map(describe).join(' / ');
    const held = [a, b][waiting]!;
    t.equal(await waitingGauge(rig.hook!, held, 'blast_radius'), 1, 'the gauge says it waits (alertable)');
    t.notOk(rig.calls.powerOffs.includes(held.name), 'the held host was not powered off');
    await pullPlug(ctx, held);
    t.equal((await confirmFenced(rig.hook!, uuids[waiting]!, held.uuid)).status, 202, 'confirm-fenced accepted');
    const after = await untilSettled(rig.hook!, uuids[waiting]!);
    t.equal(after.status, 'finished', describe(after));
    const moved = vms.length - vms.filter((vm) => rig.sim.pool.truth.hostsRunning(vm.ref).some((h) => h === a.ref || h === b.ref)).length;
    t.equal(moved, vms.length, 'every VM of both hosts runs elsewhere');
    return `one finished, one waited (blast_radius) then finished after confirm; ${moved}/${vms.length} VMs elsewhere`;
  },
});

scenario({
  name: 'more than half the pool reported down',
  expected: 'nothing fenced, nothing restarted: each notification waits for an operator (blast_radius)',
  rig: FIVE_HOSTS,
  async run(ctx) {
    const { t, rig } = ctx;
    // The management network splits: three members are healthy and run their VMs, but the master loses them.
    const cut = rig.hosts.filter((h) => !h.master).slice(0, 3);
    await Promise.all(cut.map((h) => failHost(ctx, h, 'partition', false)));
    const uuids = [];
    for (const h of cut) uuids.push(await fire(rig.hook!, hostDownAlert(rig, h)));
    const ends = await Promise.all(uuids.map((u) => untilSettledOrWaiting(rig.hook!, u)));
    t.same(rig.calls.powerOffs, [], 'no host powered off');
    t.same(rig.calls.starts, [], 'no VM started');
    t.same(
      ends.map((n) => n.operator_wait?.kind ?? n.status),
      cut.map(() => 'blast_radius'),
      'every one waits for an operator',
    );
    for (const h of cut) t.equal(await waitingGauge(rig.hook!, h, 'blast_radius'), 1, `the gauge says ${h.name} waits`);
    // The network heals: the hosts reconnect and keep their VMs (those still powered).
    for (const h of cut) if (ctx.runtime(h).powered) await rig.control(`/sim/hosts/${h.name}/heal`, {});
    return ends.map(describe).join(' / ');
  },
});

scenario({
  name: 'host reported down while only its toolstack is dead',
  expected: 'ignored: XAPI still sees the host live; nothing powered off, nothing restarted',
  async run(ctx) {
    const { t, rig } = ctx;
    const host = memberWithVms(rig);
    // xapi stops on the host (connections refused) but the host and its VMs run on, and it stays live in the master's
    // view: an alert calling it down (a scrape that failed) must not lead to a fence.
    ctx.monitor.fault(ctx.runtime(host), { mayFence: false });
    await rig.control(`/sim/hosts/${host.name}/kill-toolstack`, {});
    const uuid = await fire(rig.hook!, hostDownAlert(rig, host));
    const n = await untilSettledOrWaiting(rig.hook!, uuid);
    t.equal(n.status, 'ignored', describe(n));
    t.same(rig.calls.powerOffs, [], 'no host powered off');
    t.same(rig.calls.starts, [], 'no VM started');
    await rig.control(`/sim/hosts/${host.name}/restart-toolstack`, {});
    return describe(n);
  },
});
