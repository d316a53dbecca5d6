// Schema of the PostgreSQL store: SQLite's migrations 1-4 (migrations.ts) in PostgreSQL's dialect, with the same
// version numbers. Applied at open in one transaction holding an advisory lock, so receivers starting together
// migrate once. Never edit a released migration: add the next one, here and in migrations.ts.
//
// Times are epoch milliseconds (BIGINT, read back as numbers). Text that lists sort or compare (uuid, type,
// status, host, payload, host and pool names) uses the "C" collation: byte order, as SQLite compares text, whatever
// the database's locale.
import type { Migration } from './migrations.js';

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE notifications (
        id BIGSERIAL PRIMARY KEY,
        uuid TEXT COLLATE "C" NOT NULL UNIQUE,
        type TEXT COLLATE "C" NOT NULL,
        status TEXT COLLATE "C" NOT NULL,
        host_uuid TEXT COLLATE "C" NOT NULL,
        host_name TEXT NOT NULL,
        pool_name TEXT NOT NULL,
        generated_at BIGINT NOT NULL,
        payload TEXT COLLATE "C" NOT NULL,
        message TEXT,
        source TEXT NOT NULL,
        replay_key TEXT UNIQUE,
        created_at BIGINT NOT NULL,
        updated_at BIGINT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT
      );
      CREATE INDEX notifications_dedup ON notifications (type, host_uuid, generated_at);
      CREATE INDEX notifications_status ON notifications (status);

      CREATE TABLE tasks (
        notification_uuid TEXT NOT NULL REFERENCES notifications (uuid),
        seq INTEGER NOT NULL,
        name TEXT NOT NULL,
        state TEXT NOT NULL,
        progress DOUBLE PRECISION NOT NULL DEFAULT 0,
        first_started_at BIGINT,
        finished_at BIGINT,
        result TEXT,
        PRIMARY KEY (notification_uuid, name)
      );
      CREATE TABLE task_progress (
        id BIGSERIAL PRIMARY KEY,
        notification_uuid TEXT NOT NULL,
        task_name TEXT NOT NULL,
        at BIGINT NOT NULL,
        message TEXT NOT NULL,
        progress DOUBLE PRECISION NOT NULL,
        FOREIGN KEY (notification_uuid, task_name) REFERENCES tasks (notification_uuid, name)
      );

      CREATE TABLE vm_moves (
        id BIGSERIAL PRIMARY KEY,
        notification_uuid TEXT NOT NULL REFERENCES notifications (uuid),
        vm_uuid TEXT NOT NULL,
        vm_name TEXT NOT NULL,
        source_host TEXT NOT NULL,
        dest_host TEXT,
        status TEXT NOT NULL,
        message TEXT,
        rank INTEGER NOT NULL,
        start_time BIGINT,
        end_time BIGINT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT,
        UNIQUE (notification_uuid, vm_uuid)
      );

      CREATE TABLE hosts (
        uuid TEXT PRIMARY KEY,
        name TEXT COLLATE "C" NOT NULL,
        pool_name TEXT COLLATE "C" NOT NULL,
        on_maintenance BOOLEAN NOT NULL DEFAULT false,
        maintenance_by TEXT,
        reason TEXT,
        updated_at BIGINT NOT NULL
      );

      CREATE TABLE outbox (
        id BIGSERIAL PRIMARY KEY,
        channel TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        claimed_until BIGINT,
        last_error TEXT,
        created_at BIGINT NOT NULL,
        done_at BIGINT
      );
      CREATE INDEX outbox_ready ON outbox (channel, status, next_attempt_at);
    `,
  },
  {
    // The duplicate check's payload lookup. Not SQLite's btree on (type, host_uuid, payload, generated_at): a btree
    // entry is limited to about 2.7 kB and a larger payload would fail to insert. A hash index has no such limit.
    version: 2,
    sql: `CREATE INDEX notifications_payload ON notifications USING hash (payload);`,
  },
  {
    // Alert messages carry a dedup key (fingerprint, startsAt, status): Alertmanager's re-sends queue nothing twice.
    version: 3,
    sql: `
      ALTER TABLE outbox ADD COLUMN dedup_key TEXT;
      CREATE UNIQUE INDEX outbox_dedup ON outbox (channel, dedup_key);
    `,
  },
  {
    // Leases (one receiver at a time runs a host's workflow or drains a channel) and forwarded notifications.
    version: 4,
    sql: `
      CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        expires_at BIGINT NOT NULL
      );
      CREATE TABLE forwards (
        notification_uuid TEXT PRIMARY KEY REFERENCES notifications (uuid),
        endpoint TEXT NOT NULL,
        outcome TEXT NOT NULL,
        remote_uuid TEXT,
        remote_status TEXT,
        reason TEXT,
        remote_details TEXT,
        updated_at BIGINT NOT NULL
      );
    `,
  },
  {
    // Operator waits (a host recovery parked until a person confirms the host is off) and the fences sent, which the
    // blast-radius limits count per pool across every receiver sharing the store.
    version: 5,
    sql: `
      CREATE TABLE operator_waits (
        notification_uuid TEXT PRIMARY KEY REFERENCES notifications (uuid),
        kind TEXT NOT NULL,
        reason TEXT NOT NULL,
        since BIGINT NOT NULL,
        pool_name TEXT NOT NULL,
        host_uuid TEXT NOT NULL,
        host_name TEXT NOT NULL,
        confirmed_at BIGINT,
        confirmed_by TEXT
      );
      CREATE TABLE fences (
        notification_uuid TEXT PRIMARY KEY,
        pool_name TEXT NOT NULL,
        host_uuid TEXT NOT NULL,
        at BIGINT NOT NULL
      );
      CREATE INDEX fences_pool ON fences (pool_name, at);
    `,
  },
  {
    // A notification's activity: the outbox messages about it (existing ones found by the uuid in their payload) and
    // the calls of the action hooks around its recovery actions.
    version: 6,
    sql: `
      ALTER TABLE outbox ADD COLUMN notification_uuid TEXT;
      UPDATE outbox SET notification_uuid = payload::json ->> 'notification_uuid' WHERE payload LIKE '%"notification_uuid":%';
      CREATE INDEX outbox_notification ON outbox (notification_uuid, id);
      CREATE TABLE hook_calls (
        id BIGSERIAL PRIMARY KEY,
        notification_uuid TEXT NOT NULL,
        hook TEXT NOT NULL,
        phase TEXT NOT NULL,
        task_name TEXT,
        method TEXT NOT NULL,
        call_id TEXT NOT NULL,
        outcome TEXT NOT NULL,
        http_status INTEGER,
        attempts INTEGER NOT NULL,
        started_at BIGINT NOT NULL,
        finished_at BIGINT NOT NULL,
        output TEXT
      );
      CREATE INDEX hook_calls_notification ON hook_calls (notification_uuid, id);
    `,
  },
  {
    // As SQLite's migration 7: the duplicate lookup's payload index only for rows it can find (decide.ts duplicateTarget).
    version: 7,
    sql: `
      DROP INDEX notifications_payload;
      CREATE INDEX notifications_payload ON notifications USING hash (payload) WHERE (status <> 'ignored' OR updated_at IS NOT NULL);
    `,
  },
  {
    // As SQLite's migration 8: replay keys time first (`am:FP:S:E` → `am2:S:FP:E`); the fingerprint is the longest
    // match, so a ':' inside it stays in it.
    version: 8,
    sql: `UPDATE notifications SET replay_key = regexp_replace(replay_key, '^am:(.+):(-?[0-9]+):([A-Z_]+)$', 'am2:\\2:\\1:\\3')
      WHERE replay_key ~ '^am:.+:-?[0-9]+:[A-Z_]+$';`,
  },
];
