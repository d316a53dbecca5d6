// SQLite off the event loop: a worker thread owns the connection (the store of sqlite.ts, unchanged) and runs each
// method there, so the receiver's event loop keeps reading requests while a commit waits for its fsync, and the next
// group commit takes everything that arrived meanwhile. Every method answers after its transaction committed, as
// before: nothing is acknowledged before it is on disk.
//
// Callbacks a method takes (the outbox messages of a create, a status change or an operator wait) run on the
// caller's thread, synchronously inside the worker's transaction: the worker posts the call and blocks (Atomics.wait)
// until the answer is in its port, so transactions keep exactly the semantics of the in-thread store.
import { MessageChannel, type MessagePort, Worker, isMainThread, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { QueuedSignal } from './queued.js';
import { SqliteNotificationStore } from './sqlite.js';
import { MarkerNotFoundError, type NotificationStore, StoreError } from './store.js';
import type { Notification, OutboxBuilder, OutboxInput } from './types.js';
import { workerEntry } from './worker-entry.js';

const ROLE = 'xcp-sentinel sqlite store';

/** The store methods the worker runs (all but onMessagesQueued, which is answered by events). */
type Remote = Omit<NotificationStore, 'onMessagesQueued'> & { schemaVersions(): Promise<number[]> };
type Method = keyof Remote;
type Args<M extends Method> = Parameters<Remote[M]>;
type Result<M extends Method> = Awaited<ReturnType<Remote[M]>>;

/** A function argument, replaced by its index among the call's callbacks. */
const CALLBACK = 'xcp-sentinel callback';
type CallbackRef = { [CALLBACK]: number };

type FromWorker =
  | { kind: 'done'; id: number; value?: unknown; error?: SerializedError }
  | { kind: 'callback'; id: number; callback: number; args: unknown[]; many?: boolean }
  | { kind: 'queued' };

interface SerializedError {
  name: string;
  message: string;
  operation?: string;
  refusedInput?: boolean;
  marker?: number;
  code?: unknown;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: unknown): void;
  callbacks: ((...args: unknown[]) => unknown)[];
  method: string;
}

export class SqliteWorkerStore implements NotificationStore {
  readonly #worker: Worker;
  /** Answers to callbacks go through this port, read by the blocked worker with receiveMessageOnPort. */
  readonly #answers: MessagePort;
  readonly #wake: Int32Array;
  readonly #pending = new Map<number, Pending>();
  readonly #signal = new QueuedSignal();
  #nextId = 1;
  #closed: Error | undefined;

