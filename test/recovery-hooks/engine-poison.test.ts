// A workflow run that fails the same way every time (its progress writes are refused by the store) never loops hot:
// it goes to `error` with a delay, is retried as configured, then `failed` with the reason; meanwhile the other
// notifications of its host run.
import t from 'tap';
import { memoryLogger } from '../../core/log.js';
import type { RecoveryHookConfig } from '../../recovery-hooks/config.js';
import { RecoveryEngine } from '../../recovery-hooks/engine/engine.js';
import type { EventMessages } from '../../recovery-hooks/engine/events.js';
import { createRecoveryMetrics } from '../../recovery-hooks/engine/metrics.js';
import { RunBackoff } from '../../recovery-hooks/engine/run-failures.js';
import type { Task, Workflow } from '../../recovery-hooks/engine/task.js';
import { NotificationRecorder } from '../../recovery-hooks/intake/recorder.js';
import { SqliteNotificationStore } from '../../recovery-hooks/store/sqlite.js';
import { StoreError } from '../../recovery-hooks/store/store.js';
import type { NewNotification, Notification } from '../../recovery-hooks/store/types.js';
import { HOST_1, tempDir, testConfig } from './helpers/harness.js';

const base = testConfig(tempDir()).recovery_hook;
const config: RecoveryHookConfig = { ...base, tickMs: 10, retry: { attempts: 1, intervalMs: 30 } };

const notification = (payload: Record<string, unknown>): NewNotification => ({
  type: 'COMPUTE_PROCESS',
  hostUuid: HOST_1.uuid,
  hostName: HOST_1.name,
  poolName: 'pool-a',
  generatedAt: Date.now(),
  payload,
  source: 'api',
});

t.test('a run whose progress writes always fail: error, one retry after a delay, failed; the host’s next notification runs', async (t) => {
  const inner = new SqliteNotificationStore(':memory:');
  let poisoned: string | undefined;
  let refusedWrites = 0;
  // The store refuses every progress write of the poisoned notification, as PostgreSQL refuses a NUL.
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'addProgress')
        return async (uuid: string, ...rest: [string, string, number, number]) => {
          if (uuid === poisoned) {
            refusedWrites++;
            throw new StoreError('addProgress', new Error('invalid byte sequence for encoding "UTF8": 0x00'), true);
          }
          return target.addProgress(uuid, ...rest);
        };
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const metrics = createRecoveryMetrics(store);
  const events: EventMessages = () => [];
  const recorder = new NotificationRecorder({ store, metrics, events, dedupWindowMs: 0, now: Date.now });
  const logger = memoryLogger();
  let runs = 0;
  const tasks: Task[] = [
    {
      name: 'report',
      run: async (ctx) => {
        runs++;
        await ctx.progress('working', 0.5);
      },
    },
  ];
  const wf = (type: any): Workflow => ({ type, tasks, setsMaintenance: false });
  const engine = new RecoveryEngine({
    store,
    recorder,
    metrics,
    events,
    logger,
    config,
    workflows: {
      COMPUTE_HOST: wf('COMPUTE_HOST'),
      COMPUTE_INSTANCE: wf('COMPUTE_INSTANCE'),
      COMPUTE_PROCESS: wf('COMPUTE_PROCESS'),
      XCP_EMERGENCY_SHUTDOWN: wf('XCP_EMERGENCY_SHUTDOWN'),
    },
    owner: 'test',
  });
  const first = (await recorder.record(notification({ process_name: 'xapi', event: 'STOPPED' }), 'refuse')).notification!;
  poisoned = first.uuid;
  const second = (await recorder.record(notification({ process_name: 'squeezed', event: 'STOPPED' }), 'refuse')).notification!;
  const started = Date.now();
  engine.start();
  t.teardown(async () => {
    await engine.stop(100);
    await inner.close();
  });

  const until = async (uuid: string, pred: (n: Notification) => boolean, ms = 20_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const n = (await inner.get(uuid))!;
      if (pred(n)) return n;
      if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(n)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  t.equal((await until(second.uuid, (n) => n.status === 'finished')).status, 'finished', 'the host’s other notification is not starved');
  const failed = await until(first.uuid, (n) => n.status === 'failed');
  t.match(failed, { attempts: 2, message: /workflow run failed: store addProgress failed: invalid byte sequence.*\(after 2 run\(s\)\)/ });
  t.equal(runs, 3, 'two runs of the poisoned notification (the first and its one retry) and one of the other');
  t.ok(Date.now() - started >= 900, 'the retry waited for the backoff, not the next tick');
  const failures = logger.lines.filter((l) => /workflow run failed/.test(String(l.msg)));
  t.equal(failures.length, 2, 'one error line per failed run, not a hot loop');
  t.ok(refusedWrites <= 4, `refused writes stay few (${refusedWrites})`);
});

t.test('the backoff grows, is capped and bounded in memory', async (t) => {
  const backoff = new RunBackoff({ baseMs: 1000, maxMs: 5000, maxEntries: 2 });
  t.same([backoff.failed('a', 0), backoff.failed('a', 0), backoff.failed('a', 0), backoff.failed('a', 0)], [1000, 2000, 4000, 5000]);
  t.ok(backoff.waiting('a', 4999));
  t.notOk(backoff.waiting('a', 5000));
  backoff.failed('b', 0);
  backoff.failed('c', 0);
  t.notOk(backoff.waiting('a', 1), 'the oldest entry is forgotten beyond maxEntries');
  backoff.succeeded('c');
  t.notOk(backoff.waiting('c', 1));
  t.ok(backoff.waiting('b', 1));
});
