// The shared store: one PostgreSQL database for several receivers (node-postgres, a pool per receiver). Same
// semantics as the SQLite store, each public method one transaction, made safe between receivers: create takes an
// advisory lock per host before its replay and duplicate checks, status changes are compare-and-set, outbox claims
// skip rows another receiver is claiming, and leases are timed by the database's clock.
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import pg from 'pg';
import type { Logger } from '../../core/log.js';
import type { PostgresStoreConfig } from '../config.js';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import {
  type Row,
  type Statement,
  admission,
  assignments,
  canonicalJson,
  dedupKey,
  duplicateQuery,
  forwardUpsert,
  hostUpsert,
  listOrder,
  listQuery,
  markerQuery,
  notificationInsert,
  toForward,
  toHost,
  toMessage,
  toMove,
  toNotification,
  toTasks,
} from './rows.js';
import { MarkerNotFoundError, type NotificationStore, StoreError } from './store.js';
import {
  type CreateOptions,
  type CreateResult,
  type ForwardPatch,
  type ForwardState,
  type HostState,
  type ListFilter,
  type ListPage,
  type MovePatch,
  type NewNotification,
  type Notification,
  NOTIFICATION_STATUSES,
  type NotificationStatus,
  type OutboxBuilder,
  type OutboxInput,
  type OutboxMessage,
  type PlannedMove,
  RUN_END_STATUSES,
  type RunHistory,
  type TaskRecord,
  type Transition,
  type VmMove,
} from './types.js';

const APPLICATION_NAME = 'xcp-sentinel-recovery-hook';
/** Advisory lock keys. The one-key (migrations) and two-key (hosts) forms never collide with each other. */
const MIGRATION_LOCK = 0x78637073;
const HOST_LOCK_SPACE = 0x786370;
/** The client gives up this long after the server's statement_timeout should have answered (a hung server). */
const CLIENT_TIMEOUT_MARGIN_MS = 1000;
/** Now, in epoch milliseconds, by the database's clock. */
const DB_NOW = '(extract(epoch FROM statement_timestamp()) * 1000)::bigint';

type Db = pg.Pool | pg.PoolClient;

/** `?` placeholders (the SQL shared with SQLite) as PostgreSQL's `$1, $2, …`. */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

async function rows(db: Db, st: Statement): Promise<Row[]> {
  return (await db.query<Row>(numbered(st.sql), st.params)).rows;
}

async function one(db: Db, st: Statement): Promise<Row | undefined> {
  return (await rows(db, st))[0];
}

const q = (sql: string, ...params: unknown[]): Statement => ({ sql, params });

/** BIGINT (times, ids, counts) as numbers, for this pool only: pg's global parsers are left alone. */
function bigintAsNumbers(): pg.TypeOverrides {
  const types = new pg.TypeOverrides();
  types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));
  return types;
}

/** The URL and its password, as they may appear in an error (a URL parse error carries the whole URL). */
function secretsOf(url: string): string[] {
  const secrets = [url];
  try {
    const { password } = new URL(url);
    secrets.push(password);
    secrets.push(decodeURIComponent(password));
  } catch {
    // unparsable, or a malformed escape: what was found so far
  }
  return secrets.filter((s) => s.length > 0);
}

export class PostgresNotificationStore implements NotificationStore {
  readonly #pool: pg.Pool;
  readonly #secrets: string[];
  #closed = false;