  private constructor(readonly path: string) {
    const channel = new MessageChannel();
    this.#answers = channel.port1;
    this.#wake = new Int32Array(new SharedArrayBuffer(4));
    const entry = workerEntry(import.meta.url);
    this.#worker = new Worker(entry.filename, {
      ...entry.options,
      workerData: { role: ROLE, path, port: channel.port2, wake: this.#wake },
      transferList: [channel.port2],
    });
    this.#worker.on('message', (m: FromWorker) => this.#onMessage(m));
    this.#worker.on('error', (err) => this.#fail(err));
    this.#worker.on('exit', (code) => this.#fail(new Error(`the SQLite worker exited (code ${code})`)));
  }

  /** Open (creating if needed) the store file in its worker and migrate its schema. Rejects with StoreError when it cannot. */
  static async open(path: string): Promise<SqliteWorkerStore> {
    const store = new SqliteWorkerStore(path);
    try {
      await store.schemaVersions();
    } catch (err) {
      store.#closed = err as Error;
      await store.#worker.terminate();
      throw err;
    }
    return store;
  }

  #onMessage(m: FromWorker): void {
    if (m.kind === 'queued') {
      this.#signal.fire();
      return;
    }
    if (m.kind === 'callback') {
      this.#answerCallback(m.id, m.callback, m.args, m.many);
      return;
    }
    if (m.kind !== 'done') return;
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    if (!this.#pending.size) this.#worker.unref();
    if (m.error) p.reject(revive(m.error));
    else p.resolve(m.value);
  }

  /** Run a callback of call `id` for the blocked worker: once with `args`, or (`many`) once per argument list in it. */
  #answerCallback(id: number, index: number, args: unknown[], many = false): void {
    let answer: { value?: unknown; error?: string };
    try {
      const fn = this.#pending.get(id)!.callbacks[index]!;
      answer = { value: many ? (args as unknown[][]).map((a) => fn(...a)) : fn(...args) };
    } catch (err) {
      answer = { error: err instanceof Error ? err.message : String(err) };
    }
    this.#answers.postMessage(answer);
    Atomics.store(this.#wake, 0, 1);
    Atomics.notify(this.#wake, 0);
  }

  #fail(err: Error): void {
    this.#closed ??= err;
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.reject(new StoreError(p.method, err));
    }
  }

  #call<M extends Method>(method: M, args: unknown[]): Promise<Result<M>> {
    if (this.#closed) return Promise.reject(new StoreError(method, this.#closed));
    const id = this.#nextId++;
    const callbacks: Pending['callbacks'] = [];
    const sent = args.map((a): unknown =>
      typeof a === 'function' ? ({ [CALLBACK]: callbacks.push(a as Pending['callbacks'][number]) - 1 } satisfies CallbackRef) : a,
    );
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, callbacks, method });
      this.#worker.ref();
      this.#worker.postMessage({ id, method, args: sent });
    });
  }

  /** Versions of the applied migrations (for tests and `check-config`). */
  schemaVersions(): Promise<number[]> {
    return this.#call('schemaVersions', []);
  }

  // ── Notifications (StoreNotifications) ──

  create(...a: Args<'create'>) {
    return this.#call('create', a);
  }
  createMany(...a: Args<'createMany'>) {
    return this.#call('createMany', a);
  }
  get(...a: Args<'get'>) {
    return this.#call('get', a);
  }
  list(...a: Args<'list'>) {
    return this.#call('list', a);
  }
  countByStatus(...a: Args<'countByStatus'>) {
    return this.#call('countByStatus', a);
  }
  unfinished(...a: Args<'unfinished'>) {
    return this.#call('unfinished', a);
  }
  transition(...a: Args<'transition'>) {
    return this.#call('transition', a);
  }

  // ── Task log (StoreTasks) ──

  planTasks(...a: Args<'planTasks'>) {
    return this.#call('planTasks', a);
  }
  tasks(...a: Args<'tasks'>) {
    return this.#call('tasks', a);
  }
  startTask(...a: Args<'startTask'>) {
    return this.#call('startTask', a);
  }
  addProgress(...a: Args<'addProgress'>) {
    return this.#call('addProgress', a);
  }
  finishTask(...a: Args<'finishTask'>) {
    return this.#call('finishTask', a);
  }

  // ── VM moves (StoreMoves) ──

  planMoves(...a: Args<'planMoves'>) {
    return this.#call('planMoves', a);
  }
  moves(...a: Args<'moves'>) {
    return this.#call('moves', a);
  }
  updateMove(...a: Args<'updateMove'>) {
    return this.#call('updateMove', a);
  }

  // ── Hosts (StoreHosts) ──

  hosts(...a: Args<'hosts'>) {
    return this.#call('hosts', a);
  }
  setMaintenance(...a: Args<'setMaintenance'>) {
    return this.#call('setMaintenance', a);
  }

  // ── Outbox (StoreOutbox) ──

  /** Answered here: the worker posts an event after each commit that queued messages. */
  onMessagesQueued(listener: () => void): void {
    this.#signal.on(listener);
  }
  claimMessages(...a: Args<'claimMessages'>) {
    return this.#call('claimMessages', a);
  }
  ackMessage(...a: Args<'ackMessage'>) {
    return this.#call('ackMessage', a);
  }
  retryMessageAt(...a: Args<'retryMessageAt'>) {
    return this.#call('retryMessageAt', a);
  }
  giveUpMessage(...a: Args<'giveUpMessage'>) {
    return this.#call('giveUpMessage', a);
  }

  // ── Leases (StoreLeases) ──

  acquireLease(...a: Args<'acquireLease'>) {
    return this.#call('acquireLease', a);
  }
  releaseLease(...a: Args<'releaseLease'>) {
    return this.#call('releaseLease', a);
  }

  // ── Operator waits (StoreOperatorWaits) ──

  waitForOperator(...a: Args<'waitForOperator'>) {
    return this.#call('waitForOperator', a);
  }
  operatorWait(...a: Args<'operatorWait'>) {
    return this.#call('operatorWait', a);
  }
  openOperatorWaits(...a: Args<'openOperatorWaits'>) {
    return this.#call('openOperatorWaits', a);
  }
  confirmFenced(...a: Args<'confirmFenced'>) {
    return this.#call('confirmFenced', a);
  }

  // ── Fences (StoreFences) ──

  reserveFence(...a: Args<'reserveFence'>) {
    return this.#call('reserveFence', a);
  }
  fenceOf(...a: Args<'fenceOf'>) {
    return this.#call('fenceOf', a);
  }

  // ── Forwards (StoreForwards) ──

  getForward(...a: Args<'getForward'>) {
    return this.#call('getForward', a);
  }
  saveForward(...a: Args<'saveForward'>) {
    return this.#call('saveForward', a);
  }

  // ── Retention (StoreRetention) ──

  purge(...a: Args<'purge'>) {
    return this.#call('purge', a);
  }

  // ── Activity (StoreActivity) ──

  recordHookCall(...a: Args<'recordHookCall'>) {
    return this.#call('recordHookCall', a);
  }
  activityOf(...a: Args<'activityOf'>) {
    return this.#call('activityOf', a);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#call('close', []);
    this.#closed = new Error('the store is closed');
    await this.#worker.terminate();
  }
}

