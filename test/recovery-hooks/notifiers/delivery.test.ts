// The delivery worker with a scripted channel and the real store: backoff, give-up at the deadline, bounded
// concurrency, a clean stop, and messages that cannot be rendered.
import t, { type Test } from 'tap';
import { memoryLogger } from '../../../core/log.js';
import type { Channel } from '../../../recovery-hooks/notifiers/channels/channel.js';
import type { DeliveryPolicy } from '../../../recovery-hooks/notifiers/config.js';
import { DeliveryWorker, backoffDelay } from '../../../recovery-hooks/notifiers/delivery.js';
import { type RenderedMessage, Renderer } from '../../../recovery-hooks/notifiers/render.js';
import type { SqliteNotificationStore } from '../../../recovery-hooks/store/sqlite.js';
import { count, hostFailure, messagesCounter, openStore, outboxRows, sleep, tempDir, waitFor } from './helpers/notifiers.js';

t.test('backoff doubles from the initial delay up to the maximum, with jitter in its upper half', async (t) => {
  const b = { initialMs: 1000, maxMs: 10_000 };
  t.same(
    [1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, b, () => 1)),
    [1000, 2000, 4000, 8000, 10_000, 10_000],
  );
  t.equal(
    backoffDelay(3, b, () => 0),
    2000,
  );
  for (let i = 0; i < 50; i++) {
    const d = backoffDelay(2, b);
    t.ok(d >= 1000 && d <= 2000);
  }
});

/** A channel whose sends are decided by the test. */
class ScriptedChannel implements Channel {
  readonly name = 'fake';
  sent: RenderedMessage[] = [];
  readonly attempts = new Map<string, number>();
  inFlight = 0;
  maxInFlight = 0;
  constructor(private readonly outcome: (m: RenderedMessage, attempt: number) => Promise<void>) {}
  async send(m: RenderedMessage): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const attempt = (this.attempts.get(m.key) ?? 0) + 1;
      this.attempts.set(m.key, attempt);
      await this.outcome(m, attempt);
      this.sent.push(m);
    } finally {
      this.inFlight--;
    }
  }
  async close(): Promise<void> {}
}

const POLICY: DeliveryPolicy = { giveUpAfterMs: 60_000, backoff: { initialMs: 20, maxMs: 50 }, timeoutMs: 1000, concurrency: 2 };

async function enqueue(
  store: SqliteNotificationStore,
  n: number,
  payload: Record<string, unknown> = { event: 'recovery.started', pool_name: 'pool-a' },
): Promise<void> {
  for (let i = 0; i < n; i++)
    await store.create(hostFailure({ hostUuid: `h-${i}-${Math.random()}` }), { now: Date.now(), dedupWindowMs: 0, onMaintenance: 'proceed' }, () => [
      { channel: 'fake', payload },
    ]);
}

function worker(t: Test, channel: Channel, policy: Partial<DeliveryPolicy> = {}) {
  const store = openStore(tempDir());
  const metrics = messagesCounter();
  const logger = memoryLogger();
  const w = new DeliveryWorker({
    store,
    channel,
    renderer: new Renderer({}),
    policy: { ...POLICY, ...policy },
    pollIntervalMs: 10,
    metrics,
    logger,
    owner: 'test-receiver',
    leaseMs: 30_000,
  });
  t.teardown(async () => {
    await w.stop();
    await store.close();
  });
  return { store, metrics, logger, w };
}

