// End to end, power loss and power back: a power-loss alert posted to a real Alertmanager (the example routing)
// reaches the receiver, which suspends every VM of the simulated pool, shuts down the one that refuses suspension (a
// PCI device) and halts the hosts, master last, within the budget. Resolving the alert in Alertmanager starts the
// resume: the hosts are powered on through the (simulated) BMC and every VM runs again with the state it had — the
// simulator's ground truth keeps each guest's run across suspend/resume and gives a new one to a VM that booted.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { SimBmc } from '../../simulator/bmc.js';
import { ALERTMANAGER, loopAlertmanagerConfig, startLoopAlertmanager } from '../e2e/helpers/loop.js';
import { TOKEN, notification, progressLines, startRig, waitUntil } from './helpers/sim-rig.js';

interface VmBefore {
  uuid: string;
  name: string;
  power: string;
  host: string;
  run: string;
}

t.test(
  'power lost → VMs suspended, hosts halted master last; power back → every VM runs again as it was',
  { skip: ALERTMANAGER ? false : 'prometheus-alertmanager is not installed' },
  async (t) => {
    const rig = await startRig(t, {
      sim: { hostShutdownDelayMs: 300, vmBootMs: 40 },
      start: false,
      recoveryHook: {
        emergency: {
          budget_seconds: 90,
          runtime_reserve_seconds: 30,
          host_halt_seconds: 30,
          hard_shutdown_seconds: 5,
          clean_shutdown_timeout_seconds: 5,
          host_boot_timeout_seconds: 60,
        },
      },
    });
    const bmc = new SimBmc(rig.sim.controlUrl);
    const hook = await rig.startHook({ fencerFor: () => bmc });
    const tokenFile = join(rig.dir, 'token');
    writeFileSync(tokenFile, TOKEN);
    const am = await startLoopAlertmanager(ALERTMANAGER!, loopAlertmanagerConfig({ webhookUrl: `${hook.url}/alertmanager`, tokenFile }));
    t.teardown(() => am.stop());

    // One VM paused by its owner, one with a PCI device (cannot be suspended).
    const { store } = rig.sim.pool;
    const guests = rig.hosts.flatMap((h) => rig.residentVms(h));
    const [paused, withPci] = [guests[0]!, guests[guests.length - 1]!];
    await rig.xapi.call('VM.pause', paused.ref);
    await rig.control(`/sim/vms/${withPci.uuid}/suspend-fault`, { kind: 'pci' });
    const before: VmBefore[] = [];
    for (const vm of guests) {
      const s = await rig.vmStatus(vm.uuid);
      before.push({ uuid: vm.uuid, name: vm.name, power: s.power_state, host: s.resident_on, run: s.guest_run });
    }
    t.ok(before.length >= 6, `${before.length} running VMs on ${rig.hosts.length} hosts`);

    const labels = {
      alertname: 'XcpUpsRuntimeLow',
      severity: 'critical',
      component: 'power',
      xcp_notification_type: 'XCP_EMERGENCY_SHUTDOWN',
      recovery: 'true',
      pool_name: rig.poolName,
      ups: 'ups-a',
    };
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    const postAlert = async (endsAt?: string) => {
      const res = await fetch(`${am.url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ labels, annotations: { summary: 'UPS runtime low (test)', runtime_seconds: '120' }, startsAt, ...(endsAt ? { endsAt } : {}) }]),
      });
      t.equal(res.status, 200, 'Alertmanager took the alert');
    };
    const emergencies = async () =>
      (await hook.request('GET', '/v1/notifications?type=XCP_EMERGENCY_SHUTDOWN&sort_key=id&sort_dir=asc')).json.notifications as {
        notification_uuid: string;
        payload: any;
        status: string;
      }[];

    // ---- power lost ----
    const sent = Date.now();
    await postAlert();
    const [lost] = await waitUntil('the power-loss notification', async () => (await emergencies()).length > 0 && (await emergencies()), 30_000);
    t.match(lost!.payload, { event: 'POWER_LOST', scope: 'pool', runtime_seconds: 120 }, 'pool-wide, with the UPS runtime from the annotation');
    const down = await waitUntil(
      'the shutdown to end',
      async () => {
        const n = await notification(hook, lost!.notification_uuid);
        return ['finished', 'failed', 'ignored', 'error'].includes(n.status) && n;
      },
      60_000,
      200,
    );
    const took = Date.now() - sent;
    t.equal(down.status, 'finished', down.message);
    t.match(down.message, /within the budget/, 'halted within the budget');
    t.ok(took < 90_000, `alert → every host off in ${took} ms (budget 120 s UPS runtime − 30 s reserve = 90 s)`);
    t.match(down.message, new RegExp(`shut down cleanly \\(${withPci.name}\\)`), 'the VM that refused suspension is named');

    const truth = await rig.control('/sim/truth');
    t.same(
      truth.hosts.map((h: any) => h.powered),
      rig.hosts.map(() => false),
      'every host is off',
    );
    t.same(
      truth.hosts.flatMap((h: any) => h.domains),
      [],
      'no domain runs anywhere',
    );
    for (const vm of before) {
      const s = await rig.vmStatus(vm.uuid);
      t.equal(s.power_state, vm.uuid === withPci.uuid ? 'Halted' : 'Suspended', `${vm.name} ${s.power_state}`);
    }
    // The master halted last: its "powered off" line comes after every member's.
    const lines = progressLines(down);
    const offAt = (name: string) => lines.findIndex((l) => l.startsWith('halt_hosts:') && l.includes(`host ${name} is powered off`));
    const master = rig.hosts.find((h) => h.master)!;
    for (const h of rig.hosts.filter((x) => !x.master))
      t.ok(offAt(h.name) >= 0 && offAt(h.name) < offAt(master.name), `${h.name} off before the master ${master.name}`);
    t.ok(
      lines.some((l) => l.includes(`VM ${withPci.name} cannot be suspended: VM_HAS_PCI_ATTACHED`)),
      "the refusal is reported with XAPI's error",
    );

    // ---- power back: the alert resolves ----
    await postAlert(new Date().toISOString());
    const restored = await waitUntil('the resume notification', async () => (await emergencies()).find((n) => n.payload.event === 'POWER_RESTORED'), 30_000);
    const up = await waitUntil(
      'the resume to end',
      async () => {
        const n = await notification(hook, restored.notification_uuid);
        return ['finished', 'failed', 'ignored'].includes(n.status) && n;
      },
      90_000,
      200,
    ).catch(async (err) => {
      t.comment(progressLines(await notification(hook, restored.notification_uuid)).join('\n'));
      throw err;
    });
    t.equal(up.status, 'finished', up.message ?? progressLines(up).join('\n'));
    t.same(bmc.calls.filter((c) => c.startsWith('power-on')).length, rig.hosts.length, 'every host powered on through its BMC');

    const after = await rig.control('/sim/truth');
    const runs = new Map<string, number>();
    for (const h of after.hosts) for (const d of h.domains) runs.set(d.uuid, (runs.get(d.uuid) ?? 0) + 1);
    for (const vm of before) {
      const s = await rig.vmStatus(vm.uuid);
      t.equal(s.power_state, vm.power, `${vm.name} is ${vm.power} again`);
      t.equal(s.resident_on, vm.host, `${vm.name} on its own host ${vm.host}`);
      t.equal(runs.get(vm.uuid), 1, `${vm.name} runs exactly once`);
      if (vm.uuid === withPci.uuid) t.not(s.guest_run, vm.run, `${withPci.name} was shut down: it booted afresh`);
      else t.equal(s.guest_run, vm.run, `${vm.name} continues the run it had (memory image resumed)`);
    }
    t.same(after.overlaps, [], 'no VM ever ran twice');
    t.equal(store.get('VM', paused.ref)!.power_state, 'Paused', 'the paused VM is paused again');

    // ---- power lost again, with almost no runtime left: suspends too slow for the budget become hard shutdowns ----
    (rig.sim.pool.options as { vmBootMs: number }).vmBootMs = 3000; // writing a memory image now takes 3 s
    const iso = new Date().toISOString().replace(/\.\d+Z$/, '');
    const again = await hook.request('POST', '/v1/notifications', {
      body: {
        notification: { type: 'XCP_EMERGENCY_SHUTDOWN', hostname: master.name, generated_time: iso, payload: { event: 'POWER_LOST', runtime_seconds: 36 } },
      },
    });
    t.equal(again.status, 202, again.text);
    const short = await waitUntil(
      'the short-budget shutdown to end',
      async () => {
        const n = await notification(hook, again.json.notification.notification_uuid);
        return ['finished', 'failed', 'ignored', 'error'].includes(n.status) && n;
      },
      60_000,
      200,
    );
    t.equal(short.status, 'finished', short.message);
    t.match(progressLines(short)[0], /budget 6 s \(the UPS's runtime 36 s less the 30 s reserve\)/, 'the budget comes from the runtime');
    t.match(short.message, /hard-shut-down \(/, 'the suspends that could not finish in time became hard shutdowns');
    t.ok(
      progressLines(short).some((l) => /VM.suspend did not finish by|no time left to suspend/.test(l)),
      'and the progress says why',
    );
    const final = await rig.control('/sim/truth');
    t.same(
      final.hosts.map((h: any) => h.powered),
      rig.hosts.map(() => false),
      'every host is off again',
    );
    t.same(
      final.hosts.flatMap((h: any) => h.domains),
      [],
      'nothing runs',
    );
  },
);
