// Forwarding, piece by piece: the Masakari request of each type, the config (and its errors), the outbox builder,
// and the delivery worker's raw-message channels (final refusals, the give-up hook).
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError } from '../../core/config/load.js';
import { memoryLogger } from '../../core/log.js';
import { Secret } from '../../core/config/secret.js';
import { ForwardChannel } from '../../recovery-hooks/forward/channel.js';
import { notificationsUrl } from '../../recovery-hooks/forward/config.js';
import { combineBuilders, forwardEvents } from '../../recovery-hooks/forward/events.js';
import { forwardTaskSettings } from '../../recovery-hooks/forward/index.js';
import { RemoteApi } from '../../recovery-hooks/forward/remote.js';
import { UnforwardableError, masakariRequest } from '../../recovery-hooks/forward/request.js';
import type { Channel } from '../../recovery-hooks/notifiers/channels/channel.js';
import { DeliveryWorker, RAW_MESSAGES } from '../../recovery-hooks/notifiers/delivery.js';
import type { Notification, OutboxMessage } from '../../recovery-hooks/store/types.js';
import { count, hostFailure, messagesCounter, openStore, outboxRows, waitFor } from './notifiers/helpers/notifiers.js';
import { tempDir } from './helpers/harness.js';
import { parseConfig } from '../../cli/config/bundle.js';

const base: Notification = {
  id: 7,
  uuid: '11111111-2222-4333-8444-555555555555',
  type: 'COMPUTE_HOST',
  status: 'new',
  hostUuid: '00000000-0000-4000-8000-000000000001',
  hostName: 'host-1',
  poolName: 'lab',
  generatedAt: Date.parse('2026-11-21T10:00:00.250Z'),
  payload: {},
  message: null,
  source: 'alertmanager',
  createdAt: 0,
  updatedAt: null,
  attempts: 0,
  nextAttemptAt: null,
};

t.test('the Masakari request of each type carries exactly the payload fields Masakari validates', async (t) => {
  t.same(masakariRequest({ ...base, payload: { event: 'stopped', host_status: 'unknown', cluster_status: 'offline', fenced_by: 'ipmi' } }), {
    notification: {
      type: 'COMPUTE_HOST',
      hostname: 'host-1',
      generated_time: '2026-11-21T10:00:00.250Z',
      payload: { event: 'STOPPED', host_status: 'UNKNOWN', cluster_status: 'OFFLINE' },
    },
  });
  t.same(
    masakariRequest({ ...base, payload: { event: 'STARTED' } }).notification.payload,
    { event: 'STARTED' },
    'optional host fields are left out when absent',
  );
  t.same(masakariRequest({ ...base, type: 'COMPUTE_PROCESS', payload: { event: 'stopped', process_name: 'xapi' } }).notification, {
    type: 'PROCESS',
    hostname: 'host-1',
    generated_time: '2026-11-21T10:00:00.250Z',
    payload: { process_name: 'xapi', event: 'STOPPED' },
  });
  const vm = '6f3c1f0e-0000-4000-8000-0000000000aa';
  t.same(
    masakariRequest({
      ...base,
      type: 'COMPUTE_INSTANCE',
      payload: { instance_uuid: vm, vir_domain_event: 'STOPPED_FAILED', event: 'LIFECYCLE', vm_name: 'db' },
    }).notification,
    {
      type: 'VM',
      hostname: 'host-1',
      generated_time: '2026-11-21T10:00:00.250Z',
      payload: { instance_uuid: vm, vir_domain_event: 'STOPPED_FAILED', event: 'LIFECYCLE' },
    },
  );
});

t.test('a notification Masakari cannot express is refused before sending', async (t) => {
  t.throws(
    () => masakariRequest({ ...base, hostName: '', payload: { event: 'STOPPED' } }),
    new UnforwardableError('the notification names no host (Masakari needs a hostname)'),
  );
  t.throws(
    () => masakariRequest({ ...base, type: 'COMPUTE_INSTANCE', payload: { event: 'LIFECYCLE', vir_domain_event: 'STOPPED_FAILED' } }),
    /has no instance_uuid/,
  );
  t.throws(() => masakariRequest({ ...base, type: 'COMPUTE_PROCESS', payload: { event: 'STOPPED' } }), /has no process_name/);
});

t.test('the endpoint is normalised to the notifications URL', async (t) => {
  t.equal(notificationsUrl('http://ha-api:15868'), 'http://ha-api:15868/v1/notifications');
  t.equal(notificationsUrl('http://ha-api:15868/'), 'http://ha-api:15868/v1/notifications');
  t.equal(notificationsUrl('https://cloud.example/instance-ha/v1'), 'https://cloud.example/instance-ha/v1/notifications');
  t.equal(notificationsUrl('http://ha-api:15868/v1/notifications/'), 'http://ha-api:15868/v1/notifications');
});

