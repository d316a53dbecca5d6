// SQLite off the event loop: a worker thread owns the connection (the store of sqlite.ts, unchanged) and runs each
// method there, so the receiver's event loop keeps reading requests while a commit waits for its fsync, and the next
// group commit takes everything that arrived meanwhile. Every method answers after its transaction committed, as
// before: nothing is acknowledged before it is on disk.
//
// Callbacks a method takes (the outbox messages of a create, a status change or an operator wait) run on the
// caller's thread, synchronously inside the worker's transaction: the worker posts the call and blocks (Atomics.wait)
// until the answer is in its port, so transactions keep exactly the semantics of the in-thread store.
//
// createMany, the webhook's hot path, posts its arguments and results as JSON text, and asks for the outbox messages
// of all its new notifications in one round trip, also as JSON text: a string is copied as it is, where a structured
// clone of the same object graphs walked every object twice (profiles: most of the main thread's messaging cost).
import { MessageChannel, type MessagePort, Worker, isMainThread, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { QueuedSignal } from './queued.js';
import { SqliteNotificationStore } from './sqlite.js';
import { MarkerNotFoundError, type NotificationStore, StoreError } from './store.js';
import type { CreateResult, Notification, OutboxBuilder, OutboxInput } from './types.js';

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
  | { kind: 'done'; id: number; value?: unknown; error?: SerializedError; json?: string }
  | { kind: 'callback'; id: number; callback: number; args: unknown[] }
  | { kind: 'callback'; id: number; callback: number; json: string }
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
  /** The new notifications createMany's outbox callback received: its results name them by index. */
  announced?: Notification[];
}

/** createMany's results as the worker posts them: a notification the caller already has (announced) by its index. */
type PostedResult = [outcome: CreateResult['outcome'], notification: Notification | number | null];

export class SqliteWorkerStore implements NotificationStore {
  readonly #worker: Worker;
  /** Answers to callbacks go through this port, read by the blocked worker with receiveMessageOnPort. */
  readonly #answers: MessagePort;
  /** The worker's callbacks come through this port: read when its event comes, or earlier by answerWaitingCallback. */
  readonly #asks: MessagePort;
  readonly #wake: Int32Array;
  readonly #pending = new Map<number, Pending>();
  readonly #signal = new QueuedSignal();
  #nextId = 1;
  #closed: Error | undefined;

