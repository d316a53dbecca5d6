// The embedded store: one SQLite file (better-sqlite3), WAL journal, every commit on disk before any method answers,
// so a notification the receiver acknowledged survives a kill or a power cut. Each public method is one transaction.
//
// On a file, the store syncs the WAL itself: SQLite writes each commit's frames (synchronous=NORMAL, no fsync in the
// commit) and a method answers only after an fdatasync of the WAL file that started after its commit, run on libuv's
// thread pool. With synchronous=FULL the fsync ran inside the commit and blocked the event loop (a fifth of the
// receiver's main thread under load); now the loop reads the next requests while the disk syncs, and one sync covers
// every commit made before it started (the WAL is written in order), as a group commit. Reads wait too when a
// commit is not on disk yet: no caller ever sees data a power cut could take back. Migrations run with
// synchronous=FULL, before the switch.
import { closeSync, fdatasync, fstatSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import type { Logger } from '../../core/log.js';
import { MarkerNotFoundError, type NotificationStore, StoreError } from './store.js';
import { activityHookCalls, activityMessages, hookCallInsert, toHookCall, toMessageRecord } from './activity.js';
import { decide, decidedResults, duplicateLookups, duplicateMatch, duplicateParams, hostsOf } from './decide.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import { QueuedSignal } from './queued.js';
import { timeOrderedUuid } from './uuid.js';
import { WalCheckpointer } from './wal-checkpointer.js';
import {
  type Row,
  type Statement,
  assignments,
  canonicalJson,
  dedupKey,
  forwardUpsert,
  hostUpsert,
  isNewWait,
  leaseConflictQuery,
  OPEN_WAITS_SQL,
  recentFences,
  listOrder,
  listQuery,
  markerQuery,
  notificationInsert,
  type PurgeCounts,
  purgeCandidates,
  purgeHosts,
  purgeLeases,
  purgeMessages,
  purgeNotificationDeletes,
  toFence,
  toForward,
  toHost,
  toMessage,
  toMove,
  toNotification,
  toOperatorWait,
  toTasks,
  unfinishedQuery,
  waitConfirm,
  waitUpsert,
} from './rows.js';
import {
  type CreateOptions,
  type CreateResult,
  type FenceRecord,
  type FenceReservation,
  type HookCallInput,
  type ForwardPatch,
  type ForwardState,
  type HostState,
  type LeaseConflicts,
  type ListFilter,
  type ListPage,
  type MovePatch,
  type NewNotification,
  type Notification,
  type NotificationActivity,
  NOTIFICATION_STATUSES,
  type NotificationStatus,
  type OperatorWait,
  type OperatorWaitKind,
  type OutboxBuilder,
  type OutboxInput,
  RUN_END_STATUSES,
  type RunHistory,
  type OutboxMessage,
  type PlannedMove,
  type TaskRecord,
  type Transition,
  type VmMove,
} from './types.js';

/** The first stored duplicate of an input (decide.ts), one text for every lookup (statements are cached by text). */
const DUPLICATE_SQL = `SELECT * FROM notifications n WHERE ${duplicateMatch('n', { type: '?', hostUuid: '?', since: '?', payload: '?', generatedAt: '?' })} ORDER BY n.id LIMIT 1`;

const syncFile = promisify(fdatasync);

// Checkpoints (wal-checkpointer.ts): once the WAL has reached CHECKPOINT_START_BYTES, before SQLite's own first one
// would run in a commit (1,000 pages of 4 KiB), a worker thread copies the WAL into the database file, asked at most
// every CHECKPOINT_EVERY_MS while commits come in. Under a steady stream of commits a checkpoint beside the writer never
// catches up with it exactly, and only a checkpoint that did lets the writer start the WAL over: the writer's own
// automatic checkpoint, moved from 1,000 to FALLBACK_CHECKPOINT_PAGES (≈ 40 MiB of WAL) when the thread starts, does
// that, with little left to copy. It is also the bound of a checkpointer that falls behind. If the checkpointer fails,
// the writer checkpoints at SQLite's 1,000 pages again, in its commits, as SQLite does by itself.
const CHECKPOINT_START_BYTES = 3 * 1024 * 1024;
const CHECKPOINT_EVERY_MS = 50;
const FALLBACK_CHECKPOINT_PAGES = 10_000;
const SQLITE_CHECKPOINT_PAGES = 1000;

export class SqliteNotificationStore implements NotificationStore {
  readonly #db: Database.Database;
  /** The WAL file, synced by #onDisk; undefined when SQLite syncs in each commit (in memory, or no WAL journal). */
  #wal: number | undefined;
  /** total_changes() that the last completed sync covers: changes beyond it may not be on disk yet. */
  #changesOnDisk = 0;
  /** The sync running on the thread pool, if any. */
  #sync: Promise<void> | undefined;
  /** A failed sync: the file's state on disk is unknown, so every later call fails with it (503, nothing acknowledged). */
  #syncFailed: StoreError | undefined;
  /** Compiled statements, by SQL text: compiling costs more than running most of them. */
  readonly #statements = new Map<string, Database.Statement>();
  readonly #signal = new QueuedSignal();
  /** Set by #enqueue inside the current transaction. */
  #queued = false;
  /** Started once the WAL reached CHECKPOINT_START_BYTES (unless startCheckpointer gives none). */
  #checkpointer: WalCheckpointer | undefined;
  /** No checkpoint is asked for before this time (performance.now()). */
  #nextCheckpointAt = 0;
  /** No checkpointer (it failed, or there is none): SQLite's own checkpoints, in the commits. */
  #checkpointsInCommits = false;

  /**
   * Open (creating if needed) the store file and migrate its schema. Throws StoreError when it cannot. `logger` hears
   * of a checkpointer that failed (the store goes on, checkpointing in its commits).
   */
  constructor(
    readonly path: string,
    private readonly logger?: Pick<Logger, 'warn'>,
  ) {
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      this.#db = new Database(path);
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = FULL');
      this.#db.pragma('foreign_keys = ON');
      this.#db.pragma('busy_timeout = 5000');
      // 32 MiB of page cache (SQLite's default is 2 MiB): the indexes' leaves an insert touches stay in memory
      // instead of being read again from the file (about a seventh of an insert's CPU, measured).
      this.#db.pragma('cache_size = -32768');
      this.#migrate(MIGRATIONS);
      // One receiver per SQLite file: leases left by a previous process of this receiver are void.
      this.#db.exec('DELETE FROM leases');
      if (path !== ':memory:' && this.#db.pragma('journal_mode', { simple: true }) === 'wal') {
        // SQLite keeps this file (same inode) while a connection is open; it deletes it when the last one closes.
        this.#wal = openSync(`${path}-wal`, 'r');
        this.#changesOnDisk = this.#totalChanges();
        this.#db.pragma('synchronous = NORMAL');
      }
    } catch (err) {
      throw new StoreError(`open ${path}`, err);
    }
  }

  #totalChanges(): number {
    return this.#sql('SELECT total_changes()').pluck().get() as number;
  }

  /**
   * Resolves once every commit made so far is on disk: at once when no change is beyond the last sync, else after
   * the sync running now (which may have started before the latest commits) and, if needed, one started after it.
   */
  async #onDisk(): Promise<void> {
    if (this.#wal === undefined) return;
    const target = this.#totalChanges();
    while (this.#changesOnDisk < target) {
      this.#sync ??= this.#syncWal();
      await this.#sync;
    }
  }

  async #syncWal(): Promise<void> {
    try {
      // Taken before the sync starts: the changes committed while it runs may or may not be in it.
      const upTo = this.#totalChanges();
      await this.syncFile(this.#wal as number);
      this.#changesOnDisk = upTo;
      this.#checkpointIfDue();
    } catch (err) {
      this.#syncFailed ??= new StoreError('sync', err);
      throw this.#syncFailed;
    } finally {
      this.#sync = undefined;
    }
  }

  /** After a sync (commits came in): start the checkpointer once the WAL is large enough, then ask it at most every CHECKPOINT_EVERY_MS. */
  #checkpointIfDue(): void {
    if (this.#wal === undefined || this.#checkpointsInCommits || !this.#db.open) return;
    try {
      if (!this.#checkpointer) {
        if (fstatSync(this.#wal).size < CHECKPOINT_START_BYTES) return;
        const started = this.startCheckpointer(this.path);
        if (!started) return void (this.#checkpointsInCommits = true);
        this.#checkpointer = started;
        this.#db.pragma(`wal_autocheckpoint = ${FALLBACK_CHECKPOINT_PAGES}`);
      }
      if (this.#checkpointer.busy || performance.now() < this.#nextCheckpointAt) return;
      this.#checkpointer.checkpoint().then(
        () => (this.#nextCheckpointAt = performance.now() + CHECKPOINT_EVERY_MS),
        (err) => this.#checkpointInCommits(err),
      );
    } catch (err) {
      this.#checkpointInCommits(err);
    }
  }

  /** The checkpointer failed (or could not start): the writer checkpoints in its commits again, as SQLite does by itself. */
  #checkpointInCommits(err: unknown): void {
    if (!this.#db.open) return; // closing: the checkpointer was stopped
    this.#checkpointsInCommits = true;
    this.#db.pragma(`wal_autocheckpoint = ${SQLITE_CHECKPOINT_PAGES}`);
    this.logger?.warn('the WAL checkpointer failed: checkpoints run in the commits again, on the event loop', {
      store: this.path,
      error: err instanceof Error ? err.message : String(err),
    });
  }

  /**
   * The thread that checkpoints the WAL (a test replaces it with one that fails); undefined: none, SQLite checkpoints
   * in the commits (the worker-thread store, whose commits are off the event loop already).
   */
  protected startCheckpointer(path: string): WalCheckpointer | undefined {
    return new WalCheckpointer(path);
  }

  /** fdatasync on libuv's thread pool (a test gates it to see who waits for it). */
  protected syncFile(fd: number): Promise<void> {
    return syncFile(fd);
  }

  /** A method's work (see #guard), answered once it is on disk. */
  async #durably<T>(operation: string, fn: () => T): Promise<T> {
    const result = this.#guard(operation, fn);
    await this.#onDisk();
    return result;
  }

  #migrate(migrations: readonly Migration[]): void {
    this.#db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    const applied = new Set((this.#sql('SELECT version FROM schema_migrations').all() as Row[]).map((r) => r.version as number));
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      this.#db.transaction(() => {
        this.#db.exec(m.sql);
        this.#sql('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, Date.now());
      })();
    }
  }

  /** Versions of the applied migrations (for tests and `check-config`). */
  schemaVersions(): number[] {
    return this.#guard('schemaVersions', () =>
      (this.#sql('SELECT version FROM schema_migrations ORDER BY version').all() as Row[]).map((r) => r.version as number),
    );
  }

  #sql(sql: string): Database.Statement {
    let st = this.#statements.get(sql);
    if (!st) this.#statements.set(sql, (st = this.#db.prepare(sql)));
    return st;
  }

  #guard<T>(operation: string, fn: () => T): T {
    if (this.#syncFailed) throw this.#syncFailed;
    try {
      return fn();
    } catch (err) {
      if (err instanceof MarkerNotFoundError || err instanceof StoreError) throw err;
      throw new StoreError(operation, err, (err as { code?: unknown }).code === 'SQLITE_TOOBIG');
    }
  }

  #get(st: Statement): Row | undefined {
    return this.#sql(st.sql).get(...st.params) as Row | undefined;
  }

  #all(st: Statement): Row[] {
    return this.#sql(st.sql).all(...st.params) as Row[];
  }

  #run(st: Statement): Database.RunResult {
    return this.#sql(st.sql).run(...st.params);
  }

  #row(uuid: string): Notification | undefined {
    const r = this.#sql('SELECT * FROM notifications WHERE uuid = ?').get(uuid) as Row | undefined;
    return r ? toNotification(r) : undefined;
  }

  #history(n: Notification): RunHistory {
    if (!RUN_END_STATUSES.includes(n.status)) return { tasks: [], moves: [] };
    return { tasks: this.#tasks(n.uuid), moves: this.#moves(n.uuid) };
  }

  /** Run `fn` in a transaction; after its commit, tell the listeners if it queued messages. */
  #committing<T>(fn: () => T): T {
    this.#queued = false;
    const result = this.#db.transaction(fn)();
    if (this.#queued) this.#signal.fire();
    return result;
  }

  #enqueue(messages: OutboxInput[], now: number): void {
    if (messages.length) this.#queued = true;
    // A message with a dedup_key already queued on its channel is dropped (NULL keys never collide).
    const insert = this.#sql(
      'INSERT OR IGNORE INTO outbox (channel, payload, next_attempt_at, created_at, dedup_key, notification_uuid) VALUES (?, ?, ?, ?, ?, ?)',
    );
    for (const m of messages) {
      insert.run(m.channel, JSON.stringify(m.payload), now, now, dedupKey(m.payload), m.notificationUuid ?? null);
    }
  }

  // ── Notifications (StoreNotifications) ──

  async create(input: NewNotification, opts: CreateOptions, outbox?: OutboxBuilder): Promise<CreateResult> {
    return (await this.createMany([input], opts, outbox))[0]!;
  }

  async createMany(inputs: NewNotification[], opts: CreateOptions, outbox?: OutboxBuilder, extra: OutboxInput[] = []): Promise<CreateResult[]> {
    return this.#durably('create', () =>
      this.#committing(() => {
        const { results, created } = this.#createBatch(inputs, opts);
        // The messages of the rows inserted, in their order, after them (same outbox order as one by one).
        if (outbox && created.length) for (const messages of this.outboxOf(outbox, created)) this.#enqueue(messages, opts.now);
        this.#enqueue(extra, opts.now);
        return results;
      }),
    );
  }

  /** The outbox messages announcing each new notification (the worker store asks its caller once for all of them). */
  protected outboxOf(outbox: OutboxBuilder, created: Notification[]): OutboxInput[][] {
    return created.map((n) => outbox(n, { tasks: [], moves: [] }));
  }

  /** What the file holds for the batch (one seek per replay key, host and duplicate lookup), decided by decide(), inserted in order. */
  #createBatch(inputs: NewNotification[], opts: CreateOptions): { results: CreateResult[]; created: Notification[] } {
    const known = new Map<string, Row>();
    for (const key of new Set(inputs.flatMap((i) => (i.replayKey === undefined ? [] : [i.replayKey])))) {
      const r = this.#sql('SELECT * FROM notifications WHERE replay_key = ?').get(key) as Row | undefined;
      if (r) known.set(key, r);
    }
    const onMaintenance = new Set<string>();
    for (const host of new Set(inputs.map((i) => i.hostUuid)))
      if (this.#sql('SELECT 1 FROM hosts WHERE uuid = ? AND on_maintenance').get(host)) onMaintenance.add(host);
    const payloads = inputs.map((i) => canonicalJson(i.payload));
    const duplicates = new Map<number, Row>();
    for (const index of duplicateLookups(inputs, opts, { known, onMaintenance })) {
      const r = this.#get({ sql: DUPLICATE_SQL, params: duplicateParams(inputs[index]!, payloads[index]!, opts.dedupWindowMs) });
      if (r) duplicates.set(index, r);
    }
    const plan = decide(inputs, payloads, opts, { known, onMaintenance, duplicates });
    const inserted = plan.inserts.map((s) => {
      const insert = notificationInsert(inputs[s.index]!, timeOrderedUuid(opts.now), s.payload, s.ignoreReason, opts.now);
      // The row as inserted, without reading it back (RETURNING * cost a third of the insert).
      return insert.row(Number(this.#run(insert).lastInsertRowid));
    });
    for (const host of hostsOf(inputs, plan.inserts)) this.#run(hostUpsert(host, opts.now));
    return decidedResults(plan, inserted);
  }

  async get(uuid: string): Promise<Notification | undefined> {
    return this.#durably('get', () => this.#row(uuid));
  }

  async list(filter: ListFilter, page: ListPage): Promise<Notification[]> {
    return this.#durably('list', () => {
      if (page.limit === 0) return [];
      const order = listOrder(page);
      let marker: unknown[] | undefined;
      if (page.markerId !== undefined) {
        marker = this.#sql(markerQuery(order)).raw().get(page.markerId) as unknown[] | undefined;
        if (!marker) throw new MarkerNotFoundError(page.markerId);
      }
      const { sql, params } = listQuery(filter, page.limit, order, marker);
      return (this.#sql(sql).all(...params) as Row[]).map(toNotification);
    });
  }

  async countByStatus(): Promise<Record<NotificationStatus, number>> {
    return this.#durably('countByStatus', () => {
      const out = Object.fromEntries(NOTIFICATION_STATUSES.map((s) => [s, 0])) as Record<NotificationStatus, number>;
      for (const r of this.#sql('SELECT status, COUNT(*) AS n FROM notifications GROUP BY status').all() as Row[])
        out[r.status as NotificationStatus] = r.n as number;
      return out;
    });
  }

  async unfinished(limit = 1000, generatedBefore?: number): Promise<Notification[]> {
    return this.#durably('unfinished', () => this.#all(unfinishedQuery(limit, generatedBefore)).map(toNotification));
  }

  async transition(uuid: string, t: Transition, now: number, outbox?: OutboxBuilder): Promise<Notification | undefined> {
    return this.#durably('transition', () =>
      this.#committing(() => {
        const { sets, params } = assignments({ status: t.to, updated_at: now, message: t.message, next_attempt_at: t.nextAttemptAt });
        if (t.startsRun) sets.push('attempts = attempts + 1');
        const changed = this.#sql(`UPDATE notifications SET ${sets.join(', ')} WHERE uuid = ? AND status IN (${t.from.map(() => '?').join(', ')})`).run(
          ...params,
          uuid,
          ...t.from,
        ).changes;
        if (!changed) return undefined;
        const n = this.#row(uuid)!;
        if (outbox) this.#enqueue(outbox(n, this.#history(n)), now);
        return n;
      }),
    );
  }

  // ── Task log (StoreTasks) ──

  async planTasks(uuid: string, names: readonly string[]): Promise<void> {
    await this.#durably('planTasks', () =>
      this.#db.transaction(() => {
        const insert = this.#sql("INSERT OR IGNORE INTO tasks (notification_uuid, seq, name, state) VALUES (?, ?, ?, 'PENDING')");
        names.forEach((name, i) => {
          insert.run(uuid, i, name);
        });
      })(),
    );
  }

  async tasks(uuid: string): Promise<TaskRecord[]> {
    return this.#durably('tasks', () => this.#tasks(uuid));
  }

  #tasks(uuid: string): TaskRecord[] {
    return toTasks(
      this.#sql('SELECT * FROM tasks WHERE notification_uuid = ? ORDER BY seq').all(uuid) as Row[],
      this.#sql('SELECT * FROM task_progress WHERE notification_uuid = ? ORDER BY id').all(uuid) as Row[],
    );
  }

  async startTask(uuid: string, name: string, now: number): Promise<void> {
    await this.#durably('startTask', () =>
      this.#sql(
        "UPDATE tasks SET state = 'RUNNING', first_started_at = COALESCE(first_started_at, ?), finished_at = NULL WHERE notification_uuid = ? AND name = ?",
      ).run(now, uuid, name),
    );
  }

  async addProgress(uuid: string, name: string, message: string, progress: number, now: number): Promise<void> {
    await this.#durably('addProgress', () =>
      this.#db.transaction(() => {
        this.#sql('INSERT INTO task_progress (notification_uuid, task_name, at, message, progress) VALUES (?, ?, ?, ?, ?)').run(
          uuid,
          name,
          now,
          message,
          progress,
        );
        this.#sql('UPDATE tasks SET progress = ? WHERE notification_uuid = ? AND name = ?').run(progress, uuid, name);
      })(),
    );
  }

  async finishTask(uuid: string, name: string, state: 'SUCCESS' | 'FAILURE', result: unknown, now: number): Promise<void> {
    await this.#durably('finishTask', () =>
      this.#sql(
        `UPDATE tasks SET state = ?, finished_at = ?, result = ?${state === 'SUCCESS' ? ', progress = 1' : ''} WHERE notification_uuid = ? AND name = ?`,
      ).run(state, now, result === undefined ? null : JSON.stringify(result), uuid, name),
    );
  }

  // ── VM moves (StoreMoves) ──

  async planMoves(uuid: string, moves: PlannedMove[], now: number): Promise<void> {
    await this.#durably('planMoves', () =>
      this.#db.transaction(() => {
        const insert = this.#sql(
          `INSERT OR IGNORE INTO vm_moves (notification_uuid, vm_uuid, vm_name, source_host, status, message, rank, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        );
        for (const m of moves) insert.run(uuid, m.vmUuid, m.vmName, m.sourceHost, m.status, m.message ?? null, m.rank, now);
      })(),
    );
  }

  async moves(uuid: string): Promise<VmMove[]> {
    return this.#durably('moves', () => this.#moves(uuid));
  }

  #moves(uuid: string): VmMove[] {
    return (this.#sql('SELECT * FROM vm_moves WHERE notification_uuid = ? ORDER BY rank, id').all(uuid) as Row[]).map(toMove);
  }

  async updateMove(uuid: string, vmUuid: string, patch: MovePatch, now: number): Promise<void> {
    await this.#durably('updateMove', () => {
      const { sets, params } = assignments({
        status: patch.status,
        updated_at: now,
        dest_host: patch.destHost,
        message: patch.message,
        start_time: patch.startTime,
        end_time: patch.endTime,
      });
      this.#sql(`UPDATE vm_moves SET ${sets.join(', ')} WHERE notification_uuid = ? AND vm_uuid = ?`).run(...params, uuid, vmUuid);
    });
  }

  // ── Hosts (StoreHosts) ──

  async hosts(): Promise<HostState[]> {
    return this.#durably('hosts', () => (this.#sql('SELECT * FROM hosts ORDER BY pool_name, name').all() as Row[]).map(toHost));
  }

  async setMaintenance(host: { uuid: string; name: string; pool: string }, by: { notification: string; reason: string } | null, now: number): Promise<void> {
    await this.#durably('setMaintenance', () =>
      this.#sql(
        `INSERT INTO hosts (uuid, name, pool_name, on_maintenance, maintenance_by, reason, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (uuid) DO UPDATE SET on_maintenance = excluded.on_maintenance, maintenance_by = excluded.maintenance_by,
             reason = excluded.reason, updated_at = excluded.updated_at`,
      ).run(host.uuid, host.name, host.pool, by ? 1 : 0, by?.notification ?? null, by?.reason ?? null, now),
    );
  }

  // ── Outbox (StoreOutbox) ──

  onMessagesQueued(listener: () => void): void {
    this.#signal.on(listener);
  }

  async claimMessages(channel: string, limit: number, now: number, leaseMs: number): Promise<OutboxMessage[]> {
    return this.#durably('claimMessages', () =>
      this.#db.transaction(() => {
        const rows = this.#sql(
          `SELECT * FROM outbox WHERE channel = ? AND status = 'pending' AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)
             ORDER BY id LIMIT ?`,
        ).all(channel, now, now, limit) as Row[];
        const claim = this.#sql('UPDATE outbox SET claimed_until = ?, attempts = attempts + 1 WHERE id = ?');
        return rows.map((r) => {
          claim.run(now + leaseMs, r.id);
          return toMessage({ ...r, attempts: (r.attempts as number) + 1 });
        });
      })(),
    );
  }

  async ackMessage(id: number, now: number): Promise<void> {
    await this.#durably('ackMessage', () => this.#sql("UPDATE outbox SET status = 'sent', done_at = ?, claimed_until = NULL WHERE id = ?").run(now, id));
  }

  async retryMessageAt(id: number, at: number, error: string): Promise<void> {
    await this.#durably('retryMessageAt', () =>
      this.#sql('UPDATE outbox SET next_attempt_at = ?, last_error = ?, claimed_until = NULL WHERE id = ?').run(at, error, id),
    );
  }

  async giveUpMessage(id: number, error: string, now: number): Promise<void> {
    await this.#durably('giveUpMessage', () =>
      this.#sql("UPDATE outbox SET status = 'dead', last_error = ?, done_at = ?, claimed_until = NULL WHERE id = ?").run(error, now, id),
    );
  }

  // ── Leases (StoreLeases) ──

  async acquireLease(name: string, owner: string, now: number, ttlMs: number, conflicts?: LeaseConflicts): Promise<boolean> {
    return this.#durably('acquireLease', () =>
      this.#db
        .transaction(() => {
          const conflict = conflicts && leaseConflictQuery(conflicts, owner, '?', [now]);
          if (conflict && this.#get(conflict)) return false;
          const granted = this.#sql(
            `INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
           WHERE leases.owner = excluded.owner OR leases.expires_at <= ?`,
          ).run(name, owner, now + ttlMs, now).changes;
          return granted > 0;
        })
        .immediate(),
    );
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.#durably('releaseLease', () => this.#sql('DELETE FROM leases WHERE name = ? AND owner = ?').run(name, owner));
  }

  // ── Operator waits (StoreOperatorWaits) ──

  async waitForOperator(
    uuid: string,
    wait: { kind: OperatorWaitKind; reason: string },
    now: number,
    messages?: (n: Notification, wait: OperatorWait) => OutboxInput[],
  ): Promise<OperatorWait | undefined> {
    return this.#durably('waitForOperator', () =>
      this.#committing(() => {
        const n = this.#row(uuid);
        if (!n) return undefined;
        const before = this.#waitRow(uuid);
        this.#run(waitUpsert(uuid, { ...wait, poolName: n.poolName, hostUuid: n.hostUuid, hostName: n.hostName }, now));
        const after = this.#waitRow(uuid)!;
        if (isNewWait(before, after) && messages) this.#enqueue(messages(n, after), now);
        return after;
      }),
    );
  }

  #waitRow(uuid: string): OperatorWait | undefined {
    const r = this.#sql('SELECT * FROM operator_waits WHERE notification_uuid = ?').get(uuid) as Row | undefined;
    return r && toOperatorWait(r);
  }

  async operatorWait(uuid: string): Promise<OperatorWait | undefined> {
    return this.#durably('operatorWait', () => this.#waitRow(uuid));
  }

  async openOperatorWaits(): Promise<OperatorWait[]> {
    return this.#durably('openOperatorWaits', () => (this.#sql(OPEN_WAITS_SQL).all() as Row[]).map(toOperatorWait));
  }

  async confirmFenced(uuid: string, by: string, now: number): Promise<OperatorWait | undefined> {
    return this.#durably('confirmFenced', () =>
      this.#db.transaction(() => (this.#run(waitConfirm(uuid, by, now)).changes ? this.#waitRow(uuid) : undefined))(),
    );
  }

  // ── Fences (StoreFences) ──

  async reserveFence(fence: Omit<FenceRecord, 'at'>, limits: { windowMs: number; max: number }, now: number): Promise<FenceReservation> {
    return this.#durably('reserveFence', () =>
      this.#db
        .transaction((): FenceReservation => {
          if (this.#sql('SELECT 1 FROM fences WHERE notification_uuid = ?').get(fence.notificationUuid)) return { granted: true };
          const recent = this.#all(recentFences(fence.poolName, now - limits.windowMs)).map(toFence);
          if (recent.length >= limits.max) return { granted: false, recent };
          this.#sql('INSERT INTO fences (notification_uuid, pool_name, host_uuid, at) VALUES (?, ?, ?, ?)').run(
            fence.notificationUuid,
            fence.poolName,
            fence.hostUuid,
            now,
          );
          return { granted: true };
        })
        .immediate(),
    );
  }

  async fenceOf(uuid: string): Promise<FenceRecord | undefined> {
    return this.#durably('fenceOf', () => {
      const r = this.#sql('SELECT * FROM fences WHERE notification_uuid = ?').get(uuid) as Row | undefined;
      return r && toFence(r);
    });
  }

  // ── Forwards (StoreForwards) ──

  async getForward(uuid: string): Promise<ForwardState | undefined> {
    return this.#durably('getForward', () => {
      const r = this.#sql('SELECT * FROM forwards WHERE notification_uuid = ?').get(uuid) as Row | undefined;
      return r ? toForward(r) : undefined;
    });
  }

  async saveForward(uuid: string, patch: ForwardPatch, now: number): Promise<void> {
    await this.#durably('saveForward', () => this.#run(forwardUpsert(uuid, patch, now)));
  }

  // ── Retention (StoreRetention) ──

  async purge(before: number, limit: number): Promise<PurgeCounts> {
    return this.#durably('purge', () =>
      this.#db.transaction(() => {
        const candidates = purgeCandidates(before, limit);
        const uuids = (this.#sql(candidates.sql).all(...candidates.params) as Row[]).map((r) => r.uuid as string);
        let notifications = 0;
        if (uuids.length) {
          const list = JSON.stringify(uuids);
          for (const sql of purgeNotificationDeletes('IN (SELECT value FROM json_each(?))')) notifications = this.#sql(sql).run(list).changes;
        }
        const messages = this.#run(purgeMessages(before, limit)).changes;
        const leases = this.#run(purgeLeases(before)).changes;
        const hosts = this.#run(purgeHosts(before, limit)).changes;
        return { notifications, messages, leases, hosts };
      })(),
    );
  }

  // ── Activity (StoreActivity) ──

  async recordHookCall(call: HookCallInput): Promise<void> {
    await this.#durably('recordHookCall', () => this.#run(hookCallInsert(call)));
  }

  async activityOf(notificationUuid: string): Promise<NotificationActivity> {
    return this.#durably('activityOf', () =>
      this.#db.transaction(() => ({
        messages: this.#all(activityMessages(notificationUuid)).map(toMessageRecord),
        hookCalls: this.#all(activityHookCalls(notificationUuid)).map(toHookCall),
      }))(),
    );
  }

  async close(): Promise<void> {
    await this.#sync?.catch(() => undefined);
    await this.#checkpointer?.close();
    if (this.#db.open) this.#db.close();
    if (this.#wal !== undefined) closeSync(this.#wal);
    this.#wal = undefined;
  }
}
