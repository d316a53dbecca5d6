// `xcp-sentinel demo` as a new user meets it: the banner's crash example is an HA-protected VM and the protected
// VMs are listed; the healthy pool has no critical hardware reading; a second Ctrl-C leaves no temporary folder.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { freePort } from '../../core/net.js';
import { waitFor } from '../../core/concurrency.js';

const CLI = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));

t.test('demo: banner, healthy hardware, two Ctrl-C', async (t) => {
  const [simPort, controlPort] = [await freePort(), await freePort()];
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', CLI, 'demo', '--no-prometheus', '--sim-port', String(simPort), '--control-port', String(controlPort)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
  const metrics = await waitFor('hardware metrics', async () => {
    const text = await (await fetch(`${exporterUrl}/metrics`)).text().catch(() => '');
    return /^xcp_host_disk_smart_healthy\{/m.test(text) && /^xcp_host_ipmi_sensor_state\{/m.test(text) ? text : undefined;
  }, { timeoutMs: 90_000, everyMs: 250 });
  t.same(metrics.match(/^xcp_host_disk_smart_healthy\{.*\} 0$/gm) ?? [], [], 'no disk fails its SMART check');
  t.same(metrics.match(/^xcp_host_ipmi_sensor_state\{.*\} 2$/gm) ?? [], [], 'no IPMI sensor is critical');

  child.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGINT');
  const code = await exited;
  t.equal(code, 130, 'the second Ctrl-C ends the demo at once');
  t.notOk(existsSync(dir!), 'and the temporary folder is gone');
});
