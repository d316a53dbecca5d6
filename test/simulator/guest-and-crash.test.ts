// Simulator fidelity (simulator/FIDELITY.md): the guest agent as xapi and rrdd show it, and what a crash or an API
// shutdown leaves in the database. Each test states the xapi behaviour it checks.
import t from 'tap';
import { XapiClient } from '../../core/xapi/client.js';
import { Secret } from '../../core/config/secret.js';
import { fetchRrdUpdates } from '../../core/rrd/fetch.js';
import type { RrdUpdate } from '../../core/rrd/parse.js';
import { CRASH_RESTART_MIN_RUN_MS } from '../../simulator/crash.js';
import { xapiDate } from '../../simulator/model/types.js';
import { startSim } from '../helpers/sim.js';
import { sleep } from '../../core/concurrency.js';

// The agent rewrites data/meminfo_free every 1 s here (xe-daemon: 120 s).
const sim = await startSim({ guestHeartbeatMs: 1000 });
t.teardown(() => sim.stop());
const xapi = new XapiClient({ url: sim.url, username: 'root', password: new Secret('simulated'), callTimeoutMs: 3000 });
t.teardown(() => xapi.logout());
await xapi.login();

type Rec = Record<string, unknown>;
const running = async () =>
  Object.entries(await xapi.getAllRecords<Rec>('VM')).filter(([, v]) => !v.is_control_domain && !v.is_a_template && v.power_state === 'Running');

/** The VM's memory_internal_free column from its host's /rrd_updates, oldest first (NaN rows dropped). */
async function memoryReports(vm: Rec, windowSeconds: number): Promise<{ t: number; v: number }[]> {
  const host = await xapi.call<Rec>('host.get_record', vm.resident_on);
  const update: RrdUpdate = await fetchRrdUpdates(xapi, host.address as string, { windowSeconds, timeoutMs: 3000, maxBodyBytes: 1 << 24 });
  const col = update.columns.findIndex((c) => c.cf === 'AVERAGE' && c.uuid === vm.uuid && c.name === 'memory_internal_free');
  if (col < 0) return [];
  return update.rows
    .map((r) => ({ t: r.t, v: r.values[col]! }))
    .filter((r) => Number.isFinite(r.v))
    .sort((a, b) => a.t - b.t);
}

t.test('VM_guest_metrics.last_updated stays put on a healthy guest (xapi_guest_agent.ml writes it only on a change)', async (t) => {
  const [[, vm]] = (await running()) as [[string, Rec]];
  const before = await xapi.call<string>('VM_guest_metrics.get_last_updated', vm.guest_metrics);
  // Several agent periods: a healthy agent keeps writing data/meminfo_free, which xapi ignores.
  await sleep(3500);
  t.equal(await xapi.call('VM_guest_metrics.get_last_updated', vm.guest_metrics), before, 'last_updated unchanged');
  t.equal(await xapi.call('VM.get_power_state', vm.uuid ? await xapi.call('VM.get_by_uuid', vm.uuid) : ''), 'Running');
});

