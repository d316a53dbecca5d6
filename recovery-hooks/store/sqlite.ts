// The embedded store: one SQLite file (better-sqlite3), WAL journal and synchronous=FULL, so a notification the
// receiver acknowledged survives a kill or a power cut. Each public method is one transaction.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { MarkerNotFoundError, type NotificationStore, StoreError } from './store.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import {
  type CreateOptions,
  type CreateResult,
  type HostState,
  type ListFilter,
  type ListPage,
  type MovePatch,
  type NewNotification,
  type Notification,
  NOTIFICATION_STATUSES,
  type NotificationStatus,
  type OutboxInput,
  type OutboxMessage,
  type PlannedMove,
  type SortKey,
  type TaskRecord,
  type TaskState,
  type Transition,
  type VmMove,
} from './types.js';

type Row = Record<string, unknown>;

/** JSON with object keys sorted, so identical payloads compare equal as text (Masakari's duplicate rule). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

const SORT_COLUMNS: Record<SortKey, string> = {
  created_at: 'created_at',
  type: 'type',
  generated_time: 'generated_at',
  updated_at: 'COALESCE(updated_at, -1)',
  uuid: 'uuid',
  payload: 'payload',
  status: 'status',
  source_host_uuid: 'host_uuid',
  id: 'id',
};

/** `column = ?` assignments for the defined values (undefined = leave the column as it is). */
function assignments(values: Record<string, unknown>): { sets: string[]; params: unknown[] } {
  const defined = Object.entries(values).filter(([, v]) => v !== undefined);
  return { sets: defined.map(([k]) => `${k} = ?`), params: defined.map(([, v]) => v) };
}

function toNotification(r: Row): Notification {
  return {
    id: r.id as number,
    uuid: r.uuid as string,
    type: r.type as Notification['type'],
    status: r.status as NotificationStatus,
    hostUuid: r.host_uuid as string,
    hostName: r.host_name as string,
    poolName: r.pool_name as string,
    generatedAt: r.generated_at as number,
    payload: JSON.parse(r.payload as string) as Record<string, unknown>,
    message: (r.message as string | null) ?? null,
    source: r.source as Notification['source'],
    createdAt: r.created_at as number,
    updatedAt: (r.updated_at as number | null) ?? null,
    attempts: r.attempts as number,
    nextAttemptAt: (r.next_attempt_at as number | null) ?? null,
  };
}

function toMove(r: Row): VmMove {
  return {
    id: r.id as number,
    notificationUuid: r.notification_uuid as string,
    vmUuid: r.vm_uuid as string,
    vmName: r.vm_name as string,
    sourceHost: r.source_host as string,
    destHost: (r.dest_host as string | null) ?? null,
    status: r.status as VmMove['status'],
    message: (r.message as string | null) ?? null,
    rank: r.rank as number,
    startTime: (r.start_time as number | null) ?? null,
    endTime: (r.end_time as number | null) ?? null,
    createdAt: r.created_at as number,
    updatedAt: (r.updated_at as number | null) ?? null,
  };
}

export class SqliteNotificationStore implements NotificationStore {
  readonly #db: Database.Database;
  /** Compiled statements, by SQL text: compiling costs more than running most of them. */
  readonly #statements = new Map<string, Database.Statement>();

