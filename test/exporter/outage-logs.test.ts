// Issue #23, "logs stay readable over a long outage": a member host whose XAPI stays unreachable (its toolstack
// dead: XAPI and /rrd_updates fail) is logged when it fails, not at every poll, and once when it is back — through
// the exporter's real poll path against the simulator (the reminder cadence itself: test/core/outage-log.test.ts).
import t from 'tap';
import { memoryLogger } from '../../core/log.js';
import { startExporter } from '../../exporter/main.js';
import { exporterConfigYaml } from '../helpers/exporter.js';
import { startSim } from '../helpers/sim.js';
import { parseConfig } from '../../cli/config/bundle.js';

t.test('a host unreachable for several polls: one warning per failed source, one line when it is back', async (t) => {
  const sim = await startSim({ size: { hosts: 3, vmsPerHost: 1, disksPerVm: 1, vifsPerVm: 1, vcpusPerVm: 1, hostCpus: 2 } });
  t.teardown(() => sim.stop());
  const logger = memoryLogger('info');
  // Short timeouts: every poll waits for the dead host's timeouts (it answers nothing, as a dead host; the probe's
  // login timeout cannot go under 6 s).
  const yaml = exporterConfigYaml([sim]).replace('call_seconds: 5', 'call_seconds: 1').replace('timeout_seconds: 2', 'timeout_seconds: 1');
  const ex = await startExporter(parseConfig(yaml, 'test.yml', {}), logger);
  t.teardown(() => ex.stop());
  await ex.exporter.pollOnce();
  const h = sim.pool.hosts[1]!;
  const name = String(sim.pool.store.get('host', h.ref)!.name_label);
  const about = (level: string) => logger.lines.filter((l) => l.level === level && l.host === name);
  t.same(about('warn'), [], 'healthy: nothing logged about the host');

  sim.pool.killToolstack(h);
  const polls = 3;
  for (let i = 0; i < polls; i++) await ex.exporter.pollOnce();
  const warns = about('warn');
  t.ok(warns.length > 0, `the failure is logged: ${warns.map((l) => l.msg).join('; ')}`);
  const perMessage = new Map<string, number>();
  for (const l of warns) perMessage.set(String(l.msg), (perMessage.get(String(l.msg)) ?? 0) + 1);
  t.same(
    [...perMessage.values()].filter((n) => n > 1),
    [],
    `each failure once over ${polls} polls, not once per poll`,
  );
  const repeated = new Map<string, number>();
  for (const l of logger.lines.filter((x) => x.level === 'warn' || x.level === 'error')) repeated.set(String(l.msg), (repeated.get(String(l.msg)) ?? 0) + 1);
  t.same(
    [...repeated].filter(([, n]) => n > 1),
    [],
    'no warning anywhere repeats',
  );

  sim.pool.restartToolstack(h);
  for (let i = 0; i < 20 && !about('info').some((l) => /again/.test(String(l.msg))); i++) await ex.exporter.pollOnce();
  const back = about('info').filter((l) => /again/.test(String(l.msg)));
  t.ok(back.length > 0, `its return is logged: ${back.map((l) => l.msg).join('; ')}`);
  for (const l of back) t.ok(typeof l.down_seconds === 'number' && typeof l.failures === 'number', `"${l.msg}" says for how long and how many failures`);
  const before = back.length;
  for (let i = 0; i < 3; i++) await ex.exporter.pollOnce();
  t.equal(about('info').filter((l) => /again/.test(String(l.msg))).length, before, 'the return is logged once');
});
