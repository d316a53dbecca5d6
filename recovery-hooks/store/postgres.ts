// The shared store: one PostgreSQL database for several receivers (node-postgres, a pool per receiver). Same
// semantics as the SQLite store, each public method one transaction, made safe between receivers: create takes an
// advisory lock per host before its replay and duplicate checks, status changes are compare-and-set, outbox claims
// skip rows another receiver is claiming, and leases are timed by the database's clock.
import { inspect } from 'node:util';
import pg from 'pg';
import type { Logger } from '../../core/log.js';
import type { PostgresStoreConfig } from '../config.js';
import { activityHookCalls, activityMessages, hookCallInsert, toHookCall, toMessageRecord } from './activity.js';
import { type Insert, decide, decidedResults, duplicateLookups, duplicateMatch, duplicateTarget, hostsOf } from './decide.js';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import { QueuedSignal } from './queued.js';
import { timeOrderedUuid } from './uuid.js';
import {
  type Row,
  type Statement,
  assignments,
  canonicalJson,
  dedupKey,
  forwardUpsert,
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
  isNewWait,
  leaseConflictQuery,
  OPEN_WAITS_SQL,
  recentFences,
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
import { MarkerNotFoundError, type NotificationStore, StoreError } from './store.js';
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
/** Two-key advisory locks serializing the fences of a pool, and the conflicting leases of a host. */
const FENCE_LOCK_SPACE = 0x786371;
const LEASE_LOCK_SPACE = 0x786372;
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
  readonly #signal = new QueuedSignal();
  /** Connections whose current transaction queued outbox messages (told to the listeners after its COMMIT). */
  readonly #queuedOn = new WeakSet<pg.PoolClient>();
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
    return this.#guard('schemaVersions', async () =>
      (await rows(this.#pool, q('SELECT version FROM schema_migrations ORDER BY version'))).map((r) => r.version as number),
    );
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
    const dataException = err instanceof pg.DatabaseError && typeof err.code === 'string' && err.code.startsWith('22');
    return err instanceof StoreError ? err : new StoreError(operation, this.#safe(err), dataException);
  }

  async #guard<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof MarkerNotFoundError) throw err;
      throw this.#fail(operation, err);
    }
  }

  /** `begin`: the statements opening the transaction, sent as one simple query (BEGIN, and what must come first). */
  async #transaction<T>(fn: (c: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    const client = await this.#pool.connect();
    // A checked-out client has no pool listener: a connection lost between two statements would be an unhandled
    // 'error'. The statement that follows fails anyway, which is how the caller learns of it.
    const ignore = () => undefined;
    client.on('error', ignore);
    let broken: Error | undefined;
    try {
      await client.query(begin);
      const result = await fn(client);
      await client.query('COMMIT');
      if (this.#queuedOn.delete(client)) this.#signal.fire();
      return result;
    } catch (err) {
      this.#queuedOn.delete(client);
      // After a server-side error the connection is reusable once rolled back; after anything else (a lost
      // connection, a client-side timeout with the statement maybe still running) it is thrown away.
      const rolledBack =
        err instanceof pg.DatabaseError &&
        (await client.query('ROLLBACK').then(
          () => true,
          () => false,
        ));
      if (!rolledBack) broken = err instanceof Error ? err : new Error(String(err));
      throw err;
    } finally {
      client.off('error', ignore);
      client.release(broken);
    }
  }

  #tx<T>(operation: string, fn: (c: pg.PoolClient) => Promise<T>, begin?: string): Promise<T> {
    return this.#guard(operation, () => this.#transaction(fn, begin));
  }

  async #enqueue(c: pg.PoolClient, messages: OutboxInput[], now: number): Promise<void> {
    if (!messages.length) return;
    this.#queuedOn.add(c);
    // One statement for the batch, in order; a message whose dedup_key is already queued on its channel is dropped.
    await rows(
      c,
      q(
        `INSERT INTO outbox (channel, payload, next_attempt_at, created_at, dedup_key, notification_uuid)
         SELECT m.channel, m.payload, ?::bigint, ?::bigint, m.dedup_key, m.notification_uuid
         FROM unnest(?::text[], ?::text[], ?::text[], ?::text[]) WITH ORDINALITY AS m (channel, payload, dedup_key, notification_uuid, n)
         ORDER BY m.n
         ON CONFLICT (channel, dedup_key) DO NOTHING`,
        now,
        now,
        messages.map((m) => m.channel),
        messages.map((m) => JSON.stringify(m.payload)),
        messages.map((m) => dedupKey(m.payload)),
        messages.map((m) => m.notificationUuid ?? null),
      ),
    );
  }

  async #history(c: pg.PoolClient, n: Notification): Promise<RunHistory> {
    if (!RUN_END_STATUSES.includes(n.status)) return { tasks: [], moves: [] };
    return { tasks: await this.#tasks(c, n.uuid), moves: await this.#moves(c, n.uuid) };
  }

  // ── Notifications (StoreNotifications) ──

  async create(input: NewNotification, opts: CreateOptions, outbox?: OutboxBuilder): Promise<CreateResult> {
    return (await this.createMany([input], opts, outbox))[0]!;
  }

  async createMany(inputs: NewNotification[], opts: CreateOptions, outbox?: OutboxBuilder, extra: OutboxInput[] = []): Promise<CreateResult[]> {
    // Another receiver recording the same host waits at this lock until this transaction ends, then sees its rows:
    // the replay and duplicate checks are decided one receiver at a time. Sorted, so two batches never deadlock; one
    // statement takes them all, in the array's order (a function scan yields its rows in order). Sent with BEGIN in
    // one round trip (a simple query: the host uuids as escaped literals), before any read of the batch, whose
    // snapshot must be taken after the lock is held.
    const hosts = [...new Set(inputs.map((i) => i.hostUuid))].sort();
    const begin = hosts.length
      ? `BEGIN; SELECT pg_advisory_xact_lock(${HOST_LOCK_SPACE}, hashtext(h)) FROM unnest(ARRAY[${hosts.map((h) => pg.escapeLiteral(h)).join(', ')}]::text[]) AS h`
      : 'BEGIN';
    return this.#tx(
      'create',
      async (c) => {
        const results = inputs.length ? await this.#createBatch(c, inputs, hosts, opts, outbox) : { results: [], messages: [] };
        await this.#enqueue(c, [...results.messages, ...extra], opts.now);
        return results.results;
      },
      begin,
    );
  }

  /**
   * The batch in a handful of statements, whatever its size: what the database already holds (replay keys, the
   * hosts' maintenance flags, the first duplicate of each input) is read once, then the inputs are decided in order
   * in memory exactly as one create after the other would decide them (an input meets the rows the batch inserted
   * before it), and the rows to insert go in one statement. The host locks keep every other receiver's rows of
   * these hosts out meanwhile; only a replay key under another host can still be inserted by someone else, which
   * the insert finds as a conflict: the batch's rows are then deleted and the batch decided again knowing the winner.
   */
  async #createBatch(
    c: pg.PoolClient,
    inputs: NewNotification[],
    hosts: string[],
    opts: CreateOptions,
    outbox?: OutboxBuilder,
  ): Promise<{ results: CreateResult[]; messages: OutboxInput[] }> {
    const payloads = inputs.map((i) => canonicalJson(i.payload));
    const { known, onMaintenance, duplicates } = await this.#stored(c, inputs, hosts, payloads, opts);
    for (;;) {
      const plan = decide(inputs, payloads, opts, { known, onMaintenance, duplicates });
      const inserted = plan.inserts.length ? await this.#insertBatch(c, inputs, plan.inserts, hostsOf(inputs, plan.inserts), opts.now) : [];
      const conflicted = plan.inserts.filter((_s, k) => !inserted[k]);
      if (conflicted.length) {
        // Another receiver inserted these replay keys meanwhile: decide again with its rows known.
        const ids = inserted.flatMap((r) => (r ? [r.id] : []));
        if (ids.length) await c.query({ text: 'DELETE FROM notifications WHERE id = ANY($1::bigint[])', values: [ids] });
        const lost = conflicted.map((s) => inputs[s.index]!.replayKey!);
        // decide() inserts no key it knows: a known key conflicting again would loop forever.
        if (lost.some((k) => known.has(k))) throw new Error('a replay key conflicted twice');
        for (const r of (await c.query<Row>({ text: 'SELECT * FROM notifications WHERE replay_key = ANY($1::text[])', values: [lost] })).rows)
          known.set(r.replay_key as string, r);
        const missing = lost.findIndex((k) => !known.has(k));
        if (missing >= 0) throw new Error(`replay key ${lost[missing]} conflicted but names no notification`);
        continue;
      }
      const made = inserted as Row[];
      const { results, created } = decidedResults(plan, made);
      const messages: OutboxInput[] = [];
      if (outbox) for (const n of created) messages.push(...outbox(n, { tasks: [], moves: [] }));
      return { results, messages };
    }
  }

  /**
   * What the database holds for the batch, read in one statement (one snapshot, taken after the host locks): the
   * rows of its replay keys, its hosts on maintenance, and the first stored duplicate of every input when there is a
   * window — of which decide() is given those duplicateLookups asks for (the others it would not look at).
   */
  async #stored(
    c: pg.PoolClient,
    inputs: NewNotification[],
    hosts: string[],
    payloads: string[],
    opts: CreateOptions,
  ): Promise<{ known: Map<string, Row>; onMaintenance: Set<string>; duplicates: Map<number, Row> }> {
    const keys = [...new Set(inputs.flatMap((i) => (i.replayKey === undefined ? [] : [i.replayKey])))];
    const asked = opts.dedupWindowMs > 0 ? inputs.map((_input, k) => k) : [];
    const { rows: found } = await c.query<Row>({
      // Lookups are unnamed statements, planned for their arguments each time: a plan cached while the table was
      // small would scan it whole once it has grown. The duplicates: duplicateMatch (decide.ts), for each input at
      // once, through the payload's hash index: behind the OFFSET 0 fence the planner cannot pick the (type,
      // host_uuid, generated_at) index instead, which it does on a table not yet analyzed, and which reads every row
      // of the host in the window (all of them, in a burst of alerts).
      text: `SELECT 'replay' AS xs_kind, NULL::int AS xs_input, NULL::text AS xs_host, n.* FROM notifications AS n WHERE n.replay_key = ANY($1::text[])
             UNION ALL
             SELECT 'maintenance', NULL, h.uuid, n.* FROM hosts AS h LEFT JOIN notifications AS n ON false WHERE h.uuid = ANY($2::text[]) AND h.on_maintenance
             UNION ALL
             SELECT 'duplicate', d.i, NULL, n.* FROM unnest($3::int[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::bigint[]) AS d (i, type, host_uuid, since, payload, generated_at)
             CROSS JOIN LATERAL (
               SELECT * FROM (SELECT * FROM notifications AS n WHERE n.payload = d.payload AND ${duplicateTarget('n')} OFFSET 0) AS same
               WHERE ${duplicateMatch('same', { type: 'd.type', hostUuid: 'd.host_uuid', since: 'd.since', payload: 'd.payload', generatedAt: 'd.generated_at' })}
               ORDER BY same.id LIMIT 1) AS n`,
      values: [
        keys,
        hosts,
        asked,
        asked.map((k) => inputs[k]!.type),
        asked.map((k) => inputs[k]!.hostUuid),
        asked.map((k) => inputs[k]!.generatedAt - opts.dedupWindowMs),
        asked.map((k) => payloads[k]!),
        asked.map((k) => inputs[k]!.generatedAt),
      ],
    });
    const known = new Map<string, Row>();
    const onMaintenance = new Set<string>();
    const all = new Map<number, Row>();
    for (const { xs_kind: kind, xs_input: i, xs_host: host, ...row } of found) {
      if (kind === 'replay') known.set(row.replay_key as string, row);
      else if (kind === 'maintenance') onMaintenance.add(host as string);
      else all.set(i as number, row);
    }
    const duplicates = new Map<number, Row>();
    for (const k of duplicateLookups(inputs, opts, { known, onMaintenance })) if (all.has(k)) duplicates.set(k, all.get(k)!);
    return { known, onMaintenance, duplicates };
  }

  /**
   * Insert the planned rows in one statement, in order, and upsert their hosts (hostUpsert of rows.ts, one row per
   * host: a statement may not update a row twice) in the same one, only when every row went in; by slot, the
   * inserted row, or undefined for a replay key met (the batch is then decided again, its rows deleted). The rows are
   * made here from what went in and the ids the server drew (notificationInsert's row, as SELECT * reads it back):
   * RETURNING * had the server format, and the client parse, every column of every row again.
   */
  async #insertBatch(c: pg.PoolClient, inputs: NewNotification[], inserts: Insert[], hosts: NewNotification[], now: number): Promise<(Row | undefined)[]> {
    const planned = inserts.map((s) => notificationInsert(inputs[s.index]!, timeOrderedUuid(now), s.payload, s.ignoreReason, now));
    // The insert's values, a column at a time (notificationInsert's order: uuid … replay_key, created_at).
    const column = (k: number) => planned.map((p) => p.params[k]);
    const { rows: made } = await c.query<{ id: number; uuid: string }>({
      name: 'xs_insert',
      // notificationInsert (rows.ts), for each row at once; ids are drawn in the order of the rows.
      text: `WITH made AS (
               INSERT INTO notifications (uuid, type, status, host_uuid, host_name, pool_name, generated_at, payload, message, source, replay_key, created_at)
               SELECT r.uuid, r.type, r.status, r.host_uuid, r.host_name, r.pool_name, r.generated_at, r.payload, r.message, r.source, r.replay_key, $12::bigint
               FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[], $10::text[], $11::text[])
                 WITH ORDINALITY AS r (uuid, type, status, host_uuid, host_name, pool_name, generated_at, payload, message, source, replay_key, n)
               ORDER BY r.n
               ON CONFLICT (replay_key) DO NOTHING RETURNING id, uuid
             ), upserted AS (
               INSERT INTO hosts (uuid, name, pool_name, updated_at)
               SELECT h.uuid, h.name, h.pool_name, $12::bigint FROM unnest($13::text[], $14::text[], $15::text[]) AS h (uuid, name, pool_name)
               WHERE (SELECT count(*) FROM made) = cardinality($1::text[])
               ON CONFLICT (uuid) DO UPDATE SET name = excluded.name, pool_name = excluded.pool_name
             )
             SELECT id, uuid FROM made`,
      values: [
        ...Array.from({ length: 11 }, (_, k) => column(k)),
        now,
        hosts.map((h) => h.hostUuid),
        hosts.map((h) => h.hostName),
        hosts.map((h) => h.poolName),
      ],
    });
    const ids = new Map(made.map((r) => [r.uuid, r.id]));
    return planned.map((p) => {
      const id = ids.get(p.params[0] as string);
      return id === undefined ? undefined : p.row(id);
    });
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
      for (const r of await rows(this.#pool, q('SELECT status, COUNT(*) AS n FROM notifications GROUP BY status')))
        out[r.status as NotificationStatus] = r.n as number;
      return out;
    });
  }

  async unfinished(limit = 1000, generatedBefore?: number): Promise<Notification[]> {
    return this.#guard('unfinished', async () => (await rows(this.#pool, unfinishedQuery(limit, generatedBefore))).map(toNotification));
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

  // ── Task log (StoreTasks) ──

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
      rows(
        this.#pool,
        q(
          "UPDATE tasks SET state = 'RUNNING', first_started_at = COALESCE(first_started_at, ?), finished_at = NULL WHERE notification_uuid = ? AND name = ?",
          now,
          uuid,
          name,
        ),
      ),
    );
  }

  async addProgress(uuid: string, name: string, message: string, progress: number, now: number): Promise<void> {
    await this.#tx('addProgress', async (c) => {
      await rows(
        c,
        q('INSERT INTO task_progress (notification_uuid, task_name, at, message, progress) VALUES (?, ?, ?, ?, ?)', uuid, name, now, message, progress),
      );
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

  // ── VM moves (StoreMoves) ──

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
    await this.#guard('updateMove', () =>
      rows(this.#pool, { sql: `UPDATE vm_moves SET ${sets.join(', ')} WHERE notification_uuid = ? AND vm_uuid = ?`, params: [...params, uuid, vmUuid] }),
    );
  }

  // ── Hosts (StoreHosts) ──

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

  // ── Outbox (StoreOutbox) ──

  onMessagesQueued(listener: () => void): void {
    this.#signal.on(listener);
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
    await this.#guard('retryMessageAt', () =>
      rows(this.#pool, q('UPDATE outbox SET next_attempt_at = ?, last_error = ?, claimed_until = NULL WHERE id = ?', at, error, id)),
    );
  }

  async giveUpMessage(id: number, error: string, now: number): Promise<void> {
    await this.#guard('giveUpMessage', () =>
      rows(this.#pool, q("UPDATE outbox SET status = 'dead', last_error = ?, done_at = ?, claimed_until = NULL WHERE id = ?", error, now, id)),
    );
  }

  // ── Leases (StoreLeases) ──

  /**
   * Expiry is reckoned by the database's clock, not the caller's `now`: the receivers sharing the database run on
   * different machines whose clocks may differ, and one that runs ahead would take leases that have not expired.
   */
  async acquireLease(name: string, owner: string, _now: number, ttlMs: number, conflicts?: LeaseConflicts): Promise<boolean> {
    const take = async (c: Db) =>
      (
        await rows(
          c,
          q(
            `INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ${DB_NOW} + ?)
             ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
             WHERE leases.owner = excluded.owner OR leases.expires_at <= ${DB_NOW}
             RETURNING name`,
            name,
            owner,
            ttlMs,
          ),
        )
      ).length > 0;
    const conflict = conflicts && leaseConflictQuery(conflicts, owner, DB_NOW, []);
    if (!conflict) return this.#guard('acquireLease', () => take(this.#pool));
    // Leases that exclude each other (a host's and its VMs') are taken under one lock: the group is the name's
    // first segment ("host:<uuid>" of "host:<uuid>/vm:<uuid>"), so two receivers cannot both pass the check.
    return this.#tx('acquireLease', async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LEASE_LOCK_SPACE, name.split('/')[0]]);
      if (await one(c, conflict)) return false;
      return take(c);
    });
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.#guard('releaseLease', () => rows(this.#pool, q('DELETE FROM leases WHERE name = ? AND owner = ?', name, owner)));
  }

  // ── Operator waits (StoreOperatorWaits) ──

  async waitForOperator(
    uuid: string,
    wait: { kind: OperatorWaitKind; reason: string },
    now: number,
    messages?: (n: Notification, wait: OperatorWait) => OutboxInput[],
  ): Promise<OperatorWait | undefined> {
    return this.#tx('waitForOperator', async (c) => {
      const r = await one(c, q('SELECT * FROM notifications WHERE uuid = ? FOR UPDATE', uuid));
      if (!r) return undefined;
      const n = toNotification(r);
      const beforeRow = await one(c, q('SELECT * FROM operator_waits WHERE notification_uuid = ?', uuid));
      const before = beforeRow && toOperatorWait(beforeRow);
      await rows(c, waitUpsert(uuid, { ...wait, poolName: n.poolName, hostUuid: n.hostUuid, hostName: n.hostName }, now));
      const after = toOperatorWait((await one(c, q('SELECT * FROM operator_waits WHERE notification_uuid = ?', uuid)))!);
      if (isNewWait(before, after) && messages) await this.#enqueue(c, messages(n, after), now);
      return after;
    });
  }

  async operatorWait(uuid: string): Promise<OperatorWait | undefined> {
    return this.#guard('operatorWait', async () => {
      const r = await one(this.#pool, q('SELECT * FROM operator_waits WHERE notification_uuid = ?', uuid));
      return r && toOperatorWait(r);
    });
  }

  async openOperatorWaits(): Promise<OperatorWait[]> {
    return this.#guard('openOperatorWaits', async () => (await rows(this.#pool, q(OPEN_WAITS_SQL))).map(toOperatorWait));
  }

  async confirmFenced(uuid: string, by: string, now: number): Promise<OperatorWait | undefined> {
    return this.#guard('confirmFenced', async () => {
      const st = waitConfirm(uuid, by, now);
      const r = await one(this.#pool, { sql: `${st.sql} RETURNING *`, params: st.params });
      return r && toOperatorWait(r);
    });
  }

  // ── Fences (StoreFences) ──

  async reserveFence(fence: Omit<FenceRecord, 'at'>, limits: { windowMs: number; max: number }, now: number): Promise<FenceReservation> {
    return this.#tx('reserveFence', async (c): Promise<FenceReservation> => {
      // Every receiver reserving a fence in this pool waits here: the count and the insert are one step.
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [FENCE_LOCK_SPACE, fence.poolName]);
      if (await one(c, q('SELECT 1 FROM fences WHERE notification_uuid = ?', fence.notificationUuid))) return { granted: true };
      const recent = (await rows(c, recentFences(fence.poolName, now - limits.windowMs))).map(toFence);
      if (recent.length >= limits.max) return { granted: false, recent };
      await rows(
        c,
        q('INSERT INTO fences (notification_uuid, pool_name, host_uuid, at) VALUES (?, ?, ?, ?)', fence.notificationUuid, fence.poolName, fence.hostUuid, now),
      );
      return { granted: true };
    });
  }

  async fenceOf(uuid: string): Promise<FenceRecord | undefined> {
    return this.#guard('fenceOf', async () => {
      const r = await one(this.#pool, q('SELECT * FROM fences WHERE notification_uuid = ?', uuid));
      return r && toFence(r);
    });
  }

  // ── Forwards (StoreForwards) ──

  async getForward(uuid: string): Promise<ForwardState | undefined> {
    return this.#guard('getForward', async () => {
      const r = await one(this.#pool, q('SELECT * FROM forwards WHERE notification_uuid = ?', uuid));
      return r && toForward(r);
    });
  }

  async saveForward(uuid: string, patch: ForwardPatch, now: number): Promise<void> {
    await this.#guard('saveForward', () => rows(this.#pool, forwardUpsert(uuid, patch, now)));
  }

  // ── Retention (StoreRetention) ──

  async purge(before: number, limit: number): Promise<PurgeCounts> {
    return this.#tx('purge', async (c) => {
      // The candidates are locked: a change of status by another receiver waits, and another purge skips them.
      const candidates = purgeCandidates(before, limit);
      const uuids = (await rows(c, { sql: `${candidates.sql} FOR UPDATE SKIP LOCKED`, params: candidates.params })).map((r) => r.uuid as string);
      let notifications = 0;
      if (uuids.length) for (const sql of purgeNotificationDeletes('= ANY(?::text[])')) notifications = (await c.query(numbered(sql), [uuids])).rowCount ?? 0;
      const count = async (st: Statement) => (await c.query(numbered(st.sql), st.params)).rowCount ?? 0;
      const messages = await count(purgeMessages(before, limit));
      const leases = await count(purgeLeases(before));
      const hosts = await count(purgeHosts(before, limit));
      return { notifications, messages, leases, hosts };
    });
  }

  // ── Activity (StoreActivity) ──

  async recordHookCall(call: HookCallInput): Promise<void> {
    await this.#guard('recordHookCall', () => rows(this.#pool, hookCallInsert(call)));
  }

  async activityOf(notificationUuid: string): Promise<NotificationActivity> {
    return this.#guard('activityOf', async () => {
      const [messages, hookCalls] = await Promise.all([
        rows(this.#pool, activityMessages(notificationUuid)),
        rows(this.#pool, activityHookCalls(notificationUuid)),
      ]);
      return { messages: messages.map(toMessageRecord), hookCalls: hookCalls.map(toHookCall) };
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}
