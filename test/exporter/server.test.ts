// The exporter's HTTP server (exporter/server.ts, on node:http): its paths as the Koa router it replaced matched them,
// its methods, HEAD, the gzip negotiation from Accept-Encoding, and a failure inside a request answered and logged.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { memoryLogger } from '../../core/log.js';
import { acceptsGzip } from '../../exporter/accept.js';
import type { Exporter } from '../../exporter/exporter.js';
import { ChunkPool } from '../../exporter/metrics/chunks.js';
import { FamilySet, labelString } from '../../exporter/metrics/families.js';
import { exporterHandler } from '../../exporter/server.js';
import { Snapshot } from '../../exporter/snapshot.js';

const set = new FamilySet();
set.add('xcp_host_live', 'gauge', 'Whether the host is live', labelString({ uuid: 'h1' }), 1);
const snapshot = await Snapshot.make(set.families(), Date.now(), set.seriesCount, new ChunkPool());
const plainText = '# HELP xcp_host_live Whether the host is live\n# TYPE xcp_host_live gauge\nxcp_host_live{uuid="h1"} 1\n';

let healthy: () => { ok: boolean; body: unknown } = () => ({ ok: true, body: { status: 'ok' } });
const logger = memoryLogger('warn');
const server = http.createServer(exporterHandler({ snapshot, health: () => healthy() } as unknown as Exporter, logger)).listen(0, '127.0.0.1');
await once(server, 'listening');
t.teardown(() => void server.close());
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** A raw request (fetch would add its own Accept-Encoding). */
const request = (method: string, path: string, headers: Record<string, string> = {}) =>
  new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const req = http.request(base + path, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });

t.test('the paths: ours and Xen Orchestra’s, any letter case, one trailing slash, a query', async (t) => {
  for (const path of ['/metrics', '/openmetrics/metrics', '/METRICS', '/Metrics/', '/metrics?name[]=x', '/openmetrics/metrics/']) {
    const r = await request('GET', path);
    t.equal(r.status, 200, path);
    t.equal(r.body.toString(), plainText, `${path}: the snapshot`);
  }
  for (const path of ['/health', '/openmetrics/health', '/HEALTH/']) {
    const r = await request('GET', path);
    t.equal(r.status, 200, path);
    t.same(JSON.parse(r.body.toString()), { status: 'ok' });
  }
  for (const path of ['/', '/metricsx', '/metrics//', '/metrics/x', '/openmetrics', '/health.json']) {
    const r = await request('GET', path);
    t.equal(r.status, 404, path);
    t.equal(r.headers['content-type'], 'application/json; charset=utf-8');
    t.same(JSON.parse(r.body.toString()), { error: 'Not found' });
  }
});

t.test('a request target in absolute form (RFC 9112 §3.2.2, as sent to a proxy) names the same paths', async (t) => {
  const { port } = server.address() as AddressInfo;
  // `path` goes into the request line as it is: here the whole URL.
  const absolute = (target: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: target }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.end();
    });
  for (const target of [`${base}/metrics`, `HTTP://exporter.example:9100/openmetrics/metrics?x=1`, `${base}/Metrics/`]) {
    const r = await absolute(target);
    t.equal(r.status, 200, target);
    t.equal(r.body, plainText, `${target}: the snapshot`);
  }
  t.same(JSON.parse((await absolute(`${base}/health`)).body), { status: 'ok' });
  for (const target of [base, `${base}/`, `${base}/nowhere`, `${base}?/metrics`]) t.equal((await absolute(target)).status, 404, target);
});

t.test('GET and HEAD; other methods 405 with Allow, OPTIONS 204', async (t) => {
  const head = await request('HEAD', '/metrics', { 'accept-encoding': 'gzip' });
  t.equal(head.status, 200);
  t.equal(head.headers['content-encoding'], 'gzip');
  t.equal(Number(head.headers['content-length']), snapshot.gzip('text').length, 'HEAD: the gzip body’s length');
  t.equal(head.body.length, 0, 'no body');
  const healthHead = await request('HEAD', '/health');
  t.equal(healthHead.status, 200);
  t.equal(Number(healthHead.headers['content-length']), JSON.stringify({ status: 'ok' }).length);
  t.equal(healthHead.body.length, 0);
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    const r = await request(method, '/metrics');
    t.equal(r.status, 405, method);
    t.equal(r.headers.allow, 'GET, HEAD');
    t.same(JSON.parse(r.body.toString()), { error: `${method} is not allowed: GET or HEAD` });
  }
  const options = await request('OPTIONS', '/health');
  t.equal(options.status, 204);
  t.equal(options.headers.allow, 'GET, HEAD');
  t.equal((await request('POST', '/nowhere')).status, 404, 'an unknown path is 404 whatever the method');
});

t.test('gzip when Accept-Encoding asks for it', async (t) => {
  const gz = await request('GET', '/metrics', { 'accept-encoding': 'gzip' });
  t.equal(gz.headers['content-encoding'], 'gzip');
  t.equal(gz.headers.vary, 'Accept, Accept-Encoding');
  t.equal(gunzipSync(gz.body).toString(), plainText);
  const plain = await request('GET', '/metrics', { 'accept-encoding': 'identity' });
  t.notOk(plain.headers['content-encoding']);
  t.equal(plain.body.toString(), plainText);
  const om = await request('GET', '/metrics', { accept: 'application/openmetrics-text;version=1.0.0', 'accept-encoding': 'gzip' });
  t.match(om.headers['content-type'], 'application/openmetrics-text');
  t.match(gunzipSync(om.body).toString(), /# EOF\n$/);
});

t.test('acceptsGzip: weights, order, wildcards, refusals', async (t) => {
  const cases: [string | undefined, boolean][] = [
    [undefined, false],
    ['', false],
    ['gzip', true], // Prometheus
    ['deflate, gzip, br, zstd', true], // curl --compressed
    ['gzip, deflate, br', true], // browsers
    ['x-gzip', true],
    ['GZIP', true],
    ['*', true],
    ['br', false],
    ['identity', false],
    ['gzip;q=0', false],
    ['gzip;q=0.5', true], // identity not named weighs as little as the lightest coding named
    ['deflate;q=0.3, gzip;q=0.5', true],
    ['gzip;q=0.5, identity', false],
    ['identity;q=0.5, gzip', true],
    ['identity, gzip', false], // a tie: the one named first
    ['gzip, identity', true],
    ['*;q=0.5, identity', false],
    ['*, identity;q=0', true],
    ['identity;q=0', false], // gzip not acceptable either: plain
    ['gzip;q=0, *', false],
    ['gzip ; q = 0.8 , identity ; q=0.7', true],
  ];
  for (const [header, want] of cases) t.equal(acceptsGzip(header), want, String(header));
});

t.test('a failure inside a request: 500 with a JSON body, logged once; the server goes on', async (t) => {
  healthy = () => {
    throw new Error('health exploded');
  };
  t.teardown(() => {
    healthy = () => ({ ok: true, body: { status: 'ok' } });
  });
  const r = await request('GET', '/health');
  t.equal(r.status, 500);
  t.same(JSON.parse(r.body.toString()), { error: 'Internal error' });
  const logged = logger.lines.filter((l) => l.msg === 'request failed');
  t.equal(logged.length, 1);
  t.match(logged[0], { method: 'GET', url: '/health', error: { message: 'health exploded' } });
  t.equal((await request('GET', '/metrics')).status, 200, 'the next request is answered');
});