function serialize(err: unknown): SerializedError {
  if (err instanceof StoreError) {
    const cause = err.cause as { message?: unknown; code?: unknown } | undefined;
    return { name: err.name, message: String(cause?.message ?? cause), operation: err.operation, refusedInput: err.refusedInput, code: cause?.code };
  }
  if (err instanceof MarkerNotFoundError) return { name: err.name, message: err.message, marker: err.marker };
  return { name: 'Error', message: err instanceof Error ? err.message : String(err) };
}

/** The error the in-thread store would have thrown: same class, message and fields. */
function revive(e: SerializedError): Error {
  if (e.name === 'MarkerNotFoundError') return new MarkerNotFoundError(e.marker!);
  const cause = Object.assign(new Error(e.message), e.code === undefined ? {} : { code: e.code });
  if (e.name === 'StoreError') return new StoreError(e.operation!, cause, e.refusedInput);
  return cause;
}

/** A callback of the caller, called from the worker; `many` calls it for several argument lists in one round trip. */
interface RemoteCallback {
  (...args: unknown[]): unknown;
  many(argLists: unknown[][]): unknown[];
}

/**
 * The in-thread store, asking its caller once per create for the outbox messages of all the new notifications. Its
 * commits are off the event loop already: SQLite checkpoints in them, no thread of its own (measured: one cost ~50 µs
 * of CPU per webhook for nothing).
 */
class WorkerSideStore extends SqliteNotificationStore {
  protected override startCheckpointer(): undefined {
    return undefined;
  }

  protected override outboxOf(outbox: OutboxBuilder, created: Notification[]): OutboxInput[][] {
    const remote = outbox as unknown as Partial<RemoteCallback>;
    if (!remote.many) return super.outboxOf(outbox, created);
    return remote.many(created.map((n) => [n, { tasks: [], moves: [] }])) as OutboxInput[][];
  }
}

/** The worker: opens the store and runs the calls one at a time, in arrival order. */
function serve(data: { path: string; port: MessagePort; wake: Int32Array }): void {
  const post = (m: FromWorker) => parentPort!.postMessage(m);
  let store: SqliteNotificationStore | undefined;
  let openError: unknown;
  try {
    store = new WorkerSideStore(data.path);
    store.onMessagesQueued(() => post({ kind: 'queued' }));
  } catch (err) {
    openError = err;
  }
  /** Post the call, block until the caller's thread answered in the port. */
  const ask = (id: number, callback: number, args: unknown[], many: boolean): unknown => {
    Atomics.store(data.wake, 0, 0);
    post({ kind: 'callback', id, callback, args, many });
    Atomics.wait(data.wake, 0, 0);
    const answer = receiveMessageOnPort(data.port)!.message as { value?: unknown; error?: string };
    if (answer.error !== undefined) throw new Error(answer.error);
    return answer.value;
  };
  const remote = (id: number, callback: number): RemoteCallback =>
    Object.assign((...args: unknown[]) => ask(id, callback, args, false), { many: (argLists: unknown[][]) => ask(id, callback, argLists, true) as unknown[] });
  parentPort!.on('message', async ({ id, method, args }: { id: number; method: string; args: unknown[] }) => {
    try {
      if (openError) throw openError;
      const real = args.map((a) => (isCallbackRef(a) ? remote(id, a[CALLBACK]) : a));
      const fn = (store as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!;
      // The in-thread store does all its work synchronously: each call is done before the next message is read.
      post({ kind: 'done', id, value: await fn.apply(store, real) });
    } catch (err) {
      post({ kind: 'done', id, error: serialize(err) });
    }
  });
}

function isCallbackRef(a: unknown): a is CallbackRef {
  return typeof a === 'object' && a !== null && typeof (a as CallbackRef)[CALLBACK] === 'number';
}

if (!isMainThread && (workerData as { role?: unknown } | null)?.role === ROLE) serve(workerData as Parameters<typeof serve>[0]);
