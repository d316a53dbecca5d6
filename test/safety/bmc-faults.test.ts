// Safety matrix: the failed host's BMC cannot prove the fence — unreachable, lying "off", or hanging. Nothing may
// restart while the host may still run its VMs: the notification waits for a person (fence_confirmation); once the
// operator has powered the host off by hand and confirmed it, the VMs run elsewhere.
import { fire, hostDownAlert } from '../recovery-hooks/helpers/sim-rig.js';
import { confirmFenced, describe, failHost, memberWithVms, pullPlug, runElsewhere, scenario, untilSettled, untilSettledOrWaiting, waitingGauge } from './helpers/scenario.js';

for (const mode of ['unreachable', 'lying-off', 'hang'] as const) {
  scenario({
    name: `BMC ${mode === 'lying-off' ? 'lying "off"' : mode}`,
    expected: 'waits for an operator (fence_confirmation), nothing restarted; after the host is powered off and confirm-fenced, every VM runs elsewhere',
    // A hanging BMC command is killed after command_timeout_seconds (room for the simulator CLI's start on a loaded box).
    rig: { fencing: { command_timeout_seconds: 8, confirm_timeout_seconds: 3 } },
    async run(ctx) {
      const { t, rig } = ctx;
      const victim = memberWithVms(rig);
      const vms = rig.residentVms(victim);
      await rig.control(`/sim/hosts/${victim.name}/bmc`, { mode });
      await failHost(ctx, victim);
      const uuid = await fire(rig.hook!, hostDownAlert(rig, victim));
      const n = await untilSettledOrWaiting(rig.hook!, uuid);
      t.equal(n.operator_wait?.kind, 'fence_confirmation', `waits for an operator to confirm the fence (${describe(n)})`);
      t.equal(n.status, 'running', 'still running (Masakari status) while it waits');
      t.same(rig.calls.starts, [], 'no VM started');
      t.ok(ctx.runtime(victim).powered, 'the host is still powered (the BMC did nothing)');
      if (!n.operator_wait) return describe(n);
      t.equal(await waitingGauge(rig.hook!, victim, 'fence_confirmation'), 1, 'the gauge says it waits (alertable)');
      await pullPlug(ctx, victim);
      const confirmed = await confirmFenced(rig.hook!, uuid, victim.uuid);
      t.equal(confirmed.status, 202, 'confirm-fenced accepted');
      const after = await untilSettled(rig.hook!, uuid);
      t.equal(after.status, 'finished', describe(after));
      const moved = runElsewhere(ctx, vms, victim);
      t.equal(moved, vms.length, 'every VM runs elsewhere');
      return `waited (fence_confirmation); confirmed → ${describe(after)}; ${moved}/${vms.length} VMs elsewhere`;
    },
  });
}
