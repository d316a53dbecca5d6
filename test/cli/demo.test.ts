// `xcp-sentinel demo` as a new user meets it: the banner's crash example is an HA-protected VM and the protected
// VMs are listed; the healthy pool has no critical hardware reading, and the banner's hardware fault makes one; a
// second Ctrl-C leaves no temporary folder.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { freePort } from '../../core/net.js';
import { waitFor } from '../../core/concurrency.js';
import { alertsPageOf } from '../../cli/demo.js';
import { HARDWARE_FAULTS } from '../../simulator/hardware/plugins.js';
import { startPrometheus } from '../helpers/prometheus.js';

const CLI = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));

t.test('demo: banner, healthy hardware, an injected hardware fault, two Ctrl-C', async (t) => {
  const [simPort, controlPort] = [await freePort(), await freePort()];
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', CLI, 'demo', '--no-prometheus', '--sim-port', String(simPort), '--control-port', String(controlPort)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  t.teardown(() => void child.kill('SIGKILL'));
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (out += String(d)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await waitFor('the banner', () => out.includes('Ctrl-C stops everything.'), { timeoutMs: 90_000, everyMs: 250 });

  const dir = /Configuration and state: (\S+)/.exec(out)?.[1];
  t.ok(dir && existsSync(dir), 'the banner names the temporary folder, which exists');
  const crash = /simulate crash-vm (\S+) --control (\S+)/.exec(out);
  t.ok(crash, 'the crash example (with --control, the control port was moved)');
  const protectedList = /HA-protected VMs \(a crash of any other VM is only reported\): (.+)/.exec(out)?.[1]?.split(', ') ?? [];
  t.ok(protectedList.length > 0, 'the protected VMs are listed');
  t.ok(protectedList.includes(crash![1]!), 'the crash example is one of them');
  const vm = (await (await fetch(`${crash![2]}/sim/vms/${crash![1]}`)).json()) as { ha_restart_priority: string; power_state: string };
  t.match(vm, { ha_restart_priority: 'restart', power_state: 'Running' }, 'the simulator agrees: protected, running');

  const exporterUrl = /exporter\s+(http:\/\/\S+)\/metrics/.exec(out)![1]!;
  const metrics = await waitFor(
    'hardware metrics',
    async () => {
      // A failed fetch (a kept-alive connection the exporter closed) is retried, not a failure.
      const text = await fetch(`${exporterUrl}/metrics`)
        .then((r) => r.text())
        .catch(() => '');
      return /^xcp_host_disk_smart_healthy\{/m.test(text) && /^xcp_host_ipmi_sensor_state\{/m.test(text) ? text : undefined;
    },
    { timeoutMs: 90_000, everyMs: 250 },
  );
  t.same(metrics.match(/^xcp_host_disk_smart_healthy\{.*\} 0$/gm) ?? [], [], 'no disk fails its SMART check');
  t.same(metrics.match(/^xcp_host_ipmi_sensor_state\{.*\} 2$/gm) ?? [], [], 'no IPMI sensor is critical');

  // The hardware faults are injectable instead: the banner's command, through the CLI, shows within a few cycles.
  const hw = /simulate hardware-fault (\S+) failed-fans --control (\S+)/.exec(out);
  t.ok(hw, 'the banner offers a hardware fault');
  for (const fault of Object.keys(HARDWARE_FAULTS)) t.match(out, fault, `the banner names ${fault}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'simulate', 'hardware-fault', hw![1]!, 'failed-fans', '--control', hw![2]!], {
    encoding: 'utf8',
  });
  t.equal(r.status, 0, r.stderr);
  t.match(JSON.parse(r.stdout), { hardware_faults: ['failed-fans'] }, 'the simulator says so');
  await waitFor(
    'a critical IPMI sensor',
    async () => {
      // A failed fetch (a kept-alive connection the exporter closed) is retried, not a failure.
      const text = await fetch(`${exporterUrl}/metrics`)
        .then((r) => r.text())
        .catch(() => '');
      return /^xcp_host_ipmi_sensor_state\{.*\} 2$/m.test(text) ? true : undefined;
    },
    { timeoutMs: 90_000, everyMs: 250 },
  );
  t.pass('the exporter reads the failed fans');

  // The second Ctrl-C once the demo took the first (two sent at once may reach it as one: signals do not queue); the
  // stop (servers, store) takes longer than that.
  child.kill('SIGINT');
  await waitFor('the first Ctrl-C taken', () => out.includes('Ctrl-C again to stop at once'), { timeoutMs: 10_000, everyMs: 5 });
  child.kill('SIGINT');
  const code = await exited;
  t.equal(code, 130, `the second Ctrl-C ends the demo at once (exit ${code})`);
  t.notOk(existsSync(dir!), 'and the temporary folder is gone');
});

const prometheus = spawnSync('sh', ['-c', 'command -v prometheus']).status === 0;
t.test("the banner's Prometheus links answer on this machine's Prometheus", { skip: prometheus ? false : 'prometheus not installed' }, async (t) => {
  const prom = await startPrometheus('global: { scrape_interval: 1m }\n');
  t.teardown(() => prom.stop());
  const page = await alertsPageOf(prom.url);
  t.ok(page, `an alerts page answers (${page})`);
  t.equal((await fetch(prom.url + page!)).status, 200, `${page}: 200`);
  if ((await fetch(prom.url + '/alerts')).status === 404) t.equal(page, '/classic/alerts', "Debian's build without the React UI: the classic page");
  t.equal((await fetch(prom.url + '/api/v1/alerts')).status, 200, '/api/v1/alerts: 200');
});