  private constructor(config: PostgresStoreConfig, logger: Logger) {
    const url = config.url.reveal();
    this.#secrets = secretsOf(url);
    this.#pool = new pg.Pool({
      connectionString: url,
      max: config.poolSize,
      connectionTimeoutMillis: config.connectTimeoutMs,
      statement_timeout: config.statementTimeoutMs,
      query_timeout: config.statementTimeoutMs + CLIENT_TIMEOUT_MARGIN_MS,
      application_name: APPLICATION_NAME,
      keepAlive: true,
      types: bigintAsNumbers(),
    });
    // An idle connection that dies (database restart, network cut) is dropped by the pool and replaced on the next
    // query; unhandled, its 'error' would crash the process. One line per outage: every idle client reports it.
    let lost = false;
    this.#pool.on('error', (err) => {
      if (lost) return;
      lost = true;
      logger.warn('store: lost an idle PostgreSQL connection; reconnecting on the next query', { error: this.#safe(err).message });
    });
    this.#pool.on('connect', () => (lost = false));
  }

  /** Connect, migrate the schema, and return the store. Rejects with StoreError when it cannot. */
  static async open(config: PostgresStoreConfig, logger: Logger): Promise<PostgresNotificationStore> {
    const store = new PostgresNotificationStore(config, logger);
    try {
      await store.#migrate();
    } catch (err) {
      await store.close();
      throw store.#fail('open', err);
    }
    return store;
  }

  async #migrate(): Promise<void> {
    await this.#transaction(async (c) => {
      // Receivers starting together: the first migrates, the others wait and then find nothing left to do.
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
      const applied = new Set((await rows(c, q('SELECT version FROM schema_migrations'))).map((r) => r.version as number));
      for (const m of POSTGRES_MIGRATIONS) {
        if (applied.has(m.version)) continue;
        await c.query(m.sql);
        await rows(c, q('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)', m.version, Date.now()));
      }
    });
  }

  /** Versions of the applied migrations (for tests and `check-config`). */
  async schemaVersions(): Promise<number[]> {
    return this.#guard('schemaVersions', async () => (await rows(this.#pool, q('SELECT version FROM schema_migrations ORDER BY version'))).map((r) => r.version as number));
  }

  /** `err` as a cause that names neither the URL nor the password. */
  #safe(err: unknown): Error {
    const leaks = (text: string) => this.#secrets.some((s) => text.includes(s));
    if (err instanceof Error && !leaks(inspect(err, { depth: 4 }))) return err;
    let message = err instanceof Error ? err.message : String(err);
    for (const s of this.#secrets) message = message.replaceAll(s, '[secret]');
    return new Error(message);
  }

  #fail(operation: string, err: unknown): StoreError {
    return err instanceof StoreError ? err : new StoreError(operation, this.#safe(err));
  }

  async #guard<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof MarkerNotFoundError) throw err;
      throw this.#fail(operation, err);
    }
  }

  async #transaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    // A checked-out client has no pool listener: a connection lost between two statements would be an unhandled
    // 'error'. The statement that follows fails anyway, which is how the caller learns of it.
    const ignore = () => undefined;
    client.on('error', ignore);
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // After a server-side error the connection is reusable once rolled back; after anything else (a lost
      // connection, a client-side timeout with the statement maybe still running) it is thrown away.
      const rolledBack = err instanceof pg.DatabaseError && (await client.query('ROLLBACK').then(() => true, () => false));
      if (!rolledBack) broken = err instanceof Error ? err : new Error(String(err));
      throw err;
    } finally {
      client.off('error', ignore);
      client.release(broken);
    }
  }

  #tx<T>(operation: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.#guard(operation, () => this.#transaction(fn));
  }

  async #enqueue(c: pg.PoolClient, messages: OutboxInput[], now: number): Promise<void> {
    if (!messages.length) return;
    // One statement for the batch, in order; a message whose dedup_key is already queued on its channel is dropped.
    await rows(
      c,
      q(
        `INSERT INTO outbox (channel, payload, next_attempt_at, created_at, dedup_key)
         SELECT m.channel, m.payload, ?::bigint, ?::bigint, m.dedup_key FROM unnest(?::text[], ?::text[], ?::text[]) WITH ORDINALITY AS m (channel, payload, dedup_key, n)
         ORDER BY m.n
         ON CONFLICT (channel, dedup_key) DO NOTHING`,
        now,
        now,
        messages.map((m) => m.channel),
        messages.map((m) => JSON.stringify(m.payload)),
        messages.map((m) => dedupKey(m.payload)),
      ),
    );
  }

  async #history(c: pg.PoolClient, n: Notification): Promise<RunHistory> {
    if (!RUN_END_STATUSES.includes(n.status)) return { tasks: [], moves: [] };
    return { tasks: await this.#tasks(c, n.uuid), moves: await this.#moves(c, n.uuid) };
  }

  async create(input: NewNotification, opts: CreateOptions, outbox?: OutboxBuilder): Promise<CreateResult> {
    return (await this.createMany([input], opts, outbox))[0]!;
  }

  async createMany(inputs: NewNotification[], opts: CreateOptions, outbox?: OutboxBuilder, extra: OutboxInput[] = []): Promise<CreateResult[]> {
    return this.#tx('create', async (c) => {
      // Another receiver recording the same host waits here until this transaction ends, then sees its rows: the
      // replay and duplicate checks below are decided one receiver at a time. Sorted, so two batches never deadlock.
      for (const host of [...new Set(inputs.map((i) => i.hostUuid))].sort())
        await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [HOST_LOCK_SPACE, host]);
      const results: CreateResult[] = [];
      for (const input of inputs) results.push(await this.#createOne(c, input, opts, outbox));
      await this.#enqueue(c, extra, opts.now);
      return results;
    });
  }

  async #replay(c: pg.PoolClient, replayKey: string): Promise<CreateResult | undefined> {
    const r = await one(c, q('SELECT * FROM notifications WHERE replay_key = ?', replayKey));
    return r && { outcome: 'replay', notification: toNotification(r) };
  }

  async #createOne(c: pg.PoolClient, input: NewNotification, opts: CreateOptions, outbox?: OutboxBuilder): Promise<CreateResult> {
    const replay = input.replayKey ? await this.#replay(c, input.replayKey) : undefined;
    if (replay) return replay;
    const host = await one(c, q('SELECT on_maintenance FROM hosts WHERE uuid = ?', input.hostUuid));
    const admit = admission(input, opts, host?.on_maintenance === true);
    if (!admit) return { outcome: 'host-on-maintenance' };
    const payload = canonicalJson(input.payload);
    if (admit.checkDuplicate) {
      const dup = await one(c, duplicateQuery(input, opts.dedupWindowMs, payload));
      if (dup) return { outcome: 'duplicate', notification: toNotification(dup) };
    }
    const insert = notificationInsert(input, randomUUID(), payload, admit.ignoreReason, opts.now);
    // The host lock orders receivers on one host; the same replay key under another host still meets here.
    const row = await one(c, { sql: `${insert.sql} ON CONFLICT (replay_key) DO NOTHING RETURNING *`, params: insert.params });
    if (!row) {
      const winner = await this.#replay(c, input.replayKey!);
      if (!winner) throw new Error(`replay key ${input.replayKey} conflicted but names no notification`);
      return winner;
    }
    if (input.hostUuid) await rows(c, hostUpsert(input, opts.now));
    const created = toNotification(row);
    if (outbox) await this.#enqueue(c, outbox(created, { tasks: [], moves: [] }), opts.now);
    return admit.maintenance ? { outcome: 'host-on-maintenance', notification: created } : { outcome: 'created', notification: created };
  }

  async get(uuid: string): Promise<Notification | undefined> {
    return this.#guard('get', async () => {
      const r = await one(this.#pool, q('SELECT * FROM notifications WHERE uuid = ?', uuid));
      return r && toNotification(r);
    });
  }

  async list(filter: ListFilter, page: ListPage): Promise<Notification[]> {
    return this.#guard('list', async () => {
      if (page.limit === 0) return [];
      const order = listOrder(page);
      let marker: unknown[] | undefined;
      if (page.markerId !== undefined) {
        marker = (await this.#pool.query<unknown[]>({ text: numbered(markerQuery(order)), values: [page.markerId], rowMode: 'array' })).rows[0];
        if (!marker) throw new MarkerNotFoundError(page.markerId);
      }
      return (await rows(this.#pool, listQuery(filter, page.limit, order, marker))).map(toNotification);
    });
  }

  async countByStatus(): Promise<Record<NotificationStatus, number>> {
    return this.#guard('countByStatus', async () => {
      const out = Object.fromEntries(NOTIFICATION_STATUSES.map((s) => [s, 0])) as Record<NotificationStatus, number>;
      for (const r of await rows(this.#pool, q('SELECT status, COUNT(*) AS n FROM notifications GROUP BY status'))) out[r.status as NotificationStatus] = r.n as number;
      return out;
    });
  }

  async unfinished(limit = 1000): Promise<Notification[]> {
    return this.#guard('unfinished', async () =>
      (await rows(this.#pool, q("SELECT * FROM notifications WHERE status IN ('new', 'running', 'error') ORDER BY id LIMIT ?", limit))).map(toNotification),
    );
  }

  async transition(uuid: string, t: Transition, now: number, outbox?: OutboxBuilder): Promise<Notification | undefined> {
    return this.#tx('transition', async (c) => {
      const { sets, params } = assignments({ status: t.to, updated_at: now, message: t.message, next_attempt_at: t.nextAttemptAt });
      if (t.startsRun) sets.push('attempts = attempts + 1');
      // Compare-and-set: a receiver that changed the status first makes this one match no row.
      const row = await one(c, {
        sql: `UPDATE notifications SET ${sets.join(', ')} WHERE uuid = ? AND status IN (${t.from.map(() => '?').join(', ')}) RETURNING *`,
        params: [...params, uuid, ...t.from],
      });
      if (!row) return undefined;
      const n = toNotification(row);
      if (outbox) await this.#enqueue(c, outbox(n, await this.#history(c, n)), now);
      return n;
    });
  }

  async planTasks(uuid: string, names: readonly string[]): Promise<void> {
    await this.#guard('planTasks', () =>
      rows(
        this.#pool,
        q(
          `INSERT INTO tasks (notification_uuid, seq, name, state)
           SELECT ?, t.n - 1, t.name, 'PENDING' FROM unnest(?::text[]) WITH ORDINALITY AS t (name, n)
           ON CONFLICT DO NOTHING`,
          uuid,
          names,
        ),
      ),
    );
  }

  async tasks(uuid: string): Promise<TaskRecord[]> {
    return this.#guard('tasks', () => this.#tasks(this.#pool, uuid));
  }

  async #tasks(db: Db, uuid: string): Promise<TaskRecord[]> {
    return toTasks(
      await rows(db, q('SELECT * FROM tasks WHERE notification_uuid = ? ORDER BY seq', uuid)),
      await rows(db, q('SELECT * FROM task_progress WHERE notification_uuid = ? ORDER BY id', uuid)),
    );
  }

  async startTask(uuid: string, name: string, now: number): Promise<void> {
    await this.#guard('startTask', () =>
      rows(this.#pool, q("UPDATE tasks SET state = 'RUNNING', first_started_at = COALESCE(first_started_at, ?), finished_at = NULL WHERE notification_uuid = ? AND name = ?", now, uuid, name)),
    );
  }

  async addProgress(uuid: string, name: string, message: string, progress: number, now: number): Promise<void> {
    await this.#tx('addProgress', async (c) => {
      await rows(c, q('INSERT INTO task_progress (notification_uuid, task_name, at, message, progress) VALUES (?, ?, ?, ?, ?)', uuid, name, now, message, progress));
      await rows(c, q('UPDATE tasks SET progress = ? WHERE notification_uuid = ? AND name = ?', progress, uuid, name));
    });
  }

  async finishTask(uuid: string, name: string, state: 'SUCCESS' | 'FAILURE', result: unknown, now: number): Promise<void> {
    await this.#guard('finishTask', () =>
      rows(
        this.#pool,
        q(
          `UPDATE tasks SET state = ?, finished_at = ?, result = ?${state === 'SUCCESS' ? ', progress = 1' : ''} WHERE notification_uuid = ? AND name = ?`,
          state,
          now,
          result === undefined ? null : JSON.stringify(result),
          uuid,
          name,
        ),
      ),
    );
  }

  async planMoves(uuid: string, moves: PlannedMove[], now: number): Promise<void> {
    if (!moves.length) return;
    await this.#guard('planMoves', () =>
      rows(
        this.#pool,
        q(
          `INSERT INTO vm_moves (notification_uuid, vm_uuid, vm_name, source_host, status, message, rank, created_at)
           SELECT ?, m.vm_uuid, m.vm_name, m.source_host, m.status, m.message, m.rank, ?::bigint
           FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::integer[]) WITH ORDINALITY AS m (vm_uuid, vm_name, source_host, status, message, rank, n)
           ORDER BY m.n
           ON CONFLICT (notification_uuid, vm_uuid) DO NOTHING`,
          uuid,
          now,
          moves.map((m) => m.vmUuid),
          moves.map((m) => m.vmName),
          moves.map((m) => m.sourceHost),
          moves.map((m) => m.status),
          moves.map((m) => m.message ?? null),
          moves.map((m) => m.rank),
        ),
      ),
    );
  }

  async moves(uuid: string): Promise<VmMove[]> {
    return this.#guard('moves', () => this.#moves(this.#pool, uuid));
  }

  async #moves(db: Db, uuid: string): Promise<VmMove[]> {
    return (await rows(db, q('SELECT * FROM vm_moves WHERE notification_uuid = ? ORDER BY rank, id', uuid))).map(toMove);
  }

  async updateMove(uuid: string, vmUuid: string, patch: MovePatch, now: number): Promise<void> {
    const { sets, params } = assignments({
      status: patch.status,
      updated_at: now,
      dest_host: patch.destHost,
      message: patch.message,
      start_time: patch.startTime,
      end_time: patch.endTime,
    });
    await this.#guard('updateMove', () => rows(this.#pool, { sql: `UPDATE vm_moves SET ${sets.join(', ')} WHERE notification_uuid = ? AND vm_uuid = ?`, params: [...params, uuid, vmUuid] }));
  }

  async hosts(): Promise<HostState[]> {
    return this.#guard('hosts', async () => (await rows(this.#pool, q('SELECT * FROM hosts ORDER BY pool_name, name'))).map(toHost));
  }

  async setMaintenance(host: { uuid: string; name: string; pool: string }, by: { notification: string; reason: string } | null, now: number): Promise<void> {
    await this.#guard('setMaintenance', () =>
      rows(
        this.#pool,
        q(
          `INSERT INTO hosts (uuid, name, pool_name, on_maintenance, maintenance_by, reason, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (uuid) DO UPDATE SET on_maintenance = excluded.on_maintenance, maintenance_by = excluded.maintenance_by,
             reason = excluded.reason, updated_at = excluded.updated_at`,
          host.uuid,
          host.name,
          host.pool,
          by !== null,
          by?.notification ?? null,
          by?.reason ?? null,
          now,
        ),
      ),
    );
  }

  async claimMessages(channel: string, limit: number, now: number, leaseMs: number): Promise<OutboxMessage[]> {
    // Rows another receiver is claiming right now are skipped, not waited for: no message is claimed twice.
    const claimed = await this.#guard('claimMessages', () =>
      rows(
        this.#pool,
        q(
          `UPDATE outbox SET claimed_until = ?, attempts = attempts + 1
           WHERE id IN (
             SELECT id FROM outbox
             WHERE channel = ? AND status = 'pending' AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)
             ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED)
           RETURNING *`,
          now + leaseMs,
          channel,
          now,
          now,
          limit,
        ),
      ),
    );
    return claimed.map(toMessage).sort((a, b) => a.id - b.id);
  }

  async ackMessage(id: number, now: number): Promise<void> {
    await this.#guard('ackMessage', () => rows(this.#pool, q("UPDATE outbox SET status = 'sent', done_at = ?, claimed_until = NULL WHERE id = ?", now, id)));
  }

  async retryMessageAt(id: number, at: number, error: string): Promise<void> {
    await this.#guard('retryMessageAt', () => rows(this.#pool, q('UPDATE outbox SET next_attempt_at = ?, last_error = ?, claimed_until = NULL WHERE id = ?', at, error, id)));
  }

  async giveUpMessage(id: number, error: string, now: number): Promise<void> {
    await this.#guard('giveUpMessage', () => rows(this.#pool, q("UPDATE outbox SET status = 'dead', last_error = ?, done_at = ?, claimed_until = NULL WHERE id = ?", error, now, id)));
  }

  /**
   * Expiry is reckoned by the database's clock, not the caller's `now`: the receivers sharing the database run on
   * different machines whose clocks may differ, and one that runs ahead would take leases that have not expired.
   */
  async acquireLease(name: string, owner: string, _now: number, ttlMs: number): Promise<boolean> {
    return this.#guard('acquireLease', async () => {
      const granted = await rows(
        this.#pool,
        q(
          `INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ${DB_NOW} + ?)
           ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
           WHERE leases.owner = excluded.owner OR leases.expires_at <= ${DB_NOW}
           RETURNING name`,
          name,
          owner,
          ttlMs,
        ),
      );
      return granted.length > 0;
    });
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.#guard('releaseLease', () => rows(this.#pool, q('DELETE FROM leases WHERE name = ? AND owner = ?', name, owner)));
  }

  async getForward(uuid: string): Promise<ForwardState | undefined> {
    return this.#guard('getForward', async () => {
      const r = await one(this.#pool, q('SELECT * FROM forwards WHERE notification_uuid = ?', uuid));
      return r && toForward(r);
    });
  }

  async saveForward(uuid: string, patch: ForwardPatch, now: number): Promise<void> {
    await this.#guard('saveForward', () => rows(this.#pool, forwardUpsert(uuid, patch, now)));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}
