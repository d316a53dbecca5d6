// End to end at the cadence the crash detection is specified for: the exporter polls every 5 s, real Prometheus
// scrapes and evaluates the bundled rules every 5 s, real Alertmanager routes with the example's recovery routing
// (its XcpVmHaltedUnexpectedly route waits 1 s), the receiver starts the VM through XAPI on the simulated pool.
//   - a protected VM that crashes 10 s after it started raises XcpVmHaltedUnexpectedly and runs again: measured
//     crash → running (target < 20 s);
//   - a VM the hypervisor restarts by itself (actions_after_crash=restart) is never started a second time.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { memoryLogger } from '../../core/log.js';
import { startExporter } from '../../exporter/main.js';
import type { Ref } from '../../simulator/model/types.js';
import { exporterConfigYaml } from '../helpers/exporter.js';
import { TOKEN, settled, startRig, waitUntil } from '../recovery-hooks/helpers/sim-rig.js';
import { ALERTMANAGER, PROMETHEUS, loopAlertmanagerConfig, loopRules, startLoopAlertmanager, startLoopPrometheus } from './helpers/loop.js';
import { parseConfig } from '../../cli/config/bundle.js';

const skip =
  (!PROMETHEUS && 'prometheus not found (Debian package prometheus)') ||
  (!ALERTMANAGER && 'alertmanager not found (Debian package prometheus-alertmanager)') ||
  false;
const secondsSince = (t0: number, t1 = Date.now()) => ((t1 - t0) / 1000).toFixed(1);

t.test('a protected VM crashing 10 s after its start is running again within 20 s (5 s poll, scrape, evaluation)', { skip, timeout: 200_000 }, async (t) => {
  const rig = await startRig(t, { start: false, sim: { hostDeadAfterMs: 2000, vmBootMs: 100, hardware: false } });
  const hook = await rig.startHook();

  const config = parseConfig(exporterConfigYaml([rig.sim]), join(rig.dir, 'exporter.yml'), {});
  config.exporter.poll_interval_seconds = 5;
  const exporter = await startExporter(config, memoryLogger('warn'));
  t.teardown(() => exporter.stop());
  const tokenFile = join(rig.dir, 'alertmanager.token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  // The example routing as shipped, the crash route with its own wait (1 s), the others shortened.
  const am = await startLoopAlertmanager(
    ALERTMANAGER!,
    loopAlertmanagerConfig({ webhookUrl: `${hook.url}/alertmanager`, tokenFile, keep: ['XcpVmHaltedUnexpectedly'] }),
  );
  t.teardown(() => am.stop());
  const prom = await startLoopPrometheus({ exporterUrl: exporter.url, alertmanagerUrl: am.url, rules: loopRules('3s', '5s'), interval: '5s' });
  t.teardown(() => prom.stop());
  await waitUntil(
    'Prometheus to see every host live',
    async () => (await prom.query<{ result: unknown[] }>('xcp_host_live == 1')).result.length === rig.hosts.length,
    40_000,
    250,
  );

  const { store } = rig.sim.pool;
  const protectedVms = rig.hosts.flatMap((h) => rig.residentVms(h)).filter((v) => store.get('VM', v.ref as Ref)?.ha_restart_priority === 'restart');
  const [vm, selfRestarting] = protectedVms as [(typeof protectedVms)[0], (typeof protectedVms)[0]];
  const instanceNotifications = async (uuid: string) =>
    ((await hook.request('GET', '/v1/notifications?type=COMPUTE_INSTANCE')).json.notifications as any[]).filter((n) => n.payload?.instance_uuid === uuid);

  await t.test('crash 10 s after the start: alert, VM.start, running', async (t) => {
    // An operator's shutdown and start (through XAPI: ha_always_run cleared, then set again), then a crash 10 s later.
    await rig.xapi.call('VM.clean_shutdown', vm.ref);
    await new Promise((r) => setTimeout(r, 6000));
    t.same(await instanceNotifications(vm.uuid), [], "the operator's shutdown raised nothing");
    await rig.xapi.call('VM.start', vm.ref, false, false);
    const started = Date.now();
    const startsBefore = rig.calls.starts.length;
    await new Promise((r) => setTimeout(r, 10_000 - (Date.now() - started)));
    const crash = Date.now();
    await rig.control(`/sim/vms/${vm.uuid}/crash`, { mode: 'halt' });
    t.equal((await rig.vmStatus(vm.uuid)).power_state, 'Halted', 'a crash 10 s after the start halts the VM (xenopsd: within 120 s, no restart)');

    const [received] = await waitUntil(
      'the COMPUTE_INSTANCE notification',
      async () => {
        const list = await instanceNotifications(vm.uuid);
        return list.length ? list : undefined;
      },
      40_000,
      100,
    );
    const alerted = Date.now();
    await waitUntil(`${vm.name} to run again`, async () => (await rig.vmStatus(vm.uuid)).power_state === 'Running', 40_000, 50);
    const running = Date.now();
    const n = await settled(hook, received.notification_uuid, ['finished', 'ignored', 'failed'], 30_000);
    t.equal(n.status, 'finished', n.message ?? 'finished');
    t.same(rig.calls.starts.slice(startsBefore), [vm.uuid], 'started once by the receiver');
    t.comment(`early crash: crash→receiver ${secondsSince(crash, alerted)} s, crash→running ${secondsSince(crash, running)} s`);
    t.ok(running - crash < 20_000, `crash → running in ${secondsSince(crash, running)} s (< 20 s)`);
  });

  await t.test('a VM the hypervisor restarts by itself is not started a second time', async (t) => {
    // Running for days: xenopsd applies actions_after_crash=restart, a new domain, the VM never shows Halted.
    store.mod('VM', selfRestarting.ref as Ref, { actions_after_crash: 'restart' });
    const startsBefore = rig.calls.starts.length;
    await rig.control(`/sim/vms/${selfRestarting.uuid}/crash`, { mode: 'halt' });
    t.equal((await rig.vmStatus(selfRestarting.uuid)).power_state, 'Running', 'restarted in place by the hypervisor');
    // Prometheus has scraped the new domain (its uptime restarted), then two more evaluations and the route's wait:
    // long enough for a wrong alert to reach the receiver.
    await waitUntil(
      'Prometheus to see the new domain',
      async () => (await prom.query<{ result: unknown[] }>(`xcp_vm_uptime_seconds{uuid="${selfRestarting.uuid}"} < 60`)).result.length > 0,
      30_000,
      250,
    );
    await new Promise((r) => setTimeout(r, 12_000));
    const halts = await prom.query<{ result: { value: [number, string] }[] }>(`xcp_vm_unexpected_halts_total{uuid="${selfRestarting.uuid}"}`);
    t.equal(halts.result[0]?.value[1], '0', 'no unexpected halt counted');
    t.same(await instanceNotifications(selfRestarting.uuid), [], 'no recovery notification');
    t.same(rig.calls.starts.slice(startsBefore), [], 'nothing started');
  });
});
