// Safety matrix: labels that contradict their UUIDs, and a fence assertion from a token without the scope.
import { type AlertSpec, hostDownAlert, instanceAlert, postWebhook, webhookBody } from '../recovery-hooks/helpers/sim-rig.js';
import { TOKEN } from '../recovery-hooks/helpers/sim-rig.js';
import {
  ASSERT_TOKEN,
  type ScenarioContext,
  WRITER_TOKEN,
  describe,
  failHost,
  memberWithVms,
  runElsewhere,
  scenario,
  untilSettledOrWaiting,
} from './helpers/scenario.js';

/** Post the alert: it must be refused at intake or end `ignored`, with a reason that names the mismatch. */
async function refusedOrIgnored(ctx: ScenarioContext, alert: AlertSpec): Promise<string> {
  const [receipt] = await postWebhook(ctx.rig.hook!, webhookBody([alert]));
  if (!receipt?.notification_uuid) return `refused at intake: ${receipt?.outcome ?? receipt?.status} ${receipt?.reason ?? ''}`;
  const n = await untilSettledOrWaiting(ctx.rig.hook!, receipt.notification_uuid);
  ctx.t.equal(n.status, 'ignored', `ignored (${describe(n)})`);
  ctx.t.match(String(n.message), /name|label|mismatch|does not match/i, 'the reason names the mismatch');
  return describe(n);
}

scenario({
  name: 'host_name / host_uuid mismatch',
  expected: 'refused or ignored with the reason; no host powered off, no VM started',
  async run(ctx) {
    const { t, rig } = ctx;
    const victim = memberWithVms(rig);
    const healthy = rig.hosts.find((h) => !h.master && h !== victim)!;
    await failHost(ctx, victim);
    // The UUID is the failed host's, the name a healthy host's (a renamed host, a relabelling mistake).
    const alert = hostDownAlert(rig, victim);
    const outcome = await refusedOrIgnored(ctx, { ...alert, labels: { ...alert.labels, host_name: healthy.name } });
    t.same(rig.calls.powerOffs, [], 'no host powered off');
    t.same(rig.calls.starts, [], 'no VM started');
    return outcome;
  },
});

scenario({
  name: 'vm_name / vm_uuid mismatch',
  expected: 'refused or ignored with the reason; no VM started or rebooted',
  async run(ctx) {
    const { t, rig } = ctx;
    const host = memberWithVms(rig, 2);
    const [crashed, other] = rig.residentVms(host) as [any, any];
    await rig.control(`/sim/vms/${crashed.uuid}/crash`, { mode: 'halt' });
    const alert = instanceAlert(rig, crashed, host, 'crashed');
    const outcome = await refusedOrIgnored(ctx, { ...alert, labels: { ...alert.labels, vm_name: other.name } });
    t.same(rig.calls.starts, [], 'no VM started');
    t.same(rig.calls.reboots, [], 'no VM rebooted');
    return outcome;
  },
});

scenario({
  name: 'fence assertion from a token without the scope',
  expected: 'host_status NORMAL is no proof: 403 without fence:assert; with it, the BMC (configured, answering) still fences; then VMs elsewhere',
  async run(ctx) {
    const { t, rig } = ctx;
    const victim = memberWithVms(rig);
    const vms = rig.residentVms(victim);
    await failHost(ctx, victim);
    const body = {
      notification: {
        type: 'COMPUTE_HOST',
        hostname: victim.name,
        generated_time: new Date().toISOString(),
        payload: { event: 'STOPPED', host_status: 'NORMAL', cluster_status: 'OFFLINE' },
      },
    };
    const post = (token: string) => rig.hook!.request('POST', '/v1/notifications', { body, headers: { 'X-Auth-Token': token } });
    const answers: string[] = [];
    let created: Awaited<ReturnType<typeof post>> | undefined;
    // The Alertmanager's token, then a writer without fence:assert: refused (or, if accepted, the BMC must fence).
    for (const [who, token] of [
      ['alertmanager', TOKEN],
      ['writer', WRITER_TOKEN],
    ] as const) {
      const res = await post(token);
      answers.push(`${who} ${res.status}`);
      if (res.status < 300) {
        created = res;
        break;
      }
      t.equal(res.status, 403, `${who}: refused`);
      t.match(res.json, { forbidden: { code: 403, message: /scope/ } }, `${who}: the 403 names the scope`);
    }
    t.same(rig.calls.starts, [], 'nothing started on the strength of an unscoped assertion');
    // A token with fence:assert: fencing is configured and the BMC answers, so the BMC is used all the same.
    if (!created) {
      created = await post(ASSERT_TOKEN);
      answers.push(`asserter ${created.status}`);
    }
    const uuid = created.json?.notification?.notification_uuid;
    t.ok(uuid, `a notification was accepted (${answers.join(', ')})`);
    if (!uuid) return answers.join(', ');
    const n = await untilSettledOrWaiting(rig.hook!, uuid);
    t.equal(n.status, 'finished', describe(n));
    const fenced = rig.calls.powerOffs.includes(victim.name);
    t.ok(fenced, 'the BMC fenced the host: NORMAL was not taken as proof');
    const moved = runElsewhere(ctx, vms, victim);
    t.equal(moved, vms.length, 'every VM runs elsewhere');
    return `${answers.join(', ')}; ${describe(n)}; ${fenced ? 'fenced by the BMC' : 'NOT fenced'}; ${moved}/${vms.length} VMs elsewhere`;
  },
});
