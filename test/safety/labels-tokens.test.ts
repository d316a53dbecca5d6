// Safety matrix: labels that contradict their UUIDs, and a fence assertion from a token without the scope.
import { hostDownAlert, instanceAlert, postWebhook, webhookBody } from '../recovery-hooks/helpers/sim-rig.js';
import { TOKEN } from '../recovery-hooks/helpers/sim-rig.js';
import { WRITER_TOKEN, describe, failHost, memberWithVms, runElsewhere, scenario, untilSettledOrWaiting } from './helpers/scenario.js';

scenario({
  name: 'host_name / host_uuid mismatch',
  expected: 'refused or ignored with the reason; no host powered off, no VM started',
  async run(ctx) {
    const { t, rig } = ctx;
    const victim = memberWithVms(rig);
    const healthy = rig.hosts.find((h) => !h.master && h !== victim)!;
    await failHost(ctx, victim);
    // The UUID is the failed host's, the name a healthy host's (a renamed host, a relabelling mistake).
    const [receipt] = await postWebhook(rig.hook!, webhookBody([hostDownAlert(rig, victim, { labels: { ...hostDownAlert(rig, victim).labels, host_name: healthy.name } })]));
    let outcome = `receipt ${receipt?.outcome ?? receipt?.status}${receipt?.reason ? `: ${receipt.reason}` : ''}`;
    if (receipt?.notification_uuid) {
      const n = await untilSettledOrWaiting(rig.hook!, receipt.notification_uuid);
      outcome = describe(n);
      t.equal(n.status, 'ignored', `ignored (${describe(n)})`);
      t.match(String(n.message), /name|label|mismatch|does not match/i, 'the reason names the mismatch');
    }
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
    const [receipt] = await postWebhook(rig.hook!, webhookBody([{ ...alert, labels: { ...alert.labels, vm_name: other.name } }]));
    let outcome = `receipt ${receipt?.outcome ?? receipt?.status}${receipt?.reason ? `: ${receipt.reason}` : ''}`;
    if (receipt?.notification_uuid) {
      const n = await untilSettledOrWaiting(rig.hook!, receipt.notification_uuid);
      outcome = describe(n);
      t.equal(n.status, 'ignored', `ignored (${describe(n)})`);
    }
    t.same(rig.calls.starts, [], 'no VM started');
    t.same(rig.calls.reboots, [], 'no VM rebooted');
    return outcome;
  },
});

scenario({
  name: 'fence assertion from a token without the scope',
  expected: '403 for the Alertmanager token; from a writer without fence:assert the BMC fences all the same, then VMs elsewhere',
  async run(ctx) {
    const { t, rig } = ctx;
    const victim = memberWithVms(rig);
    const vms = rig.residentVms(victim);
    await failHost(ctx, victim);
    const body = {
      notification: { type: 'COMPUTE_HOST', hostname: victim.name, generated_time: new Date().toISOString(), payload: { event: 'STOPPED', host_status: 'NORMAL', cluster_status: 'OFFLINE' } },
    };
    const post = (token: string) => rig.hook!.request('POST', '/v1/notifications', { body, headers: { 'X-Auth-Token': token } });
    const fromAlertmanager = await post(TOKEN);
    t.equal(fromAlertmanager.status, 403, 'the Alertmanager token may not post notifications');
    t.match(fromAlertmanager.json, { forbidden: { code: 403, message: /scope/ } });
    const created = fromAlertmanager.status < 300 ? fromAlertmanager : await post(WRITER_TOKEN);
    t.ok(created.status >= 200 && created.status < 300, `accepted from the writer (${created.status} ${created.text.slice(0, 200)})`);
    const uuid = created.json?.notification?.notification_uuid;
    if (!uuid) return `writer: ${created.status}`;
    const n = await untilSettledOrWaiting(rig.hook!, uuid);
    t.equal(n.status, 'finished', describe(n));
    t.ok(rig.calls.powerOffs.includes(victim.name), 'the BMC fenced the host: NORMAL was not taken as proof');
    const moved = runElsewhere(ctx, vms, victim);
    t.equal(moved, vms.length, 'every VM runs elsewhere');
    return `alertmanager token ${fromAlertmanager.status}; ${describe(n)}; ${rig.calls.powerOffs.includes(victim.name) ? 'fenced by BMC' : 'NOT fenced'}`;
  },
});
