// `xcp-sentinel demo`: the whole loop on loopback. A simulated pool; the exporter; the recovery hook (fencing through
// the simulator's BMC, toolstack restarts through its control API); and, when Debian's prometheus and
// prometheus-alertmanager are installed, Prometheus with the bundled rules (shorter `for:`) and Alertmanager with the
// example routing. Ctrl-C stops everything.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../core/log.js';
import { startExporter } from '../exporter/main.js';
import { startRecoveryHook } from '../recovery-hooks/main.js';
import { startSimulation } from '../simulator/run.js';
import { SimulatorToolstackShell } from '../simulator/toolstack-shell.js';
import { stockPlugins } from '../simulator/xapi/stock-plugins.js';
import { packageRoot, selfCommand } from './demo/paths.js';
import { type Peer, demoRules, findBinary, startAlertmanager, startPrometheus } from './demo/peers.js';
import { DEFAULT_CONTROL_URL, DEFAULT_SIM_PORT } from './simulate.js';
import { UsageError, parse, untilSignal } from './usage.js';
import { parseConfig } from './config/bundle.js';
import { freePort } from '../core/net.js';

const TOKEN = 'demo-token';

const USAGE = `Usage: xcp-sentinel demo [options]

Run the whole bundle on loopback: a simulated pool, the exporter, the recovery hook (fencing through the simulated
BMC) and, when Debian's prometheus and prometheus-alertmanager are installed, Prometheus with the bundled rules and
Alertmanager. Prints what runs where and how to break something; Ctrl-C stops everything.
  --hosts N            hosts in the simulated pool (default 3)
  --vms-per-host N     guest VMs per host (default 8)
  --sim-port P         the simulated XAPI's port on every host (default ${DEFAULT_SIM_PORT})
  --control-port P     the simulator's control API port on 127.0.0.1 (default ${Number(new URL(DEFAULT_CONTROL_URL).port)})
  --no-prometheus      do not start Prometheus and Alertmanager even when installed
The exporter (9004), the recovery hook (15868), Prometheus (9090) and Alertmanager (9093) take another free port
when theirs is in use; the banner says which.
`;

/** The alerts page of this Prometheus: \`/alerts\` (upstream builds), \`/classic/alerts\` (Debian's 2.x, built without
 * the React UI, answers 404 on \`/alerts\`); undefined when neither answers. */
