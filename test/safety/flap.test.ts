// Safety matrix: the failed (hung) host answers again at different moments of the recovery. With a slow BMC (every
// answer 1.5 s late) the host can come back while a command is in flight:
//  - before the fence: it thaws (no reboot) while the BMC is asked for the power status — it must not be powered
//    off, and its VMs keep running on it;
//  - during the power-off: it thaws after the power-off was sent, before it lands — the power goes off, the VMs
//    recorded at confirmation are restarted elsewhere;
//  - right after the power-off landed, before the BMC confirmed it: it boots again (the resync halts what the
//    database lists on it) — its VMs are restarted all the same, none left down;
//  - after the fence completed: it boots again while its VMs are restarted — none left down, none twice.
import { fire, hostDownAlert, notification, waitUntil } from '../recovery-hooks/helpers/sim-rig.js';
import {
  type ScenarioContext,
  describe,
  failHost,
  memberWithVms,
  runElsewhere,
  runOnce,
  scenario,
  untilSettledOrWaiting,
  whereVmsRun,
} from './helpers/scenario.js';
import type { SimHost } from '../recovery-hooks/helpers/sim-rig.js';

const SLOW_BMC_MS = 1500;

const bmcAsked = (command: 'power-off' | 'power-status') => (ctx: ScenarioContext, host: SimHost) =>
  waitUntil(`the BMC to be asked ${command}`, () => ctx.rig.sim.pool.truth.bmcCalls.some((c) => c.host === host.ref && c.command === command), 45_000, 10);

interface Flap {
  when: string;
  expected: string;
  slowBmc: boolean;
  /** Wait for the moment the host comes back. */
  moment(ctx: ScenarioContext, host: SimHost, uuid: string): Promise<unknown>;
  /** heal: it answers again without a reboot; recover: it boots. */
  back: 'heal' | 'recover';
  /** What must hold at the end, asserted; the outcome's tail. */
  check(ctx: ScenarioContext, host: SimHost, vms: { ref: string; name: string }[], n: any): string;
}

const FLAPS: Flap[] = [
  {
    when: 'before the fence',
    expected: 'not powered off; its VMs keep running on it, nothing restarted elsewhere',
    slowBmc: true,
    moment: bmcAsked('power-status'),
    back: 'heal',
    check(ctx, host, vms, n) {
      ctx.t.not(n.status, 'running', `the notification ended (${describe(n)})`);
      ctx.t.ok(ctx.runtime(host).powered, 'the host that came back was not powered off');
      const where = whereVmsRun(ctx, vms);
      ctx.t.ok(
        Object.values(where).every((hosts) => hosts.length === 1 && hosts[0] === host.name),
        `its VMs run on it: ${JSON.stringify(where)}`,
      );
      return `host ${ctx.runtime(host).powered ? 'kept on' : 'powered off'}`;
    },
  },
  {
    when: 'during the power-off',
    expected: 'the power-off lands; the VMs recorded at confirmation restarted elsewhere',
    slowBmc: true,
    moment: bmcAsked('power-off'),
    back: 'heal',
    check: (ctx, host, vms, n) => elsewhere(ctx, host, vms, n),
  },
  {
    when: 'right after the power-off landed',
    expected: 'the host boots again; its VMs restarted, none left down',
    slowBmc: false,
    moment: (ctx, host) => waitUntil('the power-off to land', () => ctx.rig.sim.pool.truth.powerOffs.some((p) => p.host === host.ref), 45_000, 5),
    back: 'recover',
    check: (ctx, _host, vms, n) => restarted(ctx, vms, n),
  },
  {
    when: 'after the fence',
    expected: 'the host boots again; its VMs restarted, none left down',
    slowBmc: false,
    moment: (ctx, _host, uuid) =>
      waitUntil(
        'the fence to complete',
        async () => (await notification(ctx.rig.hook!, uuid)).recovery_workflow_details?.some((x: any) => x.name === 'fence_host' && x.state === 'SUCCESS'),
        45_000,
        20,
      ),
    back: 'recover',
    check: (ctx, _host, vms, n) => restarted(ctx, vms, n),
  },
];

function elsewhere(ctx: ScenarioContext, host: SimHost, vms: { ref: string; name: string }[], n: any): string {
  ctx.t.equal(n.status, 'finished', describe(n));
  const moved = runElsewhere(ctx, vms, host);
  ctx.t.equal(moved, vms.length, 'every VM runs elsewhere');
  return `${moved}/${vms.length} VMs elsewhere`;
}

function restarted(ctx: ScenarioContext, vms: { ref: string; name: string }[], n: any): string {
  ctx.t.equal(n.status, 'finished', describe(n));
  const running = runOnce(ctx, vms);
  ctx.t.equal(running, vms.length, 'every VM runs (on one host; the rebooted one may take some back)');
  return `${running}/${vms.length} VMs running`;
}

for (const flap of FLAPS) {
  scenario({
    name: `flapping host back ${flap.when}`,
    expected: flap.expected,
    async run(ctx) {
      const { rig } = ctx;
      const victim = memberWithVms(rig);
      const vms = rig.residentVms(victim);
      if (flap.slowBmc) await rig.control(`/sim/hosts/${victim.name}/bmc`, { mode: 'ok', delay_ms: SLOW_BMC_MS });
      await failHost(ctx, victim);
      const uuid = await fire(rig.hook!, hostDownAlert(rig, victim));
      await flap.moment(ctx, victim, uuid);
      await rig.control(`/sim/hosts/${victim.name}/${flap.back}`, {});
      const n = await untilSettledOrWaiting(rig.hook!, uuid);
      return `${describe(n)}; ${flap.check(ctx, victim, vms, n)}`;
    },
  });
}