t.test("rrdd's memory_internal_free: a new value per agent write while the agent lives, a constant once it stops", async (t) => {
  const [[ref, vm]] = (await running()) as [[string, Rec]];
  const live = await memoryReports(vm, 60);
  t.ok(live.length >= 10, `5 s rows over a minute (${live.length})`);
  t.ok(
    live.every((r) => Number.isInteger(r.v) && r.v > 0),
    'whole KiB, as xenstore holds them',
  );
  t.ok(new Set(live.map((r) => r.v)).size >= live.length - 1, 'changes from row to row (the agent writes every second here)');

  await fetch(`${sim.controlUrl}/sim/vms/${vm.uuid}/crash`, { method: 'POST', body: '{"mode":"heartbeat"}' });
  const frozenAt = Date.now() / 1000;
  await sleep(11_000);
  const after = (await memoryReports(vm, 60)).filter((r) => r.t > frozenAt + 1);
  t.ok(after.length >= 1, `rows after the freeze (${after.length})`);
  t.equal(new Set(after.map((r) => r.v)).size, 1, 'one value: rrdd serves the last write, not a gap');
  t.equal(await xapi.call('VM.get_power_state', ref), 'Running', 'the VM still runs');

  await xapi.call('VM.hard_reboot', ref);
  const rebootedAt = Date.now();
  t.ok(
    Date.parse(String(await xapi.call('VM_guest_metrics.get_last_updated', vm.guest_metrics)).replace(/^(\d{4})(\d{2})(\d{2})T/, '$1-$2-$3T')) >=
      Math.floor(rebootedAt / 1000) * 1000 - 1000,
    "a new domain's agent reports once: last_updated moves (xapi's cache is per domid)",
  );
  // The new domain's rows start with the first whole 5 s step after its start (NaN before it).
  let back: { t: number; v: number }[] = [];
  for (const deadline = Date.now() + 20_000; back.length === 0 && Date.now() < deadline; await sleep(500))
    back = (await memoryReports(vm, 20)).filter((r) => r.t * 1000 > rebootedAt);
  t.ok(back.length >= 1 && back.every((r) => r.v !== after[0]!.v), 'the agent writes again after the reboot');
});

t.test('a crash leaves ha_always_run set; an API shutdown clears it (xapi_vm.ml, xapi_xenops.ml)', async (t) => {
  const vms = (await running()).filter(([, v]) => v.ha_restart_priority === 'restart');
  t.ok(vms.length >= 2, 'two protected running VMs');
  const [[crashRef, crashed], [stopRef]] = vms as [[string, Rec], [string, Rec]];
  t.equal(crashed.ha_always_run, true, 'a running protected VM has ha_always_run');
  await fetch(`${sim.controlUrl}/sim/vms/${crashed.uuid}/crash`, { method: 'POST', body: '{"mode":"halt"}' });
  t.match(await xapi.call('VM.get_record', crashRef), { power_state: 'Halted', ha_always_run: true, actions_after_crash: 'destroy' });
  await xapi.call('VM.clean_shutdown', stopRef);
  t.match(await xapi.call('VM.get_record', stopRef), { power_state: 'Halted', ha_always_run: false });
  await xapi.call('VM.start', stopRef, false, false);
  t.match(await xapi.call('VM.get_record', stopRef), { power_state: 'Running', ha_always_run: true }, 'VM.start sets it again');
});

t.test('actions_after_crash=restart: xenopsd restarts the domain in place, unless it crashed within 120 s of its start', async (t) => {
  const [[ref, vm]] = (await running()).filter(([, v]) => v.ha_restart_priority !== 'restart') as [[string, Rec]];
  sim.pool.store.mod('VM', ref, { actions_after_crash: 'restart' });
  // Started long ago: restarted in place, a new domain, still Running.
  sim.pool.store.mod('VM_metrics', vm.metrics as string, { start_time: xapiDate(Date.now() - CRASH_RESTART_MIN_RUN_MS - 5000) });
  const domid = await xapi.call('VM.get_domid', ref);
  await fetch(`${sim.controlUrl}/sim/vms/${vm.uuid}/crash`, { method: 'POST', body: '{"mode":"halt"}' });
  t.equal(await xapi.call('VM.get_power_state', ref), 'Running', 'restarted by the hypervisor');
  t.not(await xapi.call('VM.get_domid', ref), domid, 'a new domain');
  // Crashing again at once (it just started): xenopsd shuts it down instead.
  await fetch(`${sim.controlUrl}/sim/vms/${vm.uuid}/crash`, { method: 'POST', body: '{"mode":"halt"}' });
  t.equal(await xapi.call('VM.get_power_state', ref), 'Halted', 'a crash within 120 s of the start halts the VM');
});
