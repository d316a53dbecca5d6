// End to end, the ways a host recovery used to break its promise (#16), against the simulated pool with the real XAPI
// client: labels that name another host or VM than their uuid, a host that comes back right before or during the
// fence, a fence assertion from a token without the scope, and the blast-radius limits. In each, what the
// simulator says ran where is checked: no healthy host powered off, no VM started twice, none left halted.
import t, { type Test } from 'tap';
import { SimBmc } from '../../simulator/bmc.js';
import { ALL_SCOPES } from './helpers/harness.js';
import {
  type Rig,
  type RigOptions,
  type SimHost,
  TOKEN,
  countBy,
  failMemberHost,
  fire,
  hostDownAlert,
  instanceAlert,
  progressLines,
  settled,
  startRig,
  untilNotLive,
  untilWaiting,
  vmoves,
  waitUntil,
} from './helpers/sim-rig.js';
import type { FenceTarget, Fencer } from '../../core/fencing.js';

const WRITER_TOKEN = 'writer-token-0123456789';

async function allRunning(t: Test, rig: Rig, vms: string[], notOn?: SimHost) {
  for (const vm of vms) {
    const s = await rig.vmStatus(vm);
    t.equal(s.power_state, 'Running', `${vm} runs`);
    if (notOn) t.not(s.resident_on, notOn.name, `${vm} runs elsewhere than ${notOn.name}`);
  }
}

