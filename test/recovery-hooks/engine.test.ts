// The engine's status machine with scripted tasks: retries then failed, expiry, per-host serialisation, and a stop
// between tasks followed by a fresh engine on the reopened file that resumes without re-running a finished task.
import { join } from 'node:path';
import t from 'tap';
import { memoryLogger } from '../../core/log.js';
import type { RecoveryHookConfig } from '../../recovery-hooks/config.js';
import { RecoveryEngine } from '../../recovery-hooks/engine/engine.js';
import type { EventMessages } from '../../recovery-hooks/engine/events.js';
import { createRecoveryMetrics } from '../../recovery-hooks/engine/metrics.js';
import { Ignore, type Task, WaitForOperator, type Workflow } from '../../recovery-hooks/engine/task.js';
import { output } from '../../recovery-hooks/engine/wiring.js';
import { NotificationRecorder } from '../../recovery-hooks/intake/recorder.js';
import { SqliteNotificationStore } from '../../recovery-hooks/store/sqlite.js';
import type { NewNotification, Notification } from '../../recovery-hooks/store/types.js';
import { HOST_1, HOST_2, tempDir, testConfig } from './helpers/harness.js';
import { waitFor } from '../../core/concurrency.js';

const base = testConfig(tempDir()).recovery_hook;
const config = (over: Partial<RecoveryHookConfig> = {}): RecoveryHookConfig => ({ ...base, tickMs: 10, retry: { attempts: 1, intervalMs: 30 }, ...over });

function workflowOf(tasks: Task[], setsMaintenance = true): Record<string, Workflow> {
  const wf = (type: any): Workflow => ({ type, tasks, setsMaintenance });
  return { COMPUTE_HOST: wf('COMPUTE_HOST'), COMPUTE_INSTANCE: wf('COMPUTE_INSTANCE'), COMPUTE_PROCESS: wf('COMPUTE_PROCESS') };
}

function setup(file: string, tasks: Task[], cfg = config(), now?: () => number) {
  const store = new SqliteNotificationStore(file);
  const metrics = createRecoveryMetrics(store);
  // One outbox message per status change, as a notifier channel subscribed to every event gets.
  const events: EventMessages = (n) => [{ channel: 'mail', payload: { notification_uuid: n.uuid, status: n.status } }];
  const clock = now ?? Date.now;
  const recorder = new NotificationRecorder({ store, metrics, events, dedupWindowMs: cfg.dedupWindowMs, now: clock });
  const logger = memoryLogger();
  const engine = new RecoveryEngine({
    store,
    recorder,
    metrics,
    events,
    logger,
    config: cfg,
    workflows: workflowOf(tasks) as any,
    owner: 'test-receiver',
    now: clock,
  });
  return { store, metrics, recorder, engine, logger };
}

const hostDown = (host = HOST_1, at = Date.now()): NewNotification => ({
  type: 'COMPUTE_HOST',
  hostUuid: host.uuid,
  hostName: host.name,
  poolName: 'pool-a',
  generatedAt: at,
  payload: { event: 'STOPPED', host_status: 'NORMAL' },
  source: 'api',
});

