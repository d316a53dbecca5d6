// Outgoing webhooks against a local HTTP(S) server: the JSON document, headers and token; a 5xx then a 2xx; a
// receiver that never answers; HTTPS with a CA file. The URL's path (a credential for chat tools) never reaches logs.
import { writeFileSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { memoryLogger } from '../../../core/log.js';
import { startNotifiers } from '../../../recovery-hooks/notifiers/index.js';
import { selfSignedCert } from '../../helpers/tls.js';
import { HOST, count, messagesCounter, mustParse, openStore, outboxRows, receive, sleep, tempDir, waitFor } from './helpers/notifiers.js';

interface Hit {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: any;
}

type Handler = (hit: Hit, res: ServerResponse) => void;

async function hookServer(t: Test, handle: Handler, tls?: { key: string; cert: string }) {
  const hits: Hit[] = [];
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const hit = { method: req.method!, url: req.url!, headers: req.headers, body: JSON.parse(raw) };
      hits.push(hit);
      handle(hit, res);
    });
  };
  const server = tls ? createHttpsServer(tls, onRequest) : createServer(onRequest);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { hits, port: (server.address() as { port: number }).port };
}

const SECRET_PATH = '/hooks/T0001/B0002/s3cr3t-path-token';
const TOKEN = 'hook-token-51c2';

function hookSection(dir: string, over: Record<string, unknown> = {}) {
  writeFileSync(join(dir, 'hook.token'), TOKEN);
  return {
    links: { api_base_url: 'https://recovery.example.org:15868', grafana_base_url: 'https://grafana.example.org' },
    poll_interval_seconds: 0.05,
    channels: {
      tickets: {
        type: 'webhook',
        url_env: 'HOOK_URL',
        token_file: 'hook.token',
        headers: { 'X-Team': 'infra' },
        backoff: { initial_seconds: 0.1, max_seconds: 0.2 },
        timeout_seconds: 2,
        ...over,
      },
    },
  };
}

async function start(t: Test, dir: string, section: unknown, url: string) {
  const store = openStore(dir);
  const metrics = messagesCounter();
  const logger = memoryLogger();
  const notifiers = await startNotifiers(store, mustParse(section, { baseDir: dir, env: { HOOK_URL: url } }), logger, metrics);
  t.teardown(async () => {
    await notifiers.stop();
    store.close();
  });
  return { store, metrics, logger, notifiers };
}

t.test('POSTs the event as JSON with a text for chat tools, the token and the configured headers', async (t) => {
  const dir = tempDir();
  const server = await hookServer(t, (_hit, res) => res.writeHead(204).end());
  // A poll far away: the message goes out because the commit wakes the worker.
  const { store, metrics, notifiers } = await start(
    t,
    dir,
    { ...hookSection(dir), poll_interval_seconds: 60 },
    `http://127.0.0.1:${server.port}${SECRET_PATH}`,
  );
  const n = await receive(store, notifiers.statusEvents);
  await waitFor('the request', async () => (await count(metrics, 'tickets', 'sent')) === 1);
  t.equal(server.hits.length, 1);
  const hit = server.hits[0]!;
  t.equal(hit.method, 'POST');
  t.equal(hit.url, SECRET_PATH);
  t.equal(hit.headers.authorization, `Bearer ${TOKEN}`);
  t.equal(hit.headers['x-team'], 'infra');
  t.equal(hit.headers['content-type'], 'application/json');
  t.match(hit.headers['idempotency-key'], /^xcp-sentinel\.\d+\.\d+$/);
  t.match(hit.body, {
    text: `[CRITICAL] host failure reported: host ${HOST.name} (pool pool-a). A recovery follows.\nhttps://recovery.example.org:15868/v1/notifications/${n.uuid}`,
    subject: `[xcp-sentinel] CRITICAL host failure: host ${HOST.name} (pool-a)`,
    event: 'notification.received',
    severity: 'critical',
    id: hit.headers['idempotency-key'],
    data: {
      notification_uuid: n.uuid,
      type: 'COMPUTE_HOST',
      status: 'new',
      host_name: HOST.name,
      host_uuid: HOST.uuid,
      pool_name: 'pool-a',
      notification_url: `https://recovery.example.org:15868/v1/notifications/${n.uuid}`,
      grafana_host_url: 'https://grafana.example.org/d/xcp-host?var-pool=pool-a&var-host=host-1',
    },
  });
  t.notOk('is_host' in hit.body.data, 'template helpers stay out of the document');
});

t.test('a 5xx is retried; the receiver sees one successful delivery, with the same idempotency key', async (t) => {
  const dir = tempDir();
  let calls = 0;
  const server = await hookServer(t, (_hit, res) => (++calls === 1 ? res.writeHead(503).end('maintenance, come back later') : res.writeHead(200).end('ok')));
  const { store, metrics, logger, notifiers } = await start(t, dir, hookSection(dir), `http://127.0.0.1:${server.port}${SECRET_PATH}`);
  await receive(store, notifiers.router.statusEvents);
  notifiers.wake();
  await waitFor('the delivery', async () => (await count(metrics, 'tickets', 'sent')) === 1);
  await sleep(200);
  t.equal(server.hits.length, 2);
  t.equal(server.hits[0]!.headers['idempotency-key'], server.hits[1]!.headers['idempotency-key']);
  t.equal(await count(metrics, 'tickets', 'retry'), 1);
  t.match(
    logger.lines.find((l) => l.msg === 'message not delivered; retrying'),
    {
      error: `POST http://127.0.0.1:${server.port}: HTTP 503 (maintenance, come back later)`,
    },
  );
  t.same(
    outboxRows(store).map((r) => [r.status, r.attempts]),
    [['sent', 2]],
  );
});

t.test('a receiver that never answers times out; neither the URL path nor the token is logged', async (t) => {
  const dir = tempDir();
  const server = await hookServer(t, () => {});
  const { store, metrics, logger, notifiers } = await start(
    t,
    dir,
    hookSection(dir, { timeout_seconds: 0.3 }),
    `http://127.0.0.1:${server.port}${SECRET_PATH}?key=abc`,
  );
  await receive(store, notifiers.router.statusEvents);
  notifiers.wake();
  await waitFor('a failed attempt', async () => (await count(metrics, 'tickets', 'retry')) >= 1);
  t.match(
    logger.lines.find((l) => l.msg === 'message not delivered; retrying'),
    { error: /timed out after 300 ms/ },
  );
  const logs = JSON.stringify(logger.lines);
  t.notOk(logs.includes('s3cr3t'), 'the URL path is not logged');
  t.notOk(logs.includes(TOKEN), 'the token is not logged');
  t.notOk(outboxRows(store)[0]!.last_error?.includes('s3cr3t'), 'nor stored');
});

t.test('HTTPS with a CA file', async (t) => {
  const dir = tempDir();
  const cert = selfSignedCert('localhost', '127.0.0.1');
  const server = await hookServer(t, (_hit, res) => res.writeHead(200).end(), cert);
  const { store, metrics, notifiers } = await start(t, dir, hookSection(dir, { tls: { ca_file: cert.certFile } }), `https://127.0.0.1:${server.port}/hook`);
  await receive(store, notifiers.router.statusEvents);
  notifiers.wake();
  await waitFor('the delivery', async () => (await count(metrics, 'tickets', 'sent')) === 1);
  t.equal(server.hits.length, 1);
});
