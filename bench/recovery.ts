// Recovery: a host with 200 VMs fails in the simulator; time from the notification to every VM running elsewhere,
// with the receiver's default parallelism (parallel_starts). The simulator boots a VM in vmBootMs (default 200 ms).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../core/log.js';
import { startRecoveryHook } from '../recovery-hooks/main.js';
import { SimBmc } from '../simulator/bmc.js';
import type { Ref } from '../simulator/model/types.js';
import { startSimulation } from '../simulator/run.js';
import { stockPlugins } from '../simulator/xapi/stock-plugins.js';
import { parseConfig } from '../cli/config/bundle.js';

export async function benchRecovery(vms: number) {
  const logger = createLogger({ level: 'warn' });
  const dir = mkdtempSync(join(tmpdir(), 'xcp-recovery-bench-'));
  const sim = await startSimulation({
    logger,
    port: 0,
    firstAddress: '127.90.0.2',
    hostDeadAfterMs: 500,
    plugins: stockPlugins(),
    hardware: false,
    size: { hosts: 4, vmsPerHost: vms, disksPerVm: 2, vifsPerVm: 2, vcpusPerVm: 2, hostCpus: 32 },
  });
  const config = parseConfig(
    `pools:
  - { name: ${sim.pool.options.name}, url: "${sim.url}", username: root, password: simulated }
recovery_hook:
  listen: 127.0.0.1:0
  store_path: ${join(dir, 'store.sqlite')}
  tokens: [{ name: bench, token: bench-token }]
`,
    join(dir, 'sentinel.yml'),
  );
  const receiver = await startRecoveryHook(config, logger, { fencerFor: () => new SimBmc(sim.controlUrl), pollIntervalMs: 250 });
  try {
    const victim = sim.pool.hosts[1]!;
    const host = sim.pool.store.get('host', victim.ref)!;
    const guests = (host.resident_VMs as Ref[]).filter((r) => !sim.pool.store.get('VM', r)!.is_control_domain);
    sim.pool.failHost(victim);
    await sim.server.sync();
    while (sim.pool.isLive(victim.ref)) await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    // What Alertmanager posts when XcpHostDown fires.
    const alert = {
      status: 'firing',
      labels: {
        alertname: 'XcpHostDown',
        xcp_notification_type: 'COMPUTE_HOST',
        recovery: 'true',
        pool_name: sim.pool.options.name,
        host_name: host.name_label,
        host_uuid: host.uuid,
      },
      annotations: {},
      startsAt: new Date().toISOString(),
      endsAt: '0001-01-01T00:00:00Z',
      fingerprint: 'bench0000000001',
    };
    const res = await fetch(`${receiver.url}/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer bench-token' },
      body: JSON.stringify({
        version: '4',
        status: 'firing',
        receiver: 'recovery-hook',
        groupLabels: {},
        commonLabels: {},
        commonAnnotations: {},
        externalURL: '',
        groupKey: 'bench',
        alerts: [alert],
      }),
    });
    if (res.status !== 202) throw new Error(`webhook refused: ${res.status} ${await res.text()}`);
    const uuid = ((await res.json()) as { receipts: { notification_uuid: string }[] }).receipts[0]!.notification_uuid;
    let status = '';
    for (;;) {
      const running = guests.filter((r) => {
        const vm = sim.pool.store.get('VM', r)!;
        return vm.power_state === 'Running' && vm.resident_on !== victim.ref;
      }).length;
      const n = (await (await fetch(`${receiver.url}/v1/notifications/${uuid}`, { headers: { 'x-auth-token': 'bench-token' } })).json()) as {
        notification: { status: string };
      };
      status = n.notification.status;
      if (running === guests.length || ['finished', 'failed', 'ignored'].includes(status)) {
        return {
          vms: guests.length,
          running,
          seconds: (performance.now() - started) / 1000,
          status,
          parallelStarts: config.recovery_hook.hostFailure.parallelStarts,
          bootMs: sim.pool.options.vmBootMs,
        };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await receiver.stop();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