  private constructor(readonly path: string) {
    const channel = new MessageChannel();
    const asks = new MessageChannel();
    this.#answers = channel.port1;
    this.#asks = asks.port1;
    this.#asks.on('message', (m: FromWorker) => this.#onMessage(m));
    // The worker's own ref (held while a call is pending) keeps the process alive, not this port.
    this.#asks.unref();
    this.#wake = new Int32Array(new SharedArrayBuffer(4));
    this.#worker = new Worker(workerEntry(), {
      eval: import.meta.url.endsWith('.ts'),
      workerData: { role: ROLE, path, port: channel.port2, asks: asks.port2, wake: this.#wake },
      transferList: [channel.port2, asks.port2],
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
      if ('json' in m) this.#answerJsonCallback(m.id, m.callback, m.json);
      else this.#answerCallback(m.id, m.callback, m.args);
      return;
    }
    if (m.kind !== 'done') return;
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    if (!this.#pending.size) this.#worker.unref();
    if (m.error) p.reject(revive(m.error));
    else if (m.json === undefined) p.resolve(m.value);
    else p.resolve((JSON.parse(m.json) as PostedResult[]).map(([outcome, n]) => resultOf(outcome, typeof n === 'number' ? p.announced![n]! : n)));
  }

  /**
   * Answer the callback the worker is blocked on, if it has posted one: the intake calls this as each delivery comes
   * in, so that a commit waits for the caller's answer about one delivery's work, not for the end of the event loop's
   * turn (up to a request from each of the senders). A callback not taken here comes as its port's event.
   */
  answerWaitingCallback(): void {
    const waiting = receiveMessageOnPort(this.#asks);
    if (waiting) this.#onMessage(waiting.message as FromWorker);
  }

  /** Run a callback of call `id` for the blocked worker, with `args`. */
  #answerCallback(id: number, index: number, args: unknown[]): void {
    let answer: { value?: unknown; error?: string };
    try {
      answer = { value: this.#pending.get(id)!.callbacks[index]!(...args) };
    } catch (err) {
      answer = { error: err instanceof Error ? err.message : String(err) };
    }
    this.#answer(answer);
  }

  /** The same for a callback called once per argument list of `json`, answered as JSON text. */
  #answerJsonCallback(id: number, index: number, json: string): void {
    let answer: { json?: string; error?: string };
    try {
      const pending = this.#pending.get(id)!;
      const argLists = JSON.parse(json) as unknown[][];
      pending.announced = argLists.map((a) => a[0] as Notification);
      answer = { json: JSON.stringify(argLists.map((a) => pending.callbacks[index]!(...a))) };
    } catch (err) {
      answer = { error: err instanceof Error ? err.message : String(err) };
    }
    this.#answer(answer);
  }

  #answer(answer: { value?: unknown; json?: string; error?: string }): void {
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

  /** `json`: the arguments as one JSON text (createMany's); its answer comes back as JSON text too. */
  #call<M extends Method>(method: M, args: unknown[], json?: string): Promise<Result<M>> {
    if (this.#closed) return Promise.reject(new StoreError(method, this.#closed));
    const id = this.#nextId++;
    const callbacks: Pending['callbacks'] = [];
    const sent = args.map((a): unknown =>
      typeof a === 'function' ? ({ [CALLBACK]: callbacks.push(a as Pending['callbacks'][number]) - 1 } satisfies CallbackRef) : a,
    );
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, callbacks, method });
      this.#worker.ref();
      this.#worker.postMessage({ id, method, args: sent, json });
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
  createMany(...[inputs, opts, outbox, extra]: Args<'createMany'>) {
    return this.#call('createMany', outbox ? [outbox] : [], JSON.stringify([inputs, opts, extra ?? []]));
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

/**
 * This module is the worker's code. Run from its TypeScript source (tests, `npm run` scripts), the worker registers
 * tsx first: Node 20 does not hand a loader registered with --import to worker threads.
 */
function workerEntry(): URL | string {
  if (!import.meta.url.endsWith('.ts')) return new URL(import.meta.url);
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); });`;
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

/**
 * A callback of the caller, called from the worker; `many` calls it for several argument lists in one round trip (as
 * JSON text); `manyLater` posts the same question at once and returns the wait for its answer.
 */
interface RemoteCallback {
  (...args: unknown[]): unknown;
  many(argLists: unknown[][]): unknown[];
  manyLater(argLists: unknown[][]): () => unknown[];
}

function resultOf(outcome: CreateResult['outcome'], notification: Notification | null): CreateResult {
  return (notification ? { outcome, notification } : { outcome }) as CreateResult;
}

/** The in-thread store, asking its caller once per create for the outbox messages of all the new notifications. */
class WorkerSideStore extends SqliteNotificationStore {
  /** The notifications the caller received with the current createMany's outbox callback. */
  announced: Notification[] = [];
  /** The wait for the caller's answer about the announced notifications, until outboxOf takes it. */
  #answer: (() => unknown[]) | undefined;

  /** Post the caller the notifications about to be inserted: it builds their messages while this thread inserts them. */
  protected override announce(outbox: OutboxBuilder, created: Notification[]): void {
    const remote = outbox as unknown as Partial<RemoteCallback>;
    if (!remote.manyLater) return;
    this.#answer = remote.manyLater(created.map((n) => [n, { tasks: [], moves: [] }]));
    this.announced = created;
  }

  protected override outboxOf(outbox: OutboxBuilder, created: Notification[]): OutboxInput[][] {
    if (this.#answer) return this.#takeAnswer() as OutboxInput[][];
    const remote = outbox as unknown as Partial<RemoteCallback>;
    if (!remote.many) return super.outboxOf(outbox, created);
    const messages = remote.many(created.map((n) => [n, { tasks: [], moves: [] }])) as OutboxInput[][];
    this.announced = created;
    return messages;
  }

  #takeAnswer(): unknown[] {
    const wait = this.#answer!;
    this.#answer = undefined;
    return wait();
  }

  override async createMany(...args: Parameters<SqliteNotificationStore['createMany']>): Promise<CreateResult[]> {
    this.announced = [];
    try {
      return await super.createMany(...args);
    } finally {
      // A create that failed after its announcement: the caller's answer is still read, so that it is not taken
      // for the answer to a later question.
      if (this.#answer)
        try {
          this.#takeAnswer();
        } catch {
          // the create failed already; its answer does not matter
        }
    }
  }

  /** createMany's results to post: the notifications announced to the caller as their index (the caller has them). */
  postedResults(results: CreateResult[]): PostedResult[] {
    const index = new Map(this.announced.map((n, i) => [n.uuid, i]));
    this.announced = [];
    return results.map((r) => [r.outcome, r.notification ? (index.get(r.notification.uuid) ?? r.notification) : null]);
  }
}

/** The worker: opens the store and runs the calls one at a time, in arrival order. */
function serve(data: { path: string; port: MessagePort; asks: MessagePort; wake: Int32Array }): void {
  const post = (m: FromWorker) => parentPort!.postMessage(m);
  let store: WorkerSideStore | undefined;
  let openError: unknown;
  try {
    store = new WorkerSideStore(data.path);
    store.onMessagesQueued(() => post({ kind: 'queued' }));
  } catch (err) {
    openError = err;
  }
  /** Post the call; the wait returned blocks until the caller's thread answered in the port (at once if it has). */
  const askLater = (message: FromWorker & { kind: 'callback' }): (() => unknown) => {
    Atomics.store(data.wake, 0, 0);
    data.asks.postMessage(message);
    return () => {
      Atomics.wait(data.wake, 0, 0);
      const answer = receiveMessageOnPort(data.port)!.message as { value?: unknown; json?: string; error?: string };
      if (answer.error !== undefined) throw new Error(answer.error);
      return answer.json === undefined ? answer.value : JSON.parse(answer.json);
    };
  };
  const remote = (id: number, callback: number): RemoteCallback => {
    const manyLater = (argLists: unknown[][]) => askLater({ kind: 'callback', id, callback, json: JSON.stringify(argLists) }) as () => unknown[];
    return Object.assign((...args: unknown[]) => askLater({ kind: 'callback', id, callback, args })(), {
      many: (argLists: unknown[][]) => manyLater(argLists)(),
      manyLater,
    });
  };
  parentPort!.on('message', async ({ id, method, args, json }: { id: number; method: string; args: unknown[]; json?: string }) => {
    try {
      if (openError) throw openError;
      const fn = (store as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!;
      // The in-thread store does all its work synchronously: each call is done before the next message is read.
      if (json !== undefined) {
        // createMany: [inputs, opts, extra] as JSON text, then its outbox builder if any; the results go back as JSON text.
        const [inputs, opts, extra] = JSON.parse(json) as unknown[];
        const outbox = isCallbackRef(args[0]) ? remote(id, args[0][CALLBACK]) : undefined;
        const results = (await fn.call(store, inputs, opts, outbox, extra)) as CreateResult[];
        post({ kind: 'done', id, json: JSON.stringify(store!.postedResults(results)) });
        return;
      }
      const real = args.map((a) => (isCallbackRef(a) ? remote(id, a[CALLBACK]) : a));
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
