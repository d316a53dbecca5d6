// Safety matrix: the failed host answers again at different moments of the recovery. The BMC answers slowly
// (1.5 s), so the host can come back while a command is in flight:
//  - before the fence: while the BMC is asked for the power status, the hung host thaws (no reboot) — it must not
//    be powered off, and its VMs keep running on it;
//  - during the power-off: the host thaws after the power-off was sent, before it lands — the power goes off, the
//    VMs recorded at confirmation are restarted elsewhere;
//  - right after the power-off landed, before the BMC confirmed it: the host boots again (resync halts what the
//    database lists on it) — its VMs are restarted all the same, none left down;
//  - after the fence completed: the host boots again while its VMs are restarted — none left down, none twice.
import { fire, hostDownAlert, notification, waitUntil } from '../recovery-hooks/helpers/sim-rig.js';
import { type ScenarioContext, describe, failHost, memberWithVms, runElsewhere, runOnce, scenario, untilSettledOrWaiting, whereVmsRun } from './helpers/scenario.js';

const SLOW_BMC_MS = 1500;

async function untilBmc(ctx: ScenarioContext, host: { ref: string }, command: 'power-off' | 'power-status'): Promise<void> {
  await waitUntil(`the BMC to be asked ${command}`, () => ctx.rig.sim.pool.truth.bmcCalls.some((c) => c.host === host.ref && c.command === command), 45_000, 10);
}

scenario({
  name: 'flapping host back before the fence',
  expected: 'not powered off; its VMs keep running on it, nothing restarted elsewhere',
  async run(ctx) {
    const { t, rig } = ctx;
    const victim = memberWithVms(rig);
    const vms = rig.residentVms(victim);
    await rig.control(`/sim/hosts/${victim.name}/bmc`, { mode: 'ok', delay_ms: SLOW_BMC_MS });
    await failHost(ctx, victim);
    const uuid = await fire(rig.hook!, hostDownAlert(rig, victim));
    await untilBmc(ctx, victim, 'power-status');
    await rig.control(`/sim/hosts/${victim.name}/heal`, {});
    const n = await untilSettledOrWaiting(rig.hook!, uuid);
    t.not(n.status, 'running', `the notification ended (${describe(n)})`);
    t.ok(ctx.runtime(victim).powered, 'the host that came back was not powered off');
    const where = whereVmsRun(ctx, vms);
    t.ok(Object.values(where).every((hosts) => hosts.length === 1 && hosts[0] === victim.name), `its VMs run on it: ${JSON.stringify(where)}`);
    return `${describe(n)}; host ${ctx.runtime(victim).powered ? 'kept on' : 'powered off'}`;
  },
});

scenario({
  name: 'flapping host back during the power-off',
  expected: 'the power-off lands; the VMs recorded at confirmation restarted elsewhere',
  async run(ctx) {
    const { t, rig } = ctx;
    const victim = memberWithVms(rig);
    const vms = rig.residentVms(victim);
    await rig.control(`/sim/hosts/${victim.name}/bmc`, { mode: 'ok', delay_ms: SLOW_BMC_MS });
    await failHost(ctx, victim);
    const uuid = await fire(rig.hook!, hostDownAlert(rig, victim));
    await untilBmc(ctx, victim, 'power-off');
    await rig.control(`/sim/hosts/${victim.name}/heal`, {});
    const n = await untilSettledOrWaiting(rig.hook!, uuid);
    t.equal(n.status, 'finished', describe(n));
    const moved = runElsewhere(ctx, vms, victim);
    t.equal(moved, vms.length, 'every VM runs elsewhere');
    return `${describe(n)}; ${moved}/${vms.length} VMs elsewhere`;
  },
});

scenario({
  name: 'flapping host back right after the power-off landed',
  expected: 'the host boots again; its VMs restarted elsewhere, none left down',
  async run(ctx) {
    const { t, rig } = ctx;
    const victim = memberWithVms(rig);
    const vms = rig.residentVms(victim);
    await failHost(ctx, victim);
    const uuid = await fire(rig.hook!, hostDownAlert(rig, victim));
    await waitUntil('the power-off to land', () => rig.sim.pool.truth.powerOffs.some((p) => p.host === victim.ref), 45_000, 5);
    await rig.control(`/sim/hosts/${victim.name}/recover`, {});
    const n = await untilSettledOrWaiting(rig.hook!, uuid);
    t.equal(n.status, 'finished', describe(n));
    const running = runOnce(ctx, vms);
    t.equal(running, vms.length, 'every VM runs (on one host; the rebooted one may take some back)');
    return `${describe(n)}; ${running}/${vms.length} VMs running`;
  },
});
scenario({
  name: 'flapping host back after the fence',
  expected: 'the host boots again; its VMs restarted elsewhere, none left down',
  async run(ctx) {
    const { t, rig } = ctx;
    const victim = memberWithVms(rig);
    const vms = rig.residentVms(victim);
    await failHost(ctx, victim);
    const uuid = await fire(rig.hook!, hostDownAlert(rig, victim));
    await waitUntil('the fence to complete', async () => (await notification(rig.hook!, uuid)).recovery_workflow_details?.some((task: any) => task.name === 'fence_host' && task.state === 'SUCCESS'), 45_000, 20);
    await rig.control(`/sim/hosts/${victim.name}/recover`, {});
    const n = await untilSettledOrWaiting(rig.hook!, uuid);
    t.equal(n.status, 'finished', describe(n));
    const running = runOnce(ctx, vms);
    t.equal(running, vms.length, 'every VM runs (on one host; the rebooted one may take some back)');
    return `${describe(n)}; ${running}/${vms.length} VMs running`;
  },
});
