// The inventory's first read and the master check of the first poll. A large pool's first event.from takes seconds
// while pool.get_all answers at once: the check must not end that read (it used to, logging "inventory update
// failed: request aborted" and reading the whole inventory again at every start). A read sent while the master did
// not answer is ended when it answers again (a rebooted master never answers it). A proxy in front of the simulated
// master delays the full reads, or swallows requests like a master that stopped.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { parseConfig } from '../../cli/config/bundle.js';
import { memoryLogger } from '../../core/log.js';
import { startExporter } from '../../exporter/main.js';
import { exporterConfigYaml } from '../helpers/exporter.js';
import { sample } from '../helpers/exposition.js';
import { startSim } from '../helpers/sim.js';

const FULL_READ_DELAY_MS = 1500;

const sim = await startSim();
t.teardown(() => sim.stop());

/** The master's XAPI through a proxy: counts full reads (event.from with an empty token), delays them, or answers nothing. */
async function masterProxy() {
  const held: http.ServerResponse[] = [];
  const state = { fullReads: 0, swallow: false };
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    if (state.swallow) {
      held.push(res); // never answered, like a master that stopped mid-flight
      return;
    }
    const call = req.url === '/jsonrpc' ? (JSON.parse(body.toString()) as { method: string; params: unknown[] }) : undefined;
    if (call?.method === 'event.from' && call.params[2] === '') {
      state.fullReads++;
      await new Promise((r) => setTimeout(r, FULL_READ_DELAY_MS));
    }
    try {
      const answer = await fetch(sim.url + req.url, {
        method: req.method,
        headers: { 'content-type': 'application/json' },
        body: body.length ? body : undefined,
      });
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await answer.arrayBuffer()));
    } catch {
      res.destroy(); // the simulator stopped under a long poll (the end of the test)
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(async () => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, state };
}

async function exporterVia(url: string) {
  // The simulated pool's config (call_seconds 5), its master at `url`, polled only by the test and at start.
  const yaml = exporterConfigYaml([sim]).replace(sim.url, url).replace('poll_interval_seconds: 5', 'poll_interval_seconds: 600');
  const logger = memoryLogger('info');
  const ex = await startExporter(parseConfig(yaml, 'test.yml', {}), logger);
  t.teardown(() => ex.stop());
  return { ex, logger };
}

/** The start-up poll's snapshot, once served. */
async function firstPoll(url: string): Promise<string> {
  for (const deadline = Date.now() + 30_000; ; await new Promise((r) => setTimeout(r, 100))) {
    const res = await fetch(url + '/metrics');
    const text = await res.text();
    if (res.status === 200 && (sample(text, 'xcp_exporter_polls_total', {}) ?? 0) >= 1) return text;
    if (Date.now() > deadline) throw new Error('no first poll');
  }
}

t.test('a slow first read is left to finish: read once, no warning, connected at the first poll', async (t) => {
  const proxy = await masterProxy();
  const { ex, logger } = await exporterVia(proxy.url);
  const text = await firstPoll(ex.url);
  t.equal(sample(text, 'xcp_pool_connected', {}), 1, 'the first poll waited for the read (within call_seconds)');
  t.equal(proxy.state.fullReads, 1, 'the whole inventory was read once');
  // (Its hosts' /rrd_updates fail: they are asked at the proxy's port, where the simulated hosts do not listen.)
  t.same(
    logger.lines.filter((l) => String(l.msg).startsWith('inventory')).map((l) => l.msg),
    ['inventory read'],
    'no "inventory update failed"',
  );
});

t.test('a read sent while the master did not answer is ended when it answers again', async (t) => {
  const proxy = await masterProxy();
  proxy.state.swallow = true;
  const { ex } = await exporterVia(proxy.url);
  const down = await firstPoll(ex.url);
  t.equal(sample(down, 'xcp_pool_master_reachable', {}), 0, 'the master check failed');
  t.equal(proxy.state.fullReads, 0, 'the first read went unanswered');
  proxy.state.swallow = false;
  const started = Date.now();
  await ex.exporter.pollOnce();
  const text = await (await fetch(ex.url + '/metrics')).text();
  t.equal(sample(text, 'xcp_pool_connected', {}), 1, 'connected in the next poll, not after the lost call timed out');
  t.equal(proxy.state.fullReads, 1, 'read again');
  t.ok(Date.now() - started < 5000 + FULL_READ_DELAY_MS, `within call_seconds (${Date.now() - started} ms)`);
});