const POOLS = 'pools:\n  - { name: lab, url: https://lab.example, username: root, password: x }\n';

function load(yaml: string, env: NodeJS.ProcessEnv = {}) {
  return parseConfig(POOLS + yaml, join(tempDir(), 'config.yaml'), env).recovery_hook;
}

function problems(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    load(yaml, env);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
}

t.test('config: a forward pool with its defaults, the token read from a file', async (t) => {
  const dir = tempDir();
  writeFileSync(join(dir, 'ha.token'), 'service-token\n');
  const rh = parseConfig(
    `${POOLS}recovery_hook:\n  pools:\n    lab:\n      mode: forward\n      forward: { url: "http://ha-api:15868", token_file: ha.token }\n`,
    join(dir, 'config.yaml'),
  ).recovery_hook;
  const f = rh.pools.lab!.forward!;
  t.equal(rh.pools.lab!.mode, 'forward');
  t.match(f, {
    notificationsUrl: 'http://ha-api:15868/v1/notifications',
    auth: 'x-auth-token',
    timeoutMs: 10_000,
    pollIntervalMs: 5000,
    giveUpAfterMs: 3_600_000,
  });
  t.equal(f.token.reveal(), 'service-token');
  t.equal(JSON.stringify(f).includes('service-token'), false, 'the token never prints');
  t.same(
    forwardTaskSettings(rh).await_remote_recovery,
    { timeoutMs: 86_400_000, retries: 0, retryDelayMs: 10_000 },
    'the forward tasks may wait for the whole notification life',
  );
  const tuned = load('recovery_hook:\n  tasks: { await_remote_recovery: { timeout_seconds: 7200, retries: 0 } }\n');
  t.equal(forwardTaskSettings(tuned).await_remote_recovery!.timeoutMs, 7_200_000, 'tasks.await_remote_recovery is configurable');
});

t.test('config errors name the key', async (t) => {
  t.same(problems('recovery_hook:\n  pools:\n    lab: { mode: forward }\n'), [
    'recovery_hook.pools.lab.forward: is required with mode: forward (the url and token of the Instance-HA API to forward to)',
  ]);
  t.match(problems('recovery_hook:\n  pools:\n    lab: { mode: forward, forward: { url: "http://ha:15868" } }\n'), [
    /recovery_hook\.pools\.lab\.forward.*token/,
  ]);
  t.match(problems('recovery_hook:\n  pools:\n    lab: { mode: forward, forward: { url: "ftp://ha", token: x } }\n'), [
    /recovery_hook\.pools\.lab\.forward\.url: expected a URL/,
  ]);
  t.match(problems('recovery_hook:\n  pools:\n    lab: { mode: forward, forward: { url: "http://ha", token: x, auth: basic } }\n'), [
    /recovery_hook\.pools\.lab\.forward\.auth: expected one of bearer, x-auth-token/,
  ]);
  t.match(problems('recovery_hook:\n  pools:\n    lab: { mode: forward, forward: { url: "http://ha", token_env: HA_TOKEN } }\n'), [
    /forward\.token_env: environment variable HA_TOKEN is not set/,
  ]);
  t.match(
    problems(
      'recovery_hook:\n  pools:\n    lab: { mode: forward, forward: { url: "https://ha", token: x, tls: { insecure: true, fingerprint: "' +
        'AB:'.repeat(31) +
        'AB" } } }\n',
    ),
    [/forward\.tls\.insecure: insecure: true cannot be combined/],
  );
  t.match(
    problems(
      'recovery_hook:\n  pools:\n    lab: { mode: forward, forward: { url: "http://ha", token: x, backoff: { initial_seconds: 10, max_seconds: 1 } } }\n',
    ),
    [/forward\.backoff\.max_seconds: must be at least initial_seconds/],
  );
});

t.test('new notifications of forward pools, and only those, are queued once on forward:<pool>', async (t) => {
  const events = forwardEvents(new Set(['lab']));
  const none = { tasks: [], moves: [] };
  t.same(events(base, none), [
    { channel: 'forward:lab', payload: { notification_uuid: base.uuid, dedup_key: `forward:${base.uuid}` }, notificationUuid: base.uuid },
  ]);
  t.same(events({ ...base, poolName: 'other' }, none), [], 'another pool');
  t.same(events({ ...base, status: 'ignored' }, none), [], 'recorded as ignored (host on maintenance)');
  t.same(events({ ...base, status: 'running', updatedAt: 1 }, none), [], 'a status change');
  const both = combineBuilders(() => [{ channel: 'mail', payload: { event: 'notification.received' } }], events);
  t.same(
    both(base, none).map((m) => m.channel),
    ['mail', 'forward:lab'],
    'composed with the notifiers',
  );
});

