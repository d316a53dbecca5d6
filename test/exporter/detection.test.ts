// What the detection rules read, from the exporter against the simulated pool modelled on xapi (simulator/FIDELITY.md):
// the guest agent's liveness (xcp_vm_guest_memory_report_age_seconds) and unexpected halts told by VM.ha_always_run
// (xcp_vm_unexpected_halts_total, xcp_vm_last_unexpected_halt_timestamp_seconds).
import t from 'tap';
import { memoryLogger } from '../../core/log.js';
import { GuestReports } from '../../exporter/rrd/guest-reports.js';
import { GuestAgents } from '../../simulator/guest-agent.js';
import { xapiDate } from '../../simulator/model/types.js';
import { DEFAULT_SIM_OPTIONS } from '../../simulator/pool.js';
import { SourceCache, buildWindow } from '../../simulator/rrd/updates.js';
import { startTestExporter } from '../helpers/exporter.js';
import { lines, value } from '../helpers/exposition.js';
import { startSim } from '../helpers/sim.js';
import { waitFor } from '../../core/concurrency.js';

t.test('a simulated day of stable guest data: healthy guests stay young, a stopped agent ages', async (t) => {
  // The simulator's pool and RRDs, read at the exporter's default cadence (30 s polls of a 5 s archive) through
  // simulated time: the agent rewrites data/meminfo_free every 120 s, as xe-daemon does.
  const sim = await startSim({ guestHeartbeatMs: DEFAULT_SIM_OPTIONS.guestHeartbeatMs });
  t.teardown(() => sim.stop());
  const { store } = sim.pool;
  const agents = new GuestAgents(DEFAULT_SIM_OPTIONS.guestHeartbeatMs);
  const cache = new SourceCache(store, 4, agents);
  const reports = new GuestReports();
  const lastUpdated = new Map([...store.table('VM_guest_metrics')].map(([ref, gm]) => [ref, gm.last_updated]));
  const guests = [...store.table('VM')].filter(([, v]) => !v.is_control_domain && !v.is_a_template && v.power_state === 'Running');
  const [hungRef, hung] = guests[0]!;
  const t0 = Math.floor(Date.now() / 1000);
  const day = 86_400;
  const hangAt = t0 + day - 3600;
  const maxAge = new Map<string, number>();
  let hungAge = 0;
  for (let now = t0; now <= t0 + day; now += 30) {
    if (now >= hangAt) agents.freeze(hungRef, hangAt * 1000);
    for (const hostRef of store.table('host').keys()) {
      const w = buildWindow(store, cache, hostRef, { start: -40, interval: 5, host: false, vmUuids: [], srUuids: [] }, now);
      const asc = [...w.rows].sort((a, b) => a.t - b.t);
      w.legend.forEach((key, column) => {
        const [, , uuid, name] = key.split(':');
        if (name !== 'memory_internal_free') return;
        const age = reports.observe(uuid!, asc, column)!;
        if (uuid === hung.uuid && now >= hangAt) hungAge = age;
        else maxAge.set(uuid!, Math.max(maxAge.get(uuid!) ?? 0, age));
      });
    }
  }
  t.equal(maxAge.size, guests.length, 'every running guest reported all day (dom0 has no guest agent here)');
  const worst = Math.max(...maxAge.values());
  t.ok(worst <= 125, `a healthy guest's memory report is never older than one agent period (worst ${worst} s)`);
  t.ok(hungAge >= 3500, `the guest whose agent stopped an hour ago: ${hungAge} s`);
  for (const [ref, gm] of store.table('VM_guest_metrics')) t.equal(gm.last_updated, lastUpdated.get(ref), 'VM_guest_metrics.last_updated never moved');
});

