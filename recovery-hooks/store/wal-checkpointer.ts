// Checkpoints of the store's WAL, off the event loop. SQLite checkpoints in the connection that commits, by default
// after the commit that brings the WAL to 1,000 pages: it copies the WAL's pages into the database file and, with
// synchronous=NORMAL, fsyncs the WAL and then the database file — synchronously, inside the commit. On the receiver's
// event loop that blocked every request for the copy and two fsyncs (commits of a group of 16 webhooks: p99 8–9 ms,
// max 10.5 ms with it, 3.4–4.0 ms without; a disk that stalls would stall the loop with it). Here a worker thread
// holds a connection of its own to the file and runs PASSIVE checkpoints when asked: SQLite lets one run beside the
// writer (it copies what was committed when it started and never waits on locks), and the writer starts the WAL
// over at its next transaction once a checkpoint copied everything. Nothing about durability changes: a commit is on
// disk when its WAL frames are (sqlite.ts syncs them), and the checkpoint syncs as SQLite's own would.
import { type MessagePort, Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { workerEntry } from './worker-entry.js';

const ROLE = 'xcp-sentinel wal checkpointer';

/** What one checkpoint did, as `PRAGMA wal_checkpoint` reports it. */
export interface CheckpointResult {
  /** Frames in the WAL when it ran. */
  walFrames: number;
  /** Frames copied into the database file, in all (this and earlier checkpoints since the WAL started over). */
  checkpointed: number;
}

/** What the worker answers a checkpoint request with. */
export type FromWorker = { kind: 'done'; result: CheckpointResult } | { kind: 'failed'; message: string };

interface Running {
  promise: Promise<CheckpointResult>;
  resolve(r: CheckpointResult): void;
  reject(err: Error): void;
}

export class WalCheckpointer {
  readonly #worker: Worker;
  #running: Running | undefined;
  #failed: Error | undefined;

  constructor(readonly path: string) {
    const entry = workerEntry(import.meta.url);
    this.#worker = new Worker(entry.filename, { ...entry.options, workerData: { role: ROLE, path } });
    this.#worker.unref();
    this.#worker.on('message', (m: FromWorker) => {
      if (m.kind === 'done') this.#settle()?.resolve(m.result);
      else this.#end(new Error(`WAL checkpoint of ${this.path} failed: ${m.message}`));
    });
    this.#worker.on('error', this.#end);
    this.#worker.on('exit', (code) => this.#end(new Error(`the WAL checkpointer of ${this.path} exited (code ${code})`)));
  }

  /** The checkpoint in flight, now answered: the worker no longer keeps the process up. */
  #settle(): Running | undefined {
    const running = this.#running;
    this.#running = undefined;
    this.#worker.unref();
    return running;
  }

  /** The worker failed (a checkpoint's error, an uncaught one, its exit): the checkpoint in flight fails, and every later one. */
  readonly #end = (err: Error): void => {
    this.#settle()?.reject(this.#fail(err));
  };

  /** Is a checkpoint running? */
  get busy(): boolean {
    return this.#running !== undefined;
  }

  /** One PASSIVE checkpoint in the worker; while one runs, that one. Rejects once the checkpointer failed. */
  checkpoint(): Promise<CheckpointResult> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#running) return this.#running.promise;
    let settle!: Pick<Running, 'resolve' | 'reject'>;
    const promise = new Promise<CheckpointResult>((resolve, reject) => (settle = { resolve, reject }));
    this.#running = { promise, ...settle };
    this.#worker.ref(); // a checkpoint in flight keeps the process up until it is done
    this.#worker.postMessage('checkpoint');
    return promise;
  }

  /** Stops the worker once the checkpoint in flight (if any) is done: it closes its connection and exits. */
  async close(): Promise<void> {
    await Promise.allSettled([this.#running?.promise]);
    if (this.#failed) return void (await this.#worker.terminate());
    this.#fail(new Error('the WAL checkpointer is closed'));
    const exited = new Promise((resolve) => this.#worker.once('exit', resolve));
    this.#worker.ref();
    this.#worker.postMessage('close');
    await exited;
  }

  #fail(err: Error): Error {
    this.#failed ??= err;
    return err;
  }
}

/**
 * The worker's side, on `port` (its parentPort; a test's MessageChannel): a connection to the store's file at `path`
 * that only checkpoints, one request at a time — 'checkpoint' answers with what it did or why it failed, 'close'
 * closes the connection and the port (the worker then exits).
 */
export function serveCheckpoints(port: MessagePort, path: string): void {
  const post = (m: FromWorker) => port.postMessage(m);
  let db: Database.Database | undefined;
  const open = () => {
    // The store made the file and set it to WAL. synchronous stays FULL (the default): the checkpoint syncs the WAL
    // before it copies and the database file after.
    const opened = new Database(path, { fileMustExist: true });
    opened.pragma('busy_timeout = 5000');
    return opened;
  };
  port.on('message', (m: 'checkpoint' | 'close') => {
    if (m === 'close') {
      db?.close();
      port.close();
      return;
    }
    try {
      db ??= open();
      const [r] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
      post({ kind: 'done', result: { walFrames: r!.log, checkpointed: r!.checkpointed } });
    } catch (err) {
      post({ kind: 'failed', message: err instanceof Error ? err.message : String(err) });
    }
  });
}

if (!isMainThread && (workerData as { role?: unknown } | null)?.role === ROLE) serveCheckpoints(parentPort!, (workerData as { path: string }).path);