t.test('the delivery worker: a raw-message channel, a final refusal acked once, a give-up reported to the channel', async (t) => {
  const store = openStore(tempDir());
  const metrics = messagesCounter();
  const seen: OutboxMessage[] = [];
  const givenUp: [number, string][] = [];
  const channel: Channel<OutboxMessage> = {
    name: 'raw',
    async send(m) {
      seen.push(m);
      if (m.payload.kind === 'refuse') return { refused: 'remote answered 409: duplicate' };
      if (m.payload.kind === 'fail') throw new Error('ECONNREFUSED');
    },
    async givenUp(m, error) {
      givenUp.push([m.id, error]);
    },
    async close() {},
  };
  const worker = new DeliveryWorker<OutboxMessage>({
    store,
    channel,
    renderer: RAW_MESSAGES,
    policy: { giveUpAfterMs: 300, backoff: { initialMs: 20, maxMs: 50 }, timeoutMs: 1000, concurrency: 2 },
    pollIntervalMs: 10,
    metrics,
    logger: memoryLogger(),
    owner: 'test',
    leaseMs: 30_000,
  });
  t.teardown(async () => {
    await worker.stop();
    await store.close();
  });
  for (const kind of ['ok', 'refuse', 'fail'])
    await store.create(hostFailure({ hostUuid: `h-${kind}` }), { now: Date.now(), dedupWindowMs: 0, onMaintenance: 'proceed' }, () => [
      { channel: 'raw', payload: { kind } },
    ]);
  worker.start();
  await waitFor('the give-up', async () => givenUp.length === 1);
  const [ok, refused, failed] = outboxRows(store);
  t.match(
    [ok, refused, failed],
    [
      { status: 'sent', attempts: 1, last_error: null },
      { status: 'sent', attempts: 1, last_error: null },
      { status: 'dead', last_error: 'ECONNREFUSED' },
    ],
  );
  t.ok(failed!.attempts > 1, 'the failing one was retried before it was given up');
  t.equal(seen.filter((m) => m.payload.kind === 'refuse').length, 1, 'a refusal is never retried');
  t.equal(seen[0]!.payload.kind, 'ok', 'the channel got the outbox message itself');
  t.match(givenUp[0]![1], /ECONNREFUSED/);
  t.equal(await count(metrics, 'raw', 'refused'), 1);
  t.equal(await count(metrics, 'raw', 'sent'), 1);
  t.equal(await count(metrics, 'raw', 'dead'), 1);
});

t.test('the forward channel posts a notification again only while no answer of the remote is recorded', async (t) => {
  const posts: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    posts.push(req.headers);
    req
      .resume()
      .on('end', () => res.writeHead(202, { 'content-type': 'application/json' }).end('{"notification": {"notification_uuid": "remote-1", "status": "new"}}'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const store = openStore(tempDir());
  const remote = new RemoteApi({
    notificationsUrl: notificationsUrl(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    token: new Secret('s3cret'),
    auth: 'x-auth-token',
    tls: {},
    timeoutMs: 2000,
    pollIntervalMs: 50,
    giveUpAfterMs: 60_000,
    backoff: { initialMs: 10, maxMs: 10 },
  });
  t.teardown(async () => {
    remote.close();
    server.close();
    await store.close();
  });
  const channel = new ForwardChannel('lab', remote, store, memoryLogger());
  const created = await store.create(hostFailure(), { now: Date.now(), dedupWindowMs: 0, onMaintenance: 'proceed' });
  const uuid = created.notification!.uuid;
  const message: OutboxMessage = {
    id: 1,
    channel: 'forward:lab',
    payload: { notification_uuid: uuid, dedup_key: `forward:${uuid}` },
    attempts: 1,
    createdAt: Date.now(),
    lastError: null,
  };

  await store.saveForward(uuid, { endpoint: remote.endpoint, outcome: 'queued', reason: 'ECONNREFUSED' }, Date.now());
  t.equal(await channel.send(message), undefined);
  t.equal(posts.length, 1, 'still queued: posted');
  t.equal(posts[0]!['x-auth-token'], 's3cret', 'auth: x-auth-token');
  t.match(await store.getForward(uuid), { outcome: 'accepted', remoteUuid: 'remote-1', remoteStatus: 'new', reason: null });
  t.equal(await channel.send(message), undefined, 'a repeat (the ack was lost) is acked');
  t.equal(posts.length, 1, 'and not posted again');
});
