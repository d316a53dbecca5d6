// Safety matrix: the failed host's BMC cannot prove the fence — unreachable, lying "off", or hanging. Nothing may
// restart while the host may still run its VMs: the notification waits for a person (fence_confirmation); once the
// operator has powered the host off by hand and confirmed it, the VMs run elsewhere.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fire, hostDownAlert, waitUntil } from '../recovery-hooks/helpers/sim-rig.js';
import {
  BMC_CLI,
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
import { tempDir } from '../helpers/tmp.js';

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

// A fence command that is a wrapper script: its child runs the real power-off 4 s later, while the wrapper itself
// outlives the 2 s command timeout. Killing only the wrapper leaves the child to power the host off later — by
// then the host is back and healthy. The whole process group must die with the timeout.
const wrapperDir = tempDir('xcp-safety-bmc-');
const wrapper = join(wrapperDir, 'slow-bmc.sh');
writeFileSync(wrapper, '#!/bin/sh\n( sleep 4; exec "$@" ) &\nsleep 60\n', { mode: 0o755 });

scenario({
  name: 'BMC command timed out, its power-off delayed',
  expected: 'the timed-out command dies with its children: the host, back meanwhile, is never powered off',
  rig: {
    fencing: (control) => ({
      power_off_command: `${wrapper} ${BMC_CLI} power-off {bmc} --control ${control} --ipmitool-output`,
      command_timeout_seconds: 2,
      confirm_timeout_seconds: 1,
    }),
  },
  async run(ctx) {
    const { t, rig } = ctx;
    const victim = memberWithVms(rig);
    await failHost(ctx, victim);
    const uuid = await fire(rig.hook!, hostDownAlert(rig, victim));
    const n = await untilSettledOrWaiting(rig.hook!, uuid);
    t.ok(n.operator_wait || n.status !== 'finished', `the fence was not proven (${describe(n)})`);
    // The host comes back; a late power-off from the timed-out command would now hit a healthy host.
    await rig.control(`/sim/hosts/${victim.name}/heal`, {});
    const landed = await waitUntil('a late power-off', () => rig.sim.pool.truth.powerOffs.some((p) => p.host === victim.ref), 8000, 50).then(
      () => true,
      () => false,
    );
    t.notOk(landed, 'no power-off landed after the timeout');
    t.ok(ctx.runtime(victim).powered, 'the host is still on');
    return `${describe(n)}; ${landed ? 'a late power-off LANDED' : 'no late power-off in 8 s'}`;
  },
});
