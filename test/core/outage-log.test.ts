// Outage logs: one warning when something fails, a reminder now and then, one line when it is back.
import t from 'tap';
import { memoryLogger } from '../../core/log.js';
import { OutageLog } from '../../core/outage-log.js';

t.test('a long outage: failed once, reminded per interval, recovered once', async (t) => {
  const logger = memoryLogger('debug');
  const log = new OutageLog(logger, 60_000);
  const t0 = 1_000_000;
  for (let i = 0; i < 30; i++) log.failed('h1', 'host RRD not collected', { host: 'xcp1' }, t0 + i * 10_000); // 30 polls, 10 s apart
  const warns = logger.lines.filter((l) => l.level === 'warn');
  t.equal(warns.length, 5, 'the first failure, then one reminder a minute (at 60, 120, 180, 240 s)');
  t.equal(warns[0]!.msg, 'host RRD not collected');
  t.equal(warns[1]!.msg, 'host RRD not collected (still)');
  t.equal(warns[1]!.down_seconds, 60);
  t.equal(warns[4]!.failures, 25);
  t.equal(log.isDown('h1'), true);
  log.recovered('h1', 'host RRD collected again', { host: 'xcp1' }, t0 + 300_000);
  log.recovered('h1', 'host RRD collected again', { host: 'xcp1' }, t0 + 310_000);
  const infos = logger.lines.filter((l) => l.level === 'info');
  t.equal(infos.length, 1, 'the return is logged once');
  t.equal(infos[0]!.down_seconds, 300);
  t.equal(infos[0]!.failures, 30);
  log.failed('h1', 'host RRD not collected', {}, t0 + 400_000);
  t.equal(logger.lines.filter((l) => l.level === 'warn').length, 6, 'a new outage warns again at once');
});

t.test('keys of things that are gone are forgotten; two keys are independent', async (t) => {
  const logger = memoryLogger('debug');
  const log = new OutageLog(logger);
  log.failed('rrd:a', 'x');
  log.failed('rrd:b', 'x');
  log.retain((k) => k !== 'rrd:a');
  t.equal(log.isDown('rrd:a'), false);
  t.equal(log.isDown('rrd:b'), true);
  log.recovered('rrd:a', 'back');
  t.equal(logger.lines.filter((l) => l.level === 'info').length, 0, 'nothing to recover for a forgotten key');
});