t.test('host label mismatch: host_name names a healthy host, host_uuid the failed one → ignored, nothing powered off', async (t) => {
  const rig = await startRig(t);
  const hook = rig.hook!;
  const victim = await failMemberHost(rig);
  const healthy = rig.hosts.find((h) => h.uuid !== victim.uuid && !h.master)!;
  const uuid = await fire(hook, hostDownAlert(rig, victim, { labels: { ...hostDownAlert(rig, victim).labels, host_name: healthy.name } }));
  const n = await settled(hook, uuid);
  t.equal(n.status, 'ignored');
  t.equal(
    n.message,
    `host name "${healthy.name}" in the notification does not match XAPI's name_label "${victim.name}" for host uuid ${victim.uuid}: identity unclear, nothing powered off or restarted`,
  );
  // The other way round: the name of the failed host on the uuid of a healthy one.
  const uuid2 = await fire(hook, hostDownAlert(rig, healthy, { labels: { ...hostDownAlert(rig, healthy).labels, host_name: victim.name } }));
  const n2 = await settled(hook, uuid2);
  t.equal(n2.status, 'ignored');
  t.match(n2.message, /does not match XAPI's name_label/);
  t.same(rig.calls, { starts: [], resets: [], reboots: [], powerOffs: [], toolstackRestarts: [] }, 'nothing powered off, reset or started');
  t.match(await rig.hostStatus(healthy.name), { power: 'on', live: true });
});

t.test('VM label mismatch: vm_name names another VM than vm_uuid → ignored, nothing started', async (t) => {
  const rig = await startRig(t);
  const hook = rig.hook!;
  const host = rig.hosts.find((h) => !h.master)!;
  const [vm, other] = rig.residentVms(host);
  await rig.control(`/sim/vms/${vm!.uuid}/crash`, { mode: 'halt' });
  const uuid = await fire(hook, instanceAlert(rig, { uuid: vm!.uuid, name: other!.name }, host, 'crashed'));
  const n = await settled(hook, uuid);
  t.equal(n.status, 'ignored');
  t.equal(
    n.message,
    `VM name "${other!.name}" in the notification does not match XAPI's name_label "${vm!.name}" for VM uuid ${vm!.uuid}: identity unclear, nothing done`,
  );
  t.same(n.payload.vm_name, other!.name, 'the alert label travels in the payload');
  t.same(rig.calls.starts, []);
  t.match(await rig.vmStatus(vm!.uuid), { power_state: 'Halted' });
});

/** A BMC in front of the simulated one that runs `before` once, at the first call named `at`. */
function bmcWith(rig: Rig, at: 'powerStatus' | 'powerOff', before: (target: FenceTarget) => Promise<void>): Fencer & { calls: string[] } {
  const bmc = new SimBmc(rig.sim.controlUrl);
  let done = false;
  const once = async (call: string, target: FenceTarget) => {
    if (call !== at || done) return;
    done = true;
    await before(target);
  };
  return {
    calls: bmc.calls,
    async powerStatus(target) {
      await once('powerStatus', target);
      return bmc.powerStatus(target);
    },
    async powerOff(target) {
      await once('powerOff', target);
      return bmc.powerOff(target);
    },
  };
}

/** The host boots again: xapi's resync halts what it still listed as resident; wait until the master sees it live. */
async function comesBack(rig: Rig, host: SimHost) {
  await rig.control(`/sim/hosts/${host.name}/recover`, {});
  await waitUntil(`${host.name} live again`, async () => (await rig.hostStatus(host.name)).live === true, 10_000);
}

t.test('a host back right before the fence is not powered off; the VMs its resync halted are started again', async (t) => {
  const rig = await startRig(t, { start: false });
  let victim: SimHost | undefined;
  const bmc = bmcWith(rig, 'powerStatus', () => comesBack(rig, victim!));
  const hook = (rig.hook = await rig.startHook({ fencerFor: () => bmc }));
  victim = await failMemberHost(rig);
  const recorded = rig.residentVms(victim).map((v) => v.uuid);
  const uuid = await fire(hook, hostDownAlert(rig, victim));
  const n = await settled(hook, uuid);

  t.equal(n.status, 'finished', n.message);
  t.match(n.message, new RegExp(`^host ${victim.name} came back before the fence: not powered off; .*started again on `));
  t.ok(progressLines(n).includes(`fence_host: host ${victim.name} is back (live in XAPI and answering) before the fence: not powered off`));
  t.same(rig.calls.powerOffs, [], 'the healthy host was not powered off');
  t.notOk(
    bmc.calls.some((c) => c.startsWith('power-off')),
    'no power-off sent',
  );
  t.match(await rig.hostStatus(victim.name), { power: 'on', live: true });
  t.same(countBy(rig.calls.starts), Object.fromEntries(recorded.map((v) => [v, 1])), 'each VM halted by the resync started once');
  t.same(rig.calls.resets, [], 'no power state reset');
  await allRunning(t, rig, recorded);
  t.same(
    (await vmoves(hook, uuid)).map((m) => m.status),
    recorded.map(() => 'succeeded'),
  );
});

t.test('a host back during the power-off: powered off all the same, and the VMs its resync halted restarted elsewhere', async (t) => {
  const rig = await startRig(t, { start: false });
  let victim: SimHost | undefined;
  const bmc = bmcWith(rig, 'powerOff', () => comesBack(rig, victim!));
  const hook = (rig.hook = await rig.startHook({ fencerFor: () => bmc }));
  victim = await failMemberHost(rig);
  const recorded = rig.residentVms(victim).map((v) => v.uuid);
  const uuid = await fire(hook, hostDownAlert(rig, victim));
  const n = await settled(hook, uuid);

  t.equal(n.status, 'finished', n.message ?? 'finished');
  t.same(rig.calls.powerOffs, [victim.name]);
  t.match(await rig.hostStatus(victim.name), { power: 'off', resident_vms: 0 });
  t.same(countBy(rig.calls.starts), Object.fromEntries(recorded.map((v) => [v, 1])), 'the recorded VMs (halted, off the host) restarted once each');
  await allRunning(t, rig, recorded, victim);
  t.ok(progressLines(n).some((l) => l.startsWith('restart_vms: restarted: ')));
});

t.test('host_status NORMAL needs fence:assert (403 without); with it, a BMC that answers is still used', async (t) => {
  const rig = await startRig(t, {
    recoveryHook: {
      tokens: [
        { name: 'test', token: TOKEN, scopes: ALL_SCOPES },
        { name: 'writer', token: WRITER_TOKEN, scopes: ['notifications:write', 'notifications:read'] },
      ],
    },
  });
  const hook = rig.hook!;
  const victim = await failMemberHost(rig);
  const recorded = rig.residentVms(victim).map((v) => v.uuid);
  const body = {
    notification: {
      type: 'COMPUTE_HOST',
      hostname: victim.name,
      generated_time: new Date().toISOString(),
      payload: { event: 'STOPPED', host_status: 'NORMAL', cluster_status: 'OFFLINE' },
    },
  };
  const refused = await hook.request('POST', '/v1/notifications', { body, headers: { 'X-Auth-Token': WRITER_TOKEN } });
  t.equal(refused.status, 403);
  t.match(refused.json, {
    forbidden: { code: 403, message: /host_status NORMAL .* needs scope fence:assert; token "writer" has notifications:write, notifications:read/ },
  });
  const am = await hook.request('POST', '/alertmanager', { body: { version: '4', alerts: [] }, headers: { 'X-Auth-Token': WRITER_TOKEN } });
  t.equal(am.status, 403, 'the webhook needs scope alertmanager');
  t.match(am.json.forbidden.message, /needs scope alertmanager/);
  t.equal((await hook.request('GET', '/v1/notifications')).status, 200);
  t.same(rig.calls.starts, [], 'nothing recorded, nothing started');

  const accepted = await hook.request('POST', '/v1/notifications', { body });
  t.equal(accepted.status, 202);
  const n = await settled(hook, accepted.json.notification.notification_uuid);
  t.equal(n.status, 'finished', n.message ?? 'finished');
  t.ok(progressLines(n).includes(`fence_host: power off ${victim.name} through its BMC and wait for it to report power off`), 'the BMC answers: it is used');
  t.same(rig.calls.powerOffs, [victim.name]);
  t.same(countBy(rig.calls.starts), Object.fromEntries(recorded.map((v) => [v, 1])));
});

t.test('blast radius: more than max_down_share of the pool not live → no fence, an operator decides', async (t) => {
  const rig = await startRig(t);
  const hook = rig.hook!;
  const members = rig.hosts.filter((h) => !h.master);
  t.equal(rig.hosts.length, 3);
  for (const h of members) await rig.control(`/sim/hosts/${h.name}/fail`, {});
  for (const h of members) await untilNotLive(rig, h);
  const uuid = await fire(hook, hostDownAlert(rig, members[0]!));
  const n = await untilWaiting(rig, uuid);
  t.match(n.operator_wait, {
    kind: 'blast_radius',
    reason: new RegExp(
      `^2 of 3 hosts of pool ${rig.poolName} are not live in XAPI \\(more than fencing\\.max_down_share 0\\.5\\): a partition is likelier than dead hosts`,
    ),
  });
  const metrics = await (await fetch(`${hook.url}/metrics`)).text();
  t.match(
    metrics,
    new RegExp(
      `xcp_recovery_waiting_for_operator\\{pool_name="${rig.poolName}",host_name="${members[0]!.name}",host_uuid="${members[0]!.uuid}",kind="blast_radius"\\} 1`,
    ),
  );
  t.same(rig.calls.powerOffs, []);
  t.same(rig.calls.starts, []);
});

t.test('blast radius: max_hosts_fenced per pool and window — two hosts fail together, one is fenced, the other waits', async (t) => {
  const rig = await startRig(t, { sim: { size: { hosts: 4 } } as RigOptions['sim'] });
  const hook = rig.hook!;
  const members = rig.hosts.filter((h) => !h.master).slice(0, 2);
  for (const h of members) await rig.control(`/sim/hosts/${h.name}/fail`, {});
  for (const h of members) await untilNotLive(rig, h);
  const uuids = await Promise.all(members.map((h) => fire(hook, hostDownAlert(rig, h))));
  const [done, waiting] = await waitUntil(
    'one fenced, one waiting',
    async () => {
      const views = await Promise.all(uuids.map((u) => hook.request('GET', `/v1/notifications/${u}`).then((r) => r.json.notification)));
      const fin = views.find((v) => v.status === 'finished');
      const wait = views.find((v) => v.operator_wait);
      return fin && wait ? [fin, wait] : undefined;
    },
    60_000,
  );
  t.match(waiting.operator_wait, { kind: 'blast_radius', reason: /already had 1 power-off\(s\) in the last 600 s \(fencing\.max_hosts_fenced 1\)/ });
  const fenced = members.find((h) => h.uuid === done.source_host_uuid)!;
  t.same(rig.calls.powerOffs, [fenced.name], 'one power-off only');
  const held = members.find((h) => h.uuid === waiting.source_host_uuid)!;
  for (const vm of rig.residentVms(held))
    t.match(await rig.vmStatus(vm.uuid), { power_state: 'Running', resident_on: held.name }, 'the held host keeps its VMs');
});