async function until(store: SqliteNotificationStore, uuid: string, pred: (n: Notification) => boolean): Promise<Notification> {
  return waitFor(
    `notification ${uuid}`,
    async () => {
      const n = (await store.get(uuid))!;
      return pred(n) ? n : undefined;
    },
    { timeoutMs: 15_000, everyMs: 10 },
  ).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(await store.get(uuid))}`);
  });
}

t.test('error is retried after the interval, then failed; every transition is counted and sent to the outbox', async (t) => {
  let runs = 0;
  const { store, recorder, engine, metrics } = setup(':memory:', [
    { name: 'always_fails', run: async () => void runs++ },
    {
      name: 'boom',
      run: async () => {
        throw new Error('XAPI said no');
      },
    },
  ]);
  engine.start();
  const { notification } = await recorder.record(hostDown(), 'refuse');
  const done = await until(store, notification!.uuid, (n) => n.status === 'failed');
  t.match(done, { attempts: 2, message: /boom failed: XAPI said no \(after 2 run\(s\)\)/ });
  t.equal(runs, 1, 'the finished first task ran once, not again on retry');
  const statuses = (await store.claimMessages('mail', 100, Date.now(), 1000)).map((m) => m.payload.status);
  t.same(statuses, ['new', 'running', 'error', 'running', 'error', 'failed']);
  const text = await metrics.registry.metrics();
  t.match(text, /xcp_recovery_notifications_total\{type="COMPUTE_HOST",status="error"\} 2/);
  t.match(text, /xcp_recovery_task_runs_total\{task="boom",outcome="failure"\} 2/);
  t.match(text, /xcp_recovery_workflow_duration_seconds_count\{type="COMPUTE_HOST",status="error"\} 2/);
  t.equal((await store.hosts())[0]!.onMaintenance, false, 'the maintenance flag ends with the recovery');
  await engine.stop(100);
  await store.close();
});

t.test('notifications older than expire_after fail without running', async (t) => {
  let ran = false;
  const { store, recorder, engine } = setup(':memory:', [{ name: 'never', run: async () => void (ran = true) }], config({ expireAfterMs: 60_000 }));
  const { notification } = await recorder.record(hostDown(HOST_1, Date.now() - 61_000), 'refuse');
  engine.start();
  t.match(await until(store, notification!.uuid, (n) => n.status === 'failed'), { message: /expired/ });
  t.notOk(ran);
  await engine.stop(100);
  await store.close();
});

t.test('Ignore ends as ignored with the reason; STARTED events and notify-only pools never run tasks', async (t) => {
  let ran = 0;
  const cfg = config({ pools: { 'pool-b': { mode: 'notify-only', hosts: [] } } });
  const { store, recorder, engine } = setup(
    ':memory:',
    [
      {
        name: 'fence',
        run: async () => {
          ran++;
          throw new Ignore('not fenced');
        },
      },
    ],
    cfg,
  );
  engine.start();
  const ignored = (await recorder.record(hostDown(HOST_1), 'refuse')).notification!;
  const started = (await recorder.record({ ...hostDown(HOST_2), payload: { event: 'STARTED' } }, 'refuse')).notification!;
  const notifyOnly = (await recorder.record({ ...hostDown(HOST_2), poolName: 'pool-b', hostUuid: 'h-b', payload: { event: 'STOPPED', n: 1 } }, 'refuse'))
    .notification!;
  t.match(await until(store, ignored.uuid, (n) => n.status === 'ignored'), { message: 'not fenced' });
  t.match(await until(store, started.uuid, (n) => n.status === 'finished'), { message: /STARTED event recorded/ });
  t.match(await until(store, notifyOnly.uuid, (n) => n.status === 'ignored'), { message: /notify-only/ });
  t.equal(ran, 1);
  t.match(await store.tasks(ignored.uuid), [{ name: 'fence', state: 'FAILURE', details: [{ message: 'not fenced' }] }]);
  await engine.stop(100);
  await store.close();
});

t.test('every slot taken: a pass reads only the expired notifications; they fail, the others wait for a slot', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const started: string[] = [];
  const task: Task = {
    name: 'held on host-1',
    async run(ctx) {
      started.push(ctx.notification.hostName);
      if (ctx.notification.hostUuid === HOST_1.uuid) await gate;
      return null;
    },
  };
  const { store, recorder, engine } = setup(':memory:', [task], config({ maxConcurrentWorkflows: 1, expireAfterMs: 60_000 }));
  const reads: { before: number | undefined; uuids: string[] }[] = [];
  const unfinished = store.unfinished.bind(store);
  store.unfinished = async (limit, before) => {
    const listed = await unfinished(limit, before);
    reads.push({ before, uuids: listed.map((n) => n.uuid) });
    return listed;
  };
  engine.start();
  const running = (await recorder.record(hostDown(HOST_1), 'refuse')).notification!;
  await until(store, running.uuid, (n) => n.status === 'running');
  const waiting = (await recorder.record(hostDown(HOST_2), 'refuse')).notification!;
  const expired = (await recorder.record(hostDown({ name: 'h3', uuid: 'u3' }, Date.now() - 61_000), 'refuse')).notification!;
  t.match(await until(store, expired.uuid, (n) => n.status === 'failed'), { message: /expired/ }, 'expired while every slot was taken: failed');
  const whileFull = reads.filter((r) => r.before !== undefined);
  t.ok(whileFull.length >= 1, `${whileFull.length} pass(es) with every slot taken read the expired ones only`);
  t.ok(
    whileFull.every((r) => !r.uuids.includes(waiting.uuid) && !r.uuids.includes(running.uuid)),
    'a pass with every slot taken never read the running or the waiting notification',
  );
  t.equal((await store.get(waiting.uuid))!.status, 'new', 'the other waits for a slot');
  release();
  await until(store, waiting.uuid, (n) => n.status === 'finished');
  t.same(started, ['host-1', 'host-2'], 'the waiting one started once the slot was free; the expired one never');
  await engine.stop(100);
  await store.close();
});

t.test('one workflow per host at a time, a global cap across hosts', async (t) => {
  let running = 0;
  let peak = 0;
  const perHost = new Map<string, number>();
  const task: Task = {
    name: 'slow',
    async run(ctx) {
      const h = ctx.notification.hostUuid;
      perHost.set(h, (perHost.get(h) ?? 0) + 1);
      t.equal(perHost.get(h), 1, `only one workflow on ${ctx.notification.hostName}`);
      peak = Math.max(peak, ++running);
      await ctx.sleep(30);
      running--;
      perHost.set(h, perHost.get(h)! - 1);
      return null;
    },
  };
  const { store, recorder, engine } = setup(':memory:', [task], config({ maxConcurrentWorkflows: 2 }));
  const hosts = [HOST_1, HOST_1, HOST_2, { name: 'h3', uuid: 'u3' }, { name: 'h4', uuid: 'u4' }];
  const uuids = await Promise.all(
    hosts.map(async (h, i) => (await recorder.record({ ...hostDown(h), payload: { event: 'STOPPED', i } }, 'proceed')).notification!.uuid),
  );
  engine.start();
  for (const u of uuids) await until(store, u, (n) => n.status === 'finished');
  t.equal(peak, 2, 'max_concurrent_workflows');
  await engine.stop(100);
  await store.close();
});

t.test('VM workflows of one host run in parallel; a host-level workflow of that host excludes them, and the other way round', async (t) => {
  const active = new Map<string, string>(); // uuid → type
  const overlaps: string[] = [];
  let peakVm = 0;
  const task: Task = {
    name: 'slow',
    async run(ctx) {
      const me = ctx.notification;
      for (const [uuid, type] of active)
        if (type !== 'COMPUTE_INSTANCE' || me.type !== 'COMPUTE_INSTANCE') overlaps.push(`${me.type} ${me.uuid} with ${type} ${uuid}`);
      active.set(me.uuid, me.type);
      peakVm = Math.max(peakVm, [...active.values()].filter((x) => x === 'COMPUTE_INSTANCE').length);
      await ctx.sleep(80);
      active.delete(me.uuid);
      return null;
    },
  };
  const { store, recorder, engine } = setup(':memory:', [task], config({ maxConcurrentWorkflows: 3 }));
  const vm = (i: number): NewNotification => ({
    ...hostDown(),
    type: 'COMPUTE_INSTANCE',
    payload: { instance_uuid: `vm-${i}`, event: 'LIFECYCLE', vir_domain_event: 'STOPPED_FAILED' },
  });
  const inputs = [vm(1), vm(2), vm(3), { ...hostDown(), type: 'COMPUTE_PROCESS' as const, payload: { process_name: 'xapi', event: 'STOPPED' } }, vm(4), vm(5)];
  const uuids: string[] = [];
  for (const i of inputs) uuids.push((await recorder.record(i, 'proceed')).notification!.uuid);
  engine.start();
  for (const u of uuids) await until(store, u, (n) => n.status === 'finished');
  t.same(overlaps, [], 'the toolstack workflow never ran with a VM workflow of its host');
  t.equal(peakVm, 3, 'VM workflows of one host ran three at a time (max_concurrent_workflows)');
  await engine.stop(100);
  await store.close();
});

t.test('a workflow waiting for an operator is parked, survives a restart, and resumes at its task once confirmed', async (t) => {
  const file = join(tempDir(), 'park.sqlite');
  const log: string[] = [];
  const fenced = output<{ by: string | undefined }>('fenced', 'who confirmed the fence');
  const tasks = (label: string): Task[] => [
    { name: 'plan', run: async () => void log.push(`${label}:plan`) },
    {
      name: 'fence',
      provides: fenced,
      async run(ctx) {
        log.push(`${label}:fence`);
        const wait = await ctx.fence.operatorWait();
        if (!wait?.confirmedAt) throw new WaitForOperator('fence_confirmation', 'BMC unreachable');
        return { by: wait.confirmedBy };
      },
    },
    { name: 'restart', requires: { fence: fenced }, run: async (_ctx, input) => void log.push(`${label}:restart:${JSON.stringify(input.fence)}`) },
  ];
  const a = setup(file, tasks('a'));
  a.engine.start();
  const uuid = (await a.recorder.record(hostDown(), 'refuse')).notification!.uuid;
  await until(a.store, uuid, () => log.includes('a:fence'));
  for (let i = 0; i < 50 && !(await a.store.openOperatorWaits()).length; i++) await new Promise((r) => setTimeout(r, 10));
  t.match(await a.store.openOperatorWaits(), [{ notificationUuid: uuid, kind: 'fence_confirmation', reason: 'BMC unreachable' }]);
  await new Promise((r) => setTimeout(r, 200));
  t.same(log, ['a:plan', 'a:fence'], 'parked: not run again tick after tick');
  t.equal((await a.store.get(uuid))!.status, 'running');
  t.match(
    await a.metrics.registry.metrics(),
    new RegExp(`xcp_recovery_waiting_for_operator\\{pool_name="pool-a",host_name="${HOST_1.name}",host_uuid="${HOST_1.uuid}",kind="fence_confirmation"\\} 1`),
  );
  t.equal(await a.store.acquireLease(`host:${HOST_1.uuid}`, 'someone-else', Date.now(), 1000), true, 'no lease held while parked');
  await a.store.releaseLease(`host:${HOST_1.uuid}`, 'someone-else');
  await a.engine.stop(100);
  await a.store.close();

  const b = setup(file, tasks('b'));
  b.engine.start();
  await new Promise((r) => setTimeout(r, 100));
  t.same(log, ['a:plan', 'a:fence'], 'still parked after a restart');
  t.ok(await b.store.confirmFenced(uuid, 'ops', Date.now()));
  b.engine.wake();
  await until(b.store, uuid, (n) => n.status === 'finished');
  t.same(log, ['a:plan', 'a:fence', 'b:fence', 'b:restart:{"by":"ops"}'], 'resumed at the parked task, finished tasks not run again');
  t.notMatch(await b.metrics.registry.metrics(), /xcp_recovery_waiting_for_operator\{/, 'the gauge is gone');
  await b.engine.stop(100);
  await b.store.close();
});

t.test('stopped between tasks, a fresh engine on the reopened file resumes at the first unfinished task', async (t) => {
  const file = join(tempDir(), 'resume.sqlite');
  const log: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const moved = output<{ moved: number }>('moved', 'how many moved');
  const tasks = (label: string): Task[] => [
    { name: 'first', run: async () => void log.push(`${label}:first`) },
    {
      name: 'second',
      provides: moved,
      run: async () => {
        log.push(`${label}:second`);
        await gate;
        return { moved: 3 };
      },
    },
    { name: 'third', requires: { second: moved }, run: async (_ctx, input) => void log.push(`${label}:third:${JSON.stringify(input.second)}`) },
  ];
  const a = setup(file, tasks('a'));
  a.engine.start();
  const uuid = (await a.recorder.record(hostDown(), 'refuse')).notification!.uuid;
  await until(a.store, uuid, () => log.includes('a:second'));
  const stopping = a.engine.stop(5000); // lets "second" finish, starts nothing after it
  release();
  await stopping;
  t.equal((await a.store.get(uuid))!.status, 'running', 'handed back to the store as running');
  t.match(await a.store.tasks(uuid), [{ state: 'SUCCESS' }, { state: 'SUCCESS', result: { moved: 3 } }, { state: 'PENDING' }]);
  await a.store.close();

  const b = setup(file, tasks('b'));
  b.engine.start();
  await until(b.store, uuid, (n) => n.status === 'finished');
  t.same(log, ['a:first', 'a:second', 'b:third:{"moved":3}'], 'finished tasks never run twice; results survive the restart');
  t.equal((await b.store.get(uuid))!.attempts, 1, 'resuming is the same run');
  t.ok(b.logger.lines.some((l) => l.msg === 'resuming an interrupted workflow'));
  await b.engine.stop(100);
  await b.store.close();
});

t.test('a task still running when the shutdown grace ends is aborted and runs again at the next start', async (t) => {
  const file = join(tempDir(), 'abort.sqlite');
  let attempts = 0;
  const tasks: Task[] = [
    {
      name: 'hangs_once',
      run: async (ctx) => {
        if (attempts++ === 0) await ctx.sleep(60_000);
        return 'ok';
      },
    },
  ];
  const a = setup(file, tasks);
  a.engine.start();
  const uuid = (await a.recorder.record(hostDown(), 'refuse')).notification!.uuid;
  await until(a.store, uuid, () => attempts === 1);
  await a.engine.stop(20);
  t.match(await a.store.tasks(uuid), [{ state: 'RUNNING' }]);
  t.equal((await a.store.get(uuid))!.status, 'running');
  await a.store.close();
  const b = setup(file, tasks);
  b.engine.start();
  await until(b.store, uuid, (n) => n.status === 'finished');
  t.equal(attempts, 2);
  await b.engine.stop(100);
  await b.store.close();
});

t.test('task timeout and retries', async (t) => {
  let calls = 0;
  const cfg = config({ tasks: { flaky: { timeoutMs: 30, retries: 2, retryDelayMs: 5 } }, retry: { attempts: 0, intervalMs: 0 } });
  const { store, recorder, engine } = setup(
    ':memory:',
    [
      {
        name: 'flaky',
        run: async (ctx) => {
          if (++calls < 3) await ctx.sleep(1000);
          return null;
        },
      },
    ],
    cfg,
  );
  engine.start();
  const uuid = (await recorder.record(hostDown(), 'refuse')).notification!.uuid;
  await until(store, uuid, (n) => n.status === 'finished');
  t.equal(calls, 3);
  t.match((await store.tasks(uuid))[0]!.details, [{ message: /attempt 1 failed: task flaky timed out after 30 ms/ }, { message: /attempt 2 failed/ }]);
  await engine.stop(100);
  await store.close();
});

t.test('a timed-out attempt that goes on running starts no action: only its retry acts', async (t) => {
  const acted: number[] = [];
  let attempt = 0;
  let abandonedFinished = false;
  const cfg = config({ tasks: { slow: { timeoutMs: 50, retries: 1, retryDelayMs: 5 } }, retry: { attempts: 0, intervalMs: 0 } });
  const { store, recorder, engine } = setup(
    ':memory:',
    [
      {
        name: 'slow',
        run: async (ctx) => {
          const mine = ++attempt;
          // The first attempt ignores its signal (as a command with its own deadline would) and acts after the timeout.
          if (mine === 1) await new Promise((r) => setTimeout(r, 150));
          try {
            await ctx.act({ method: 'vm.start', params: {}, description: `start (attempt ${mine})` }, async () => {
              acted.push(mine);
            });
          } finally {
            if (mine === 1) abandonedFinished = true;
          }
          return null;
        },
      },
    ],
    cfg,
  );
  engine.start();
  const uuid = (await recorder.record(hostDown(), 'refuse')).notification!.uuid;
  await until(store, uuid, (n) => n.status === 'finished');
  await waitFor('the abandoned attempt to reach its action', () => abandonedFinished || undefined, { timeoutMs: 5_000, everyMs: 10 });
  t.same(acted, [2], 'the action ran once, by the retry; the abandoned attempt was refused');
  t.notMatch(JSON.stringify((await store.tasks(uuid))[0]!.details), /attempt 1\)/, 'nothing the abandoned attempt did reached the progress');
  await engine.stop(100);
  await store.close();
});

t.test('a receiver that loses its lease abandons the workflow before its next action; the other resumes it once', async (t) => {
  const store = new SqliteNotificationStore(':memory:');
  const metrics = createRecoveryMetrics(store);
  const events: EventMessages = () => [];
  const cfg = config({ leaseMs: 300 });
  const recorder = new NotificationRecorder({ store, metrics, events, dedupWindowMs: 0, now: Date.now });
  const acted: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const tasks = (who: string): Task[] => [
    {
      name: 'prepare',
      async run() {
        if (who === 'a') await gate; // receiver a is slow here…
        return null;
      },
    },
    {
      name: 'act',
      async run(ctx) {
        await ctx.act({ method: 'vm.start', params: {}, description: `start (${who})` }, async () => void acted.push(who));
        return null;
      },
    },
  ];
  // …and its store connection stops granting its lease (a partition, a takeover): it must notice and stop.
  let partitioned = false;
  const storeOfA = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'acquireLease') return async (...args: Parameters<typeof store.acquireLease>) => (partitioned ? false : target.acquireLease(...args));
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const engine = (who: string, s: typeof store) =>
    new RecoveryEngine({ store: s, recorder, metrics, events, logger: memoryLogger(), config: cfg, workflows: workflowOf(tasks(who)) as any, owner: who });
  const a = engine('a', storeOfA);
  a.start();
  const uuid = (await recorder.record(hostDown(), 'refuse')).notification!.uuid;
  await until(store, uuid, (n) => n.status === 'running');
  const b = engine('b', store);
  b.start();
  await new Promise((r) => setTimeout(r, 400));
  t.equal((await store.get(uuid))!.status, 'running', 'b waits while a holds the lease');
  t.same(acted, []);

  partitioned = true;
  release();
  const done = await until(store, uuid, (n) => n.status === 'finished');
  t.same(acted, ['b'], 'the action ran once, by the receiver holding the lease');
  t.equal(done.attempts, 1, 'resumed, not restarted');
  t.match(await store.tasks(uuid), [
    { name: 'prepare', state: 'SUCCESS' },
    { name: 'act', state: 'SUCCESS' },
  ]);
  await Promise.all([a.stop(100), b.stop(100)]);
  await store.close();
});

t.test('a tick that fails (the store cannot be read) is logged once and retried at the next tick', async (t) => {
  let runs = 0;
  const { store, recorder, engine, logger } = setup(':memory:', [{ name: 'counts', run: async () => void runs++ }]);
  const { notification } = await recorder.record(hostDown(), 'refuse');
  // The first read of the unfinished list fails as a locked or unreachable database would; later reads succeed.
  const unfinished = store.unfinished.bind(store);
  let failures = 0;
  store.unfinished = async () => {
    if (failures++ === 0) throw new Error('SQLITE_BUSY: database is locked');
    return unfinished();
  };
  engine.start();
  t.match(await until(store, notification!.uuid, (n) => n.status === 'finished'), { attempts: 1 });
  t.equal(runs, 1, 'the workflow ran once, at the tick after the failed one');
  const failed = logger.lines.filter((l) => l.msg === 'recovery engine tick failed; retrying at the next tick');
  t.equal(failed.length, 1, 'the failure is logged once');
  t.match(failed[0], { level: 'error', error: { message: 'SQLITE_BUSY: database is locked' } });
  await engine.stop(100);
  await store.close();
});

t.test('woken without pause (an intake storm), ticks take at most about a fifth of the event loop; a quiet engine wakes at once', async (t) => {
  const { store, engine } = setup(':memory:', [], config({ tickMs: 60_000 }));
  // Each tick reads the unfinished list: here it costs 5 ms of the event loop, as 1,000 unfinished rows do.
  const unfinished = store.unfinished.bind(store);
  const ticks: { start: number; end: number }[] = [];
  store.unfinished = async () => {
    const start = performance.now();
    while (performance.now() - start < 5);
    ticks.push({ start, end: performance.now() });
    return unfinished();
  };
  engine.start();
  // A wake every millisecond for 600 ms: every group commit of a busy intake wakes the engine.
  const began = performance.now();
  const waking = setInterval(() => engine.wake(), 1);
  await new Promise((r) => setTimeout(r, 600));
  clearInterval(waking);
  const wall = performance.now() - began;
  const busy = ticks.filter((k) => k.start >= began).reduce((sum, k) => sum + (k.end - k.start), 0);
  t.ok(ticks.length >= 5, `the engine kept ticking (${ticks.length} ticks)`);
  t.ok(busy / wall < 0.35, `ticks took ${((100 * busy) / wall).toFixed(0)} % of the loop (back to back: nearly all of it)`);

  // Quiet for a while, then one wake: the tick follows at once (not after tick_seconds).
  await new Promise((r) => setTimeout(r, 100));
  const before = ticks.length;
  const woken = performance.now();
  engine.wake();
  await waitFor('a tick after the wake', async () => ticks.length > before, { timeoutMs: 2000, everyMs: 1 });
  t.ok(ticks[before]!.start - woken < 150, `ticked ${(ticks[before]!.start - woken).toFixed(1)} ms after the wake`);

  // A tick that is long without being costly (it waited, as on slow disk syncs) rests at most 250 ms, not four times
  // its length.
  let slowOnce = true;
  const cheap = store.unfinished;
  store.unfinished = async () => {
    if (slowOnce) {
      slowOnce = false;
      await new Promise((r) => setTimeout(r, 150));
    }
    return cheap();
  };
  await new Promise((r) => setTimeout(r, 100));
  const beforeSlow = ticks.length;
  engine.wake();
  await waitFor('the slow tick', async () => ticks.length > beforeSlow, { timeoutMs: 2000, everyMs: 1 });
  await new Promise((r) => setTimeout(r, 20)); // the slow tick ends meanwhile
  const afterSlow = ticks.length;
  const wokenAgain = performance.now();
  engine.wake();
  await waitFor('a tick after the slow one', async () => ticks.length > afterSlow, { timeoutMs: 2000, everyMs: 1 });
  t.ok(
    ticks[afterSlow]!.start - wokenAgain < 400,
    `woken ${(ticks[afterSlow]!.start - wokenAgain).toFixed(0)} ms after a 150 ms tick (the cap: 250 ms from its end; 600 uncapped)`,
  );
  await engine.stop(100);
  await store.close();
});
