// How results flow between tasks (recovery-hooks/engine/wiring.ts): each required input comes from the latest earlier
// task providing it, an optional one is absent when none does, and a task list that reads an input before any task
// provides it is refused with the task, the input and the tasks that would provide it — when the workflow is built,
// and by the runner for a workflow that was not.
import { join } from 'node:path';
import t from 'tap';
import { memoryLogger } from '../../core/log.js';
import { waitFor } from '../../core/concurrency.js';
import { RecoveryEngine } from '../../recovery-hooks/engine/engine.js';
import { createRecoveryMetrics } from '../../recovery-hooks/engine/metrics.js';
import type { Task, Workflow } from '../../recovery-hooks/engine/task.js';
import {
  WorkflowOrderError,
  defineWorkflow,
  implement,
  inputsOf,
  optional,
  output,
  signatures,
  wire,
  wireWorkflow,
} from '../../recovery-hooks/engine/wiring.js';
import { NotificationRecorder } from '../../recovery-hooks/intake/recorder.js';
import { SqliteNotificationStore } from '../../recovery-hooks/store/sqlite.js';
import { HOST_1, tempDir, testConfig } from './helpers/harness.js';

const PLAN = output<{ vms: number }>('plan', 'the plan');
const FENCED = output<{ by: string }>('fenced', 'the host proven off');
const NOTE = output<string>('note', 'a remark');

const sigs = signatures({
  plan: { provides: PLAN },
  replan: { provides: PLAN },
  fence: { requires: { plan: PLAN }, provides: FENCED },
  restart: { requires: { fenced: FENCED, plan: PLAN, note: optional(NOTE) } },
});

t.test('signatures take their key as their name', async (t) => {
  t.same(
    Object.values(sigs).map((s) => s.name),
    ['plan', 'replan', 'fence', 'restart'],
  );
  t.equal(sigs.restart.requires.plan, PLAN);
});

t.test('each input comes from the latest earlier task that provides it; an optional one nobody provides is absent', async (t) => {
  const { wiring, problems } = wire([sigs.plan, sigs.fence, sigs.replan, sigs.restart]);
  t.same(problems, []);
  t.same(wiring.get('fence'), { plan: 'plan' });
  t.same(wiring.get('restart'), { fenced: 'fence', plan: 'replan' }, 'the replan, not the first plan; no source for the optional note');
  const results = { plan: { vms: 1 }, fence: { by: 'bmc' }, replan: { vms: 2 } };
  t.same(inputsOf(sigs.restart, wiring, results), { fenced: { by: 'bmc' }, plan: { vms: 2 } });
  t.same(inputsOf({ name: 'not-in-the-workflow' }, wiring, results), {});
  const withNote = wire([sigs.plan, sigs.fence, { name: 'remark', provides: NOTE }, sigs.restart]);
  t.same(withNote.wiring.get('restart'), { fenced: 'fence', plan: 'plan', note: 'remark' });
});

t.test('a misordered list is refused, naming the task, its input, and the tasks that would provide it', async (t) => {
  t.same(wire([sigs.restart, sigs.fence, sigs.plan]).problems, [
    'restart needs fence before it (its input fenced: the host proven off)',
    'restart needs plan before it (its input plan: the plan)',
    'fence needs plan before it (its input plan: the plan)',
  ]);
  // The tasks that could provide it come from `known` (all a workflow may list), not only from the list itself.
  t.same(wire([sigs.fence], Object.values(sigs)).problems, ['fence needs plan or replan before it (its input plan: the plan)']);
  t.same(wire([sigs.fence], []).problems, ['fence needs a task providing plan before it (its input plan: the plan)']);
  t.same(wire([sigs.plan, sigs.plan]).problems, ['plan is listed twice (results are kept by task name)']);
});

t.test('defineWorkflow checks the order when the workflow is built', async (t) => {
  const run = async () => null;
  const good: Workflow = {
    type: 'COMPUTE_HOST',
    tasks: [implement(sigs.plan, { run: async () => ({ vms: 0 }) }), implement(sigs.fence, { run })],
    setsMaintenance: true,
  };
  t.equal(defineWorkflow(good), good);
  t.equal(wireWorkflow(good).get('fence')?.plan, 'plan');
  const bad: Workflow = { ...good, tasks: [...good.tasks].reverse() };
  t.throws(() => defineWorkflow(bad), new WorkflowOrderError('workflow COMPUTE_HOST [fence, plan]: fence needs plan before it (its input plan: the plan)'));
  const task = implement(sigs.fence, { failureMeans: 'ignored', run });
  t.match(task, { name: 'fence', requires: { plan: PLAN }, provides: FENCED, failureMeans: 'ignored' }, 'implement keeps the signature');
});

t.test('the runner passes each task its inputs and refuses a workflow that was not checked', async (t) => {
  const base = testConfig(tempDir()).recovery_hook;
  const config = { ...base, tickMs: 10, retry: { attempts: 0, intervalMs: 30 } };
  const store = new SqliteNotificationStore(join(tempDir(), 'wiring.sqlite'));
  const metrics = createRecoveryMetrics(store);
  const recorder = new NotificationRecorder({ store, metrics, events: () => [], dedupWindowMs: config.dedupWindowMs, now: Date.now });
  const seen: unknown[] = [];
  const tasks: Task[] = [
    implement(sigs.plan, { run: async () => ({ vms: 3 }) }),
    implement(sigs.fence, { run: async (_ctx, { plan }) => ({ by: `bmc after a plan of ${plan.vms}` }) }),
    implement(sigs.restart, { run: async (_ctx, input) => void seen.push(input) }),
  ];
  const misordered: Workflow = { type: 'COMPUTE_PROCESS', tasks: [tasks[2]!, tasks[0]!], setsMaintenance: false };
  const wf: Workflow = { type: 'COMPUTE_HOST', tasks, setsMaintenance: false };
  const engine = new RecoveryEngine({
    store,
    recorder,
    metrics,
    events: () => [],
    logger: memoryLogger(),
    config,
    workflows: { COMPUTE_HOST: wf, COMPUTE_INSTANCE: wf, COMPUTE_PROCESS: misordered, XCP_EMERGENCY_SHUTDOWN: wf },
    owner: 'test',
  });
  engine.start();
  const notify = async (type: 'COMPUTE_HOST' | 'COMPUTE_PROCESS') =>
    (
      await recorder.record(
        { type, hostUuid: HOST_1.uuid, hostName: HOST_1.name, poolName: 'pool-a', generatedAt: Date.now(), payload: { event: 'STOPPED' }, source: 'api' },
        'refuse',
      )
    ).notification!.uuid;
  const good = await notify('COMPUTE_HOST');
  const end = (uuid: string) =>
    waitFor(`notification ${uuid} ends`, async () => {
      const n = await store.get(uuid);
      return n && ['finished', 'failed', 'error'].includes(n.status) ? n : undefined;
    });
  t.equal((await end(good)).status, 'finished');
  t.same(seen, [{ fenced: { by: 'bmc after a plan of 3' }, plan: { vms: 3 } }], 'typed inputs, keyed as the task requires them');
  const bad = await notify('COMPUTE_PROCESS');
  t.match((await end(bad)).message, /workflow COMPUTE_PROCESS \[restart, plan\]: restart needs a task providing fenced before it/);
  t.same(await store.tasks(bad), [], 'nothing planned, nothing ran');
  await engine.stop(100);
  await store.close();
});