t.test('a failing send is retried with backoff, then acked once it succeeds', async (t) => {
  const failures = 3;
  const channel = new ScriptedChannel(async (_m, attempt) => {
    if (attempt <= failures) throw new Error(`peer refused (attempt ${attempt})`);
  });
  const attempts: number[] = [];
  const wrapped: Channel = {
    name: 'fake',
    close: () => channel.close(),
    send: (m) => {
      attempts.push(Date.now());
      return channel.send(m);
    },
  };
  const { store, metrics, logger, w } = worker(t, wrapped);
  await enqueue(store, 1);
  w.start();
  await waitFor('the delivery', async () => (await count(metrics, 'fake', 'sent')) === 1);
  t.equal(await count(metrics, 'fake', 'retry'), failures);
  t.same(
    outboxRows(store).map((r) => [r.status, r.attempts]),
    [['sent', failures + 1]],
  );
  const gaps = attempts.slice(1).map((at, i) => at - attempts[i]!);
  t.ok(gaps[0]! >= 10 && gaps[2]! >= 25, `waits grow (${gaps.join(', ')} ms)`);
  t.same(
    logger.lines.filter((l) => l.msg === 'message not delivered; retrying').map((l) => [l.level, l.channel, l.attempt, l.error]),
    [1, 2, 3].map((n) => ['warn', 'fake', n, `peer refused (attempt ${n})`]),
  );
  t.match(
    logger.lines.find((l) => l.msg === 'message sent'),
    { level: 'info', channel: 'fake', event: 'recovery.started', attempt: 4 },
  );
});

t.test('a message is given up once give_up_after has passed since it was queued, and never sent after', async (t) => {
  const channel = new ScriptedChannel(async () => {
    throw new Error('still down');
  });
  const { store, metrics, logger, w } = worker(t, channel, { giveUpAfterMs: 300, backoff: { initialMs: 50, maxMs: 1000 } });
  const queued = Date.now();
  await enqueue(store, 1);
  w.start();
  await waitFor('the give-up', async () => (await count(metrics, 'fake', 'dead')) === 1);
  t.ok(Date.now() - queued >= 300);
  const row = outboxRows(store)[0]!;
  t.match(row, { status: 'dead', last_error: 'still down' });
  t.match(
    logger.lines.find((l) => l.msg === 'message given up'),
    { level: 'error', channel: 'fake', error: 'still down', attempts: row.attempts },
  );
  const after = row.attempts;
  await sleep(150);
  t.equal(outboxRows(store)[0]!.attempts, after, 'not claimed again');
});

t.test('at most `concurrency` sends at once; a backlog drains without waiting for the poll', async (t) => {
  const channel = new ScriptedChannel(() => sleep(30));
  const { store, metrics, w } = worker(t, channel, { concurrency: 2 });
  await enqueue(store, 6);
  w.start();
  await waitFor('all six', async () => (await count(metrics, 'fake', 'sent')) === 6);
  t.equal(channel.maxInFlight, 2);
  t.equal(new Set(channel.sent.map((m) => m.key)).size, 6, 'each once');
});

t.test('stop waits for the send in flight, which is acked, and claims nothing more', async (t) => {
  let release = () => {};
  const channel = new ScriptedChannel((_m) => new Promise<void>((r) => (release = r)));
  const { store, w } = worker(t, channel, { concurrency: 1 });
  await enqueue(store, 2);
  w.start();
  await waitFor('a send in flight', () => channel.inFlight === 1);
  const stopped = w.stop();
  let done = false;
  void stopped.then(() => (done = true));
  await sleep(50);
  t.notOk(done, 'stop waits');
  release();
  await stopped;
  t.same(
    outboxRows(store).map((r) => r.status),
    ['sent', 'pending'],
  );
  await sleep(50);
  t.equal(channel.sent.length, 1, 'nothing claimed after stop');
});

t.test('a message that cannot be rendered is given up at once', async (t) => {
  const channel = new ScriptedChannel(async () => {});
  const { store, metrics, w } = worker(t, channel);
  await enqueue(store, 1, { event: 'notification.status', status: 'new' });
  w.start();
  await waitFor('the give-up', async () => (await count(metrics, 'fake', 'dead')) === 1);
  t.match(outboxRows(store)[0], { status: 'dead', attempts: 1, last_error: /^cannot render: outbox message 1 has no known event/ });
  t.equal(channel.sent.length, 0);
});