export async function alertsPageOf(url: string): Promise<string | undefined> {
  for (const path of ['/alerts', '/classic/alerts']) {
    const res = await fetch(url + path, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
    if (res?.ok) return path;
  }
  return undefined;
}

export async function demoCommand(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      hosts: { type: 'string' },
      'vms-per-host': { type: 'string' },
      'sim-port': { type: 'string' },
      'control-port': { type: 'string' },
      'no-prometheus': { type: 'boolean' },
    },
    USAGE,
  );
  const int = (name: string, value: string | undefined, def: number, min: number, max: number) => {
    if (value === undefined) return def;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${value}"`);
    return n;
  };
  const simPort = int('sim-port', values['sim-port'], DEFAULT_SIM_PORT, 1, 65535);
  const controlPort = int('control-port', values['control-port'], Number(new URL(DEFAULT_CONTROL_URL).port), 1, 65535);
  const size = { hosts: int('hosts', values.hosts, 3, 2, 250), vmsPerHost: int('vms-per-host', values['vms-per-host'], 8, 1, 1000) };
  const logger = createLogger({ level: (process.env.XCP_SENTINEL_LOG_LEVEL as 'info' | undefined) ?? 'info' });
  const root = packageRoot();
  const dir = mkdtempSync(join(tmpdir(), 'xcp-sentinel-demo-'));
  const stops: (() => Promise<void>)[] = [];
  try {
    const sim = await startSimulation({
      logger: logger.child({ component: 'simulator' }),
      port: simPort,
      controlPort,
      hostDeadAfterMs: 20_000,
      guestHeartbeatMs: 15_000,
      plugins: stockPlugins(),
      // A healthy pool: the hardware profiles without faults; the faults of profile 2 (the Supermicro with failed fans
      // and failing disks) are injected on demand (\`simulate hardware-fault\`, in the banner).
      hardware: { profiles: [0, 1] },
      size: { ...size, disksPerVm: 2, vifsPerVm: 2, vcpusPerVm: 2, hostCpus: 16 },
    }).catch((err: NodeJS.ErrnoException & { address?: string; port?: number }) => {
      if (err.code !== 'EADDRINUSE') throw err;
      throw new UsageError(`the simulator cannot listen on ${err.address}:${err.port}: the port is in use; move it with --sim-port P / --control-port P`);
    });
    stops.push(() => sim.stop());
    const status = sim.control.status();
    const tokenFile = join(dir, 'recovery-hook.token');
    writeFileSync(tokenFile, TOKEN + '\n');
    const self = selfCommand().join(' ');
    const bmc = Object.fromEntries(status.hosts.map((h) => [h.name, h.name]));
    const exporterPort = await freePort(9004);
    const receiverPort = await freePort(15868);
    const config = parseConfig(
      `pools:
  - name: ${status.pool}
    url: ${sim.url}
    username: ${status.username}
    password: simulated
    # Short hardware intervals, so an injected hardware fault shows within seconds (defaults: 60 s IPMI, 300 s SMART).
    hardware: { transport: plugin, ipmi: { interval_seconds: 10 }, smart: { interval_seconds: 10 } }
exporter:
  listen: 127.0.0.1:${exporterPort}
  poll_interval_seconds: 10
  rrd: { timeout_seconds: 5 }
recovery_hook:
  listen: 127.0.0.1:${receiverPort}
  store_path: ${join(dir, 'recovery-hook.sqlite')}
  tokens: [{ name: demo, token_file: ${tokenFile} }]
  pools:
    ${status.pool}:
      mode: auto
      fencing:
        user: ADMIN
        password: demo
        bmc: ${JSON.stringify(bmc)}
        power_off_command: ${self} simulate power-off {bmc} --control ${sim.controlUrl} --ipmitool-output
        power_status_command: ${self} simulate power-status {bmc} --control ${sim.controlUrl} --ipmitool-output
`,
      join(dir, 'sentinel.yml'),
    );
    const exporter = await startExporter(config, logger.child({ component: 'exporter' }));
    stops.push(() => exporter.stop());
    const receiver = await startRecoveryHook(config, logger.child({ component: 'recovery-hook' }), {
      shellFor: () => new SimulatorToolstackShell(sim.controlUrl),
    });
    stops.push(() => receiver.stop());

    const peers: Peer[] = [];
    const missing: string[] = [];
    const promBin = values['no-prometheus'] ? undefined : findBinary('prometheus');
    const amBin = values['no-prometheus'] ? undefined : findBinary('prometheus-alertmanager', 'alertmanager');
    if (!promBin) missing.push('prometheus');
    if (!amBin) missing.push('prometheus-alertmanager');
    if (amBin) {
      const am = await startAlertmanager(amBin, {
        dir,
        port: await freePort(9093),
        exampleFile: join(root, 'rules/alertmanager.example.yml'),
        webhookUrl: `${receiver.url}/alertmanager`,
        tokenFile,
      });
      stops.push(() => am.stop());
      peers.push(am);
    }
    if (promBin) {
      const prom = await startPrometheus(promBin, {
        dir,
        port: await freePort(9090),
        alertmanagerUrl: peers.find((p) => p.name === 'alertmanager')?.url,
        rules: demoRules(join(root, 'rules/xcp-alerts.yml'), '20s'),
        targets: [
          { job: 'xcp-sentinel', target: new URL(exporter.url).host },
          { job: 'xcp-sentinel-recovery', target: new URL(receiver.url).host },
        ],
      });
      stops.push(() => prom.stop());
      peers.push(prom);
    }

    const h = status.hosts;
    // The VMs VmHaltedUnexpectedly acts on: HA-protected (ha_restart_priority "restart", so ha_always_run is set).
    const protectedVms = [...sim.pool.store.table('VM').values()]
      .filter((vm) => !vm.is_control_domain && !vm.is_a_template && vm.ha_always_run === true)
      .map((vm) => String(vm.name_label))
      .sort();
    const crashExample = protectedVms[0] ?? 'vm-01-001';
    const control = controlPort === Number(new URL(DEFAULT_CONTROL_URL).port) ? '' : ` --control ${sim.controlUrl}`;
    const prometheus = peers.find((p) => p.name === 'prometheus');
    const alertsPage = prometheus ? await alertsPageOf(prometheus.url) : undefined;
    const cli = process.argv[1]?.endsWith('.ts') ? 'npm run xcp-sentinel --' : 'npx xcp-sentinel';
    process.stdout.write(`
xcp-sentinel demo — simulated pool "${status.pool}": ${h.length} hosts, ${Object.values(status.vms).reduce((a, b) => a + b, 0)} VMs, all on loopback

  simulated XAPI (master)  ${sim.url}   user ${status.username}, password "simulated"
  simulator control API    ${sim.controlUrl}/sim
  exporter                 ${exporter.url}/metrics   ${exporter.url}/health
  recovery hook            ${receiver.url}/v1/notifications   (X-Auth-Token: ${TOKEN})
${peers.map((p) => `  ${p.name.padEnd(24)} ${p.url}`).join('\n')}
${missing.length ? `\n  Not running: ${missing.join(', ')} (install Debian's prometheus and prometheus-alertmanager for the full loop:\n  apt-get install prometheus prometheus-alertmanager). Without them, post alerts to the recovery hook yourself.\n` : ''}
Break something (in another terminal):
  ${cli} simulate fail-host ${h[1]?.name}${control}        a host hangs: HostDown → fenced through the simulated BMC → its VMs restart elsewhere
  ${cli} simulate crash-vm ${crashExample}${control}           a VM halts: VmHaltedUnexpectedly → started again
  ${cli} simulate kill-toolstack ${h[2]?.name ?? h[0]?.name}${control}   xapi dies: ToolstackDown → xe-toolstack-restart → XAPI answers
  ${cli} simulate hardware-fault ${h[0]?.name} failed-fans${control}   fans stop: XcpFanFailed, XcpIpmiSensorCritical
      (also failing-disk and nvme-critical: XcpDiskSmartUnhealthy; "ok" clears the host's hardware faults)
  ${cli} simulate status${control}                      what the pool looks like now; power-on HOST brings a host back
  HA-protected VMs (a crash of any other VM is only reported): ${protectedVms.length ? protectedVms.join(', ') : 'none'}

Watch the recovery:
  curl -s -H 'X-Auth-Token: ${TOKEN}' -H 'OpenStack-API-Version: instance-ha 1.1' ${receiver.url}/v1/notifications
  curl -s ${exporter.url}/metrics | grep -E '^xcp_(host_live|host_rrd_up|vm_resident_host_live)'
${prometheus ? `  ${alertsPage ? `${prometheus.url}${alertsPage}   ` : ''}${prometheus.url}/api/v1/alerts   (alerts fire after 20 s here; the bundled rules wait longer)\n` : ''}  and the logs below.

Configuration and state: ${dir} (removed when the demo stops)
Ctrl-C stops everything.
`);
    await untilSignal();
    // A second Ctrl-C while stopping: stop at once, but leave no temporary folder (peers die with the process).
    const now = () => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    };
    process.once('SIGINT', now).once('SIGTERM', now);
    process.stdout.write("Stopping (a graceful stop waits for the exporter's XAPI long poll, up to 30 s): Ctrl-C again to stop at once.\n");
    return 0;
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err) => logger.warn('stop failed', { error: err }));
    rmSync(dir, { recursive: true, force: true });
  }
}
