// core/peer.ts and core/concurrency.ts's waitFor, the toolkit the demo, the dashboards' preview and the tests start
// their peers with: a peer that answers is handed over and stopped for good; one that cannot start, exits, or never
// gets ready is refused with its own words, quickly, and leaves nothing running.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { waitFor } from '../../core/concurrency.js';
import { startPeer } from '../../core/peer.js';
import { tempDir } from '../helpers/tmp.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('a peer that answers its readiness path is handed over; stop() ends it', async (t) => {
  const dir = tempDir('xcp-peer-');
  writeFileSync(join(dir, 'ready'), 'ok\n');
  // python3's http.server stands in for Prometheus: GET /ready answers 200 once it listens.
  const peer = await startPeer({
    name: 'http.server',
    bin: 'python3',
    args: (port) => ['-m', 'http.server', '--bind', '127.0.0.1', '--directory', dir, String(port)],
    readyPath: '/ready',
  });
  t.match(peer.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.equal(await (await fetch(`${peer.url}/ready`)).text(), 'ok\n');
  await peer.stop();
  await t.rejects(fetch(`${peer.url}/ready`, { signal: AbortSignal.timeout(2000) }), 'nothing listens after stop()');
});

t.test('a binary that cannot be started is refused at once, naming why', async (t) => {
  const started = Date.now();
  await t.rejects(startPeer({ name: 'prometheus', bin: '/nonexistent/prometheus', args: () => [] }), { message: /prometheus exited: .*ENOENT/ });
  t.ok(Date.now() - started < 10_000, 'not after the start timeout');
});

t.test('a peer that exits at start is refused with the last lines it printed', async (t) => {
  await t.rejects(startPeer({ name: 'alertmanager', bin: 'sh', args: () => ['-c', 'echo "error loading config: bad route" >&2; exit 1'] }), {
    message: /alertmanager exited: error loading config: bad route/,
  });
});

t.test('a peer that never gets ready is refused at the deadline and killed', async (t) => {
  const dir = tempDir('xcp-peer-');
  const pidFile = join(dir, 'pid');
  const start = startPeer({ name: 'slow', bin: 'sh', args: () => ['-c', `echo $$ > ${pidFile}; exec sleep 60`], startTimeoutMs: 1000 });
  await t.rejects(start, { message: /slow did not become ready/ });
  const pid = Number(readFileSync(pidFile, 'utf8'));
  await waitFor('the slow peer killed', () => !alive(pid), { timeoutMs: 10_000 });
  t.notOk(alive(pid), 'its process is gone');
});

t.test('waitFor: the probe value once it comes; a probe that throws is "not yet"; the deadline names the last error', async (t) => {
  let calls = 0;
  t.equal(await waitFor('three calls', () => (++calls >= 3 ? calls : undefined), { everyMs: 1 }), 3);
  let tries = 0;
  const value = await waitFor(
    'a peer that refuses twice',
    async () => {
      if (++tries < 3) throw new Error('ECONNREFUSED');
      return 'up';
    },
    { everyMs: 1 },
  );
  t.equal(value, 'up');
  await t.rejects(
    waitFor(
      'something that never comes',
      () => {
        throw new Error('ECONNREFUSED 127.0.0.1:9');
      },
      { timeoutMs: 50, everyMs: 10 },
    ),
    { message: 'timed out waiting for something that never comes: ECONNREFUSED 127.0.0.1:9' },
  );
  t.equal(await waitFor('zero is a value', () => 0), 0, 'only undefined and false mean "not yet"');
});