  /** Open (creating if needed) the store file and migrate its schema. Throws StoreError when it cannot. */
  constructor(readonly path: string) {
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      this.#db = new Database(path);
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = FULL');
      this.#db.pragma('foreign_keys = ON');
      this.#db.pragma('busy_timeout = 5000');
      this.#migrate(MIGRATIONS);
    } catch (err) {
      throw new StoreError(`open ${path}`, err);
    }
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
    return this.#guard('schemaVersions', () => (this.#sql('SELECT version FROM schema_migrations ORDER BY version').all() as Row[]).map((r) => r.version as number));
  }

  #sql(sql: string): Database.Statement {
    let st = this.#statements.get(sql);
    if (!st) this.#statements.set(sql, (st = this.#db.prepare(sql)));
    return st;
  }

  #guard<T>(operation: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof MarkerNotFoundError || err instanceof StoreError) throw err;
      throw new StoreError(operation, err);
    }
  }

  #row(uuid: string): Notification | undefined {
    const r = this.#sql('SELECT * FROM notifications WHERE uuid = ?').get(uuid) as Row | undefined;
    return r ? toNotification(r) : undefined;
  }

  #enqueue(messages: OutboxInput[], now: number): void {
    // A message with a dedup_key already queued on its channel is dropped (NULL keys never collide).
    const insert = this.#sql('INSERT OR IGNORE INTO outbox (channel, payload, next_attempt_at, created_at, dedup_key) VALUES (?, ?, ?, ?, ?)');
    for (const m of messages) {
      const key = typeof m.payload.dedup_key === 'string' ? m.payload.dedup_key : null;
      insert.run(m.channel, JSON.stringify(m.payload), now, now, key);
    }
  }

  create(input: NewNotification, opts: CreateOptions, outbox?: (n: Notification) => OutboxInput[]): CreateResult {
    return this.createMany([input], opts, outbox)[0]!;
  }

  createMany(inputs: NewNotification[], opts: CreateOptions, outbox?: (n: Notification) => OutboxInput[], extra: OutboxInput[] = []): CreateResult[] {
    return this.#guard('create', () =>
      this.#db.transaction(() => {
        const results = inputs.map((input) => this.#createOne(input, opts, outbox));
        this.#enqueue(extra, opts.now);
        return results;
      })(),
    );
  }

  #createOne(input: NewNotification, opts: CreateOptions, outbox?: (n: Notification) => OutboxInput[]): CreateResult {
    if (input.replayKey) {
      const r = this.#sql('SELECT * FROM notifications WHERE replay_key = ?').get(input.replayKey) as Row | undefined;
      if (r) return { outcome: 'replay', notification: toNotification(r) };
    }
    const host = this.#sql('SELECT on_maintenance FROM hosts WHERE uuid = ?').get(input.hostUuid) as Row | undefined;
    const onMaintenance = host?.on_maintenance === 1;
    if (onMaintenance && opts.onMaintenance === 'refuse') return { outcome: 'host-on-maintenance' };
    const payload = canonicalJson(input.payload);
    // Masakari's duplicate: a repeat of a failure still being handled (new, running, or error awaiting its retry).
    // A notification that ended before the new one was generated does not absorb it: that is a new failure
    // (a VM crashing again after its recovery); a re-send of the same report is still a duplicate.
    if (opts.dedupWindowMs > 0 && !(onMaintenance && opts.onMaintenance === 'record-ignored')) {
      const dup = this.#sql("SELECT * FROM notifications WHERE type = ? AND host_uuid = ? AND generated_at >= ? AND payload = ? AND (status IN ('new', 'running', 'error') OR updated_at >= ?) ORDER BY id LIMIT 1")
        .get(input.type, input.hostUuid, input.generatedAt - opts.dedupWindowMs, payload, input.generatedAt) as Row | undefined;
      if (dup) return { outcome: 'duplicate', notification: toNotification(dup) };
    }
    const maintenance = onMaintenance && opts.onMaintenance === 'record-ignored';
    const ignoreReason = maintenance ? `host ${input.hostName} is on maintenance: notification recorded, no recovery started` : input.ignoreReason;
    this.#sql(
        `INSERT INTO notifications (uuid, type, status, host_uuid, host_name, pool_name, generated_at, payload, message, source, replay_key, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        randomUUID(),
        input.type,
        ignoreReason ? 'ignored' : 'new',
        input.hostUuid,
        input.hostName,
        input.poolName,
        input.generatedAt,
        payload,
        ignoreReason ?? null,
        input.source,
        input.replayKey ?? null,
        opts.now,
      );
    if (input.hostUuid)
      this.#sql(
          `INSERT INTO hosts (uuid, name, pool_name, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (uuid) DO UPDATE SET name = excluded.name, pool_name = excluded.pool_name`,
        )
        .run(input.hostUuid, input.hostName, input.poolName, opts.now);
    const created = toNotification(this.#sql('SELECT * FROM notifications WHERE id = last_insert_rowid()').get() as Row);
    if (outbox) this.#enqueue(outbox(created), opts.now);
    return maintenance ? { outcome: 'host-on-maintenance', notification: created } : { outcome: 'created', notification: created };
  }

  get(uuid: string): Notification | undefined {
    return this.#guard('get', () => this.#row(uuid));
  }

  list(filter: ListFilter, page: ListPage): Notification[] {
    return this.#guard('list', () => {
      if (page.limit === 0) return [];
      const where: string[] = [];
      const params: unknown[] = [];
      const match = (clause: string, value: unknown) => {
        if (value === undefined) return;
        where.push(clause);
        params.push(value);
      };
      match('status = ?', filter.status);
      match('type = ?', filter.type);
      match('host_uuid = ?', filter.hostUuid);
      match('generated_at >= ?', filter.generatedSince);

      // Masakari's defaults: created_at then id are always appended, in the first given direction.
      const sort = [...page.sort];
      const defaultDir = sort[0]?.dir ?? 'desc';
      for (const key of ['created_at', 'id'] as const) if (!sort.some((s) => s.key === key)) sort.push({ key, dir: defaultDir });
      const columns = sort.map((s) => SORT_COLUMNS[s.key]);

      if (page.markerId !== undefined) {
        const marker = this.#sql(`SELECT ${columns.join(', ')} FROM notifications WHERE id = ?`).raw().get(page.markerId) as unknown[] | undefined;
        if (!marker) throw new MarkerNotFoundError(page.markerId);
        // Keyset pagination: rows strictly after the marker in the sort order.
        const ors = sort.map((s, i) => {
          const eq = columns.slice(0, i).map((c) => `${c} = ?`);
          return `(${[...eq, `${columns[i]} ${s.dir === 'asc' ? '>' : '<'} ?`].join(' AND ')})`;
        });
        where.push(`(${ors.join(' OR ')})`);
        sort.forEach((_s, i) => params.push(...marker.slice(0, i + 1)));
      }
      const sql =
        'SELECT * FROM notifications' +
        (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
        ` ORDER BY ${sort.map((s, i) => `${columns[i]} ${s.dir.toUpperCase()}`).join(', ')} LIMIT ?`;
      return (this.#sql(sql).all(...params, page.limit) as Row[]).map(toNotification);
    });
  }

  countByStatus(): Record<NotificationStatus, number> {
    return this.#guard('countByStatus', () => {
      const out = Object.fromEntries(NOTIFICATION_STATUSES.map((s) => [s, 0])) as Record<NotificationStatus, number>;
      for (const r of this.#sql('SELECT status, COUNT(*) AS n FROM notifications GROUP BY status').all() as Row[])
        out[r.status as NotificationStatus] = r.n as number;
      return out;
    });
  }

  unfinished(limit = 1000): Notification[] {
    return this.#guard('unfinished', () =>
      (this.#sql("SELECT * FROM notifications WHERE status IN ('new', 'running', 'error') ORDER BY id LIMIT ?").all(limit) as Row[]).map(toNotification),
    );
  }


  transition(uuid: string, t: Transition, now: number, outbox?: (n: Notification) => OutboxInput[]): Notification | undefined {
    return this.#guard('transition', () =>
      this.#db.transaction(() => {
        const { sets, params } = assignments({ status: t.to, updated_at: now, message: t.message, next_attempt_at: t.nextAttemptAt });
        if (t.startsRun) sets.push('attempts = attempts + 1');
        const changed = this.#sql(`UPDATE notifications SET ${sets.join(', ')} WHERE uuid = ? AND status IN (${t.from.map(() => '?').join(', ')})`)
          .run(...params, uuid, ...t.from).changes;
        if (!changed) return undefined;
        const n = this.#row(uuid)!;
        if (outbox) this.#enqueue(outbox(n), now);
        return n;
      })(),
    );
  }

  planTasks(uuid: string, names: readonly string[]): void {
    this.#guard('planTasks', () =>
      this.#db.transaction(() => {
        const insert = this.#sql("INSERT OR IGNORE INTO tasks (notification_uuid, seq, name, state) VALUES (?, ?, ?, 'PENDING')");
        names.forEach((name, i) => insert.run(uuid, i, name));
      })(),
    );
  }

  tasks(uuid: string): TaskRecord[] {
    return this.#guard('tasks', () => {
      const details = new Map<string, TaskRecord['details']>();
      for (const r of this.#sql('SELECT * FROM task_progress WHERE notification_uuid = ? ORDER BY id').all(uuid) as Row[]) {
        const list = details.get(r.task_name as string) ?? [];
        list.push({ timestamp: r.at as number, message: r.message as string, progress: r.progress as number });
        details.set(r.task_name as string, list);
      }
      return (this.#sql('SELECT * FROM tasks WHERE notification_uuid = ? ORDER BY seq').all(uuid) as Row[]).map((r) => ({
        seq: r.seq as number,
        name: r.name as string,
        state: r.state as TaskState,
        progress: r.progress as number,
        details: details.get(r.name as string) ?? [],
        firstStartedAt: (r.first_started_at as number | null) ?? null,
        finishedAt: (r.finished_at as number | null) ?? null,
        result: r.result === null || r.result === undefined ? null : (JSON.parse(r.result as string) as unknown),
      }));
    });
  }

  startTask(uuid: string, name: string, now: number): void {
    this.#guard('startTask', () =>
      this.#db
        .prepare("UPDATE tasks SET state = 'RUNNING', first_started_at = COALESCE(first_started_at, ?), finished_at = NULL WHERE notification_uuid = ? AND name = ?")
        .run(now, uuid, name),
    );
  }

  addProgress(uuid: string, name: string, message: string, progress: number, now: number): void {
    this.#guard('addProgress', () =>
      this.#db.transaction(() => {
        this.#sql('INSERT INTO task_progress (notification_uuid, task_name, at, message, progress) VALUES (?, ?, ?, ?, ?)').run(uuid, name, now, message, progress);
        this.#sql('UPDATE tasks SET progress = ? WHERE notification_uuid = ? AND name = ?').run(progress, uuid, name);
      })(),
    );
  }

  finishTask(uuid: string, name: string, state: 'SUCCESS' | 'FAILURE', result: unknown, now: number): void {
    this.#guard('finishTask', () =>
      this.#db
        .prepare(`UPDATE tasks SET state = ?, finished_at = ?, result = ?${state === 'SUCCESS' ? ', progress = 1' : ''} WHERE notification_uuid = ? AND name = ?`)
        .run(state, now, result === undefined ? null : JSON.stringify(result), uuid, name),
    );
  }

  planMoves(uuid: string, moves: PlannedMove[], now: number): void {
    this.#guard('planMoves', () =>
      this.#db.transaction(() => {
        const insert = this.#sql(
          `INSERT OR IGNORE INTO vm_moves (notification_uuid, vm_uuid, vm_name, source_host, status, message, rank, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        );
        for (const m of moves) insert.run(uuid, m.vmUuid, m.vmName, m.sourceHost, m.status, m.message ?? null, m.rank, now);
      })(),
    );
  }

  moves(uuid: string): VmMove[] {
    return this.#guard('moves', () => (this.#sql('SELECT * FROM vm_moves WHERE notification_uuid = ? ORDER BY rank, id').all(uuid) as Row[]).map(toMove));
  }

  updateMove(uuid: string, vmUuid: string, patch: MovePatch, now: number): void {
    this.#guard('updateMove', () => {
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

  hosts(): HostState[] {
    return this.#guard('hosts', () =>
      (this.#sql('SELECT * FROM hosts ORDER BY pool_name, name').all() as Row[]).map((r) => ({
        hostUuid: r.uuid as string,
        hostName: r.name as string,
        poolName: r.pool_name as string,
        onMaintenance: r.on_maintenance === 1,
        maintenanceBy: (r.maintenance_by as string | null) ?? null,
        reason: (r.reason as string | null) ?? null,
        updatedAt: r.updated_at as number,
      })),
    );
  }

  setMaintenance(host: { uuid: string; name: string; pool: string }, by: { notification: string; reason: string } | null, now: number): void {
    this.#guard('setMaintenance', () =>
      this.#db
        .prepare(
          `INSERT INTO hosts (uuid, name, pool_name, on_maintenance, maintenance_by, reason, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (uuid) DO UPDATE SET on_maintenance = excluded.on_maintenance, maintenance_by = excluded.maintenance_by,
             reason = excluded.reason, updated_at = excluded.updated_at`,
        )
        .run(host.uuid, host.name, host.pool, by ? 1 : 0, by?.notification ?? null, by?.reason ?? null, now),
    );
  }

  claimMessages(channel: string, limit: number, now: number, leaseMs: number): OutboxMessage[] {
    return this.#guard('claimMessages', () =>
      this.#db.transaction(() => {
        const rows = this.#sql(
            `SELECT * FROM outbox WHERE channel = ? AND status = 'pending' AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)
             ORDER BY id LIMIT ?`,
          )
          .all(channel, now, now, limit) as Row[];
        const claim = this.#sql('UPDATE outbox SET claimed_until = ?, attempts = attempts + 1 WHERE id = ?');
        return rows.map((r) => {
          claim.run(now + leaseMs, r.id);
          return {
            id: r.id as number,
            channel: r.channel as string,
            payload: JSON.parse(r.payload as string) as Record<string, unknown>,
            attempts: (r.attempts as number) + 1,
            createdAt: r.created_at as number,
            lastError: (r.last_error as string | null) ?? null,
          };
        });
      })(),
    );
  }

  ackMessage(id: number, now: number): void {
    this.#guard('ackMessage', () => this.#sql("UPDATE outbox SET status = 'sent', done_at = ?, claimed_until = NULL WHERE id = ?").run(now, id));
  }

  retryMessageAt(id: number, at: number, error: string): void {
    this.#guard('retryMessageAt', () => this.#sql('UPDATE outbox SET next_attempt_at = ?, last_error = ?, claimed_until = NULL WHERE id = ?').run(at, error, id));
  }

  giveUpMessage(id: number, error: string, now: number): void {
    this.#guard('giveUpMessage', () =>
      this.#sql("UPDATE outbox SET status = 'dead', last_error = ?, done_at = ?, claimed_until = NULL WHERE id = ?").run(error, now, id),
    );
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