t.test('the exporter: memory report age and unexpected halts, from the simulator over XAPI', async (t) => {
  const sim = await startSim({ guestHeartbeatMs: 1000 });
  const ex = await startTestExporter([sim], '', memoryLogger('warn'));
  t.teardown(async () => {
    await ex.stop();
    await sim.stop();
  });
  const scrape = async () => (await fetch(ex.url + '/metrics')).text();
  const poll = () => ex.exporter.pollOnce();
  await ex.exporter.pools[0]!.watcher.whenSynced(5000);
  await poll();
  const { store } = sim.pool;
  const guests = [...store.table('VM')].filter(([, v]) => !v.is_control_domain && !v.is_a_template && v.power_state === 'Running');
  const protectedVms = guests.filter(([, v]) => v.ha_restart_priority === 'restart');
  const [crashRef, crashed] = protectedVms[0]!;
  const [stopRef, stopped] = protectedVms[1]!;
  const [restartRef, restarter] = guests.find(([, v]) => v.ha_restart_priority !== 'restart')!;

  let text = await scrape();
  const halts = (uuid: unknown) =>
    lines(text, 'xcp_vm_unexpected_halts_total')
      .filter((l) => l.includes(`uuid="${uuid}"`))
      .map(value);
  t.equal(lines(text, 'xcp_vm_unexpected_halts_total').length, 12, 'a counter for every guest VM');
  t.ok(
    lines(text, 'xcp_vm_unexpected_halts_total').every((l) => value(l) === 0),
    'all 0',
  );
  t.same(lines(text, 'xcp_vm_last_unexpected_halt_timestamp_seconds'), []);
  t.ok(lines(text, 'xcp_vm_guest_memory_report_age_seconds').length >= guests.length, 'a memory report age per running guest');

  // A crash (actions_after_crash=destroy), an operator's shutdown, and a crash the hypervisor restarts by itself.
  const hostName = store.get('host', crashed.resident_on as string)!.name_label;
  const crashTime = Date.now();
  sim.pool.crashVm(crashRef, 'halt');
  sim.pool.vmShutdown(stopRef, 'VM.clean_shutdown');
  store.mod('VM', restartRef, { actions_after_crash: 'restart' });
  store.mod('VM_metrics', restarter.metrics as string, { start_time: xapiDate(Date.now() - 200_000) });
  sim.pool.crashVm(restartRef, 'halt');
  await t.resolves(
    waitFor(
      'the crash counted',
      async () => {
        await poll();
        text = await scrape();
        return halts(crashed.uuid)[0] === 1;
      },
      { timeoutMs: 10_000 },
    ),
    'the crash is counted',
  );
  t.same(halts(stopped.uuid), [0], "the operator's shutdown is not (ha_always_run cleared by VM.clean_shutdown)");
  t.same(halts(restarter.uuid), [0], 'a VM the hypervisor restarted never halted: not counted');
  t.equal(store.get('VM', restartRef)!.power_state, 'Running');
  const ts = lines(text, 'xcp_vm_last_unexpected_halt_timestamp_seconds');
  t.equal(ts.length, 1);
  t.match(ts[0], `host_name="${hostName}"`, 'with the host it ran on');
  t.ok(Math.abs(value(ts[0]!) - crashTime / 1000) < 5, 'at the time of the crash');

  // A frozen agent: its memory report stops changing; the others keep changing.
  const [hungRef, hung] = guests.find(([r]) => r !== crashRef && r !== stopRef && r !== restartRef)!;
  sim.pool.crashVm(hungRef, 'heartbeat');
  await new Promise((r) => setTimeout(r, 11_000));
  await poll();
  text = await scrape();
  const age = (uuid: unknown) =>
    lines(text, 'xcp_vm_guest_memory_report_age_seconds')
      .filter((l) => l.includes(`uuid="${uuid}"`))
      .map(value)[0]!;
  t.ok(age(hung.uuid) >= 5, `the hung guest's report ages (${age(hung.uuid)} s)`);
  const others = guests.filter(([r]) => ![crashRef, stopRef, hungRef].includes(r)).map(([, v]) => age(v.uuid));
  t.ok(
    others.every((a) => a <= 5),
    `the others stay fresh (${others.join(', ')})`,
  );
});
