// Schema of the SQLite store, as ordered migrations. Applied at start inside one transaction each; the applied
// versions are kept in `schema_migrations`. Never edit a released migration: add the next one.

export interface Migration {
  version: number;
  sql: string;
}

// Parts of a replay key of the first form, `am:FP:S:E` (migration 8), each an SQL expression of `replay_key`.
/** `am:FP:S:` — the event (capitals and underscores) cut off. */
const AM_HEAD = "rtrim(replay_key, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ_')";
const AM_EVENT = `substr(replay_key, length(${AM_HEAD}) + 1)`;
/** `am:FP:S` */
const AM_REST = `substr(${AM_HEAD}, 1, length(${AM_HEAD}) - 1)`;
/** `am:FP:` — the start time (digits, a sign) cut off. */
const AM_UPTO_STARTS = `rtrim(${AM_REST}, '-0123456789')`;
const AM_STARTS = `substr(${AM_REST}, length(${AM_UPTO_STARTS}) + 1)`;
const AM_FINGERPRINT = `substr(${AM_UPTO_STARTS}, 4, length(${AM_UPTO_STARTS}) - 4)`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE notifications (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        uuid TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        host_uuid TEXT NOT NULL,
        host_name TEXT NOT NULL,
        pool_name TEXT NOT NULL,
        generated_at INTEGER NOT NULL,
        payload TEXT NOT NULL,
        message TEXT,
        source TEXT NOT NULL,
        replay_key TEXT UNIQUE,
        created_at INTEGER NOT NULL,
        updated_at INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER
      );
      CREATE INDEX notifications_dedup ON notifications (type, host_uuid, generated_at);
      CREATE INDEX notifications_status ON notifications (status);

      CREATE TABLE tasks (
        notification_uuid TEXT NOT NULL REFERENCES notifications (uuid),
        seq INTEGER NOT NULL,
        name TEXT NOT NULL,
        state TEXT NOT NULL,
        progress REAL NOT NULL DEFAULT 0,
        first_started_at INTEGER,
        finished_at INTEGER,
        result TEXT,
        PRIMARY KEY (notification_uuid, name)
      );
      CREATE TABLE task_progress (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        notification_uuid TEXT NOT NULL,
        task_name TEXT NOT NULL,
        at INTEGER NOT NULL,
        message TEXT NOT NULL,
        progress REAL NOT NULL,
        FOREIGN KEY (notification_uuid, task_name) REFERENCES tasks (notification_uuid, name)
      );

      CREATE TABLE vm_moves (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        notification_uuid TEXT NOT NULL REFERENCES notifications (uuid),
        vm_uuid TEXT NOT NULL,
        vm_name TEXT NOT NULL,
        source_host TEXT NOT NULL,
        dest_host TEXT,
        status TEXT NOT NULL,
        message TEXT,
        rank INTEGER NOT NULL,
        start_time INTEGER,
        end_time INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER,
        UNIQUE (notification_uuid, vm_uuid)
      );

      CREATE TABLE hosts (
        uuid TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        pool_name TEXT NOT NULL,
        on_maintenance INTEGER NOT NULL DEFAULT 0,
        maintenance_by TEXT,
        reason TEXT,
        updated_at INTEGER NOT NULL
      );

      CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        claimed_until INTEGER,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        done_at INTEGER
      );
      CREATE INDEX outbox_ready ON outbox (channel, status, next_attempt_at);
    `,
  },
  {
    // Masakari dedup compares the payload too: with it in the index, the check is one seek instead of a scan of
    // every notification of that host in the window (which made intake slower as the table grew).
    version: 2,
    sql: `
      DROP INDEX notifications_dedup;
      CREATE INDEX notifications_dedup ON notifications (type, host_uuid, payload, generated_at);
    `,
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
        expires_at INTEGER NOT NULL
      );
      CREATE TABLE forwards (
        notification_uuid TEXT PRIMARY KEY REFERENCES notifications (uuid),
        endpoint TEXT NOT NULL,
        outcome TEXT NOT NULL,
        remote_uuid TEXT,
        remote_status TEXT,
        reason TEXT,
        remote_details TEXT,
        updated_at INTEGER NOT NULL
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
        since INTEGER NOT NULL,
        pool_name TEXT NOT NULL,
        host_uuid TEXT NOT NULL,
        host_name TEXT NOT NULL,
        confirmed_at INTEGER,
        confirmed_by TEXT
      );
      CREATE TABLE fences (
        notification_uuid TEXT PRIMARY KEY,
        pool_name TEXT NOT NULL,
        host_uuid TEXT NOT NULL,
        at INTEGER NOT NULL
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
      UPDATE outbox SET notification_uuid = json_extract(payload, '$.notification_uuid') WHERE json_valid(payload) AND payload LIKE '%"notification_uuid":%';
      CREATE INDEX outbox_notification ON outbox (notification_uuid, id);
      CREATE TABLE hook_calls (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        notification_uuid TEXT NOT NULL,
        hook TEXT NOT NULL,
        phase TEXT NOT NULL,
        task_name TEXT,
        method TEXT NOT NULL,
        call_id TEXT NOT NULL,
        outcome TEXT NOT NULL,
        http_status INTEGER,
        attempts INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER NOT NULL,
        output TEXT
      );
      CREATE INDEX hook_calls_notification ON hook_calls (notification_uuid, id);
    `,
  },
  {
    // The duplicate lookup's index only for rows it can find (decide.ts duplicateTarget): a row recorded ignored and
    // never updated is no duplicate target, and its random insert in this index cost a page write per notification.
    version: 7,
    sql: `
      DROP INDEX notifications_dedup;
      CREATE INDEX notifications_dedup ON notifications (type, host_uuid, payload, generated_at) WHERE (status <> 'ignored' OR updated_at IS NOT NULL);
    `,
  },
  {
    // Replay keys time first (intake/alertmanager.ts replayKeyOf): `am:FP:S:E` becomes `am2:S:FP:E`. E is [A-Z_]+, S an
    // integer (ms), FP any text (a sender's fingerprint may hold ':'): cut from the right, without regular expressions.
    version: 8,
    sql: `UPDATE notifications SET replay_key = 'am2:' || ${AM_STARTS} || ':' || ${AM_FINGERPRINT} || ':' || ${AM_EVENT}
      WHERE replay_key LIKE 'am:%' AND ${AM_EVENT} <> '' AND ${AM_HEAD} LIKE '%:' AND ${AM_STARTS} <> '' AND ${AM_UPTO_STARTS} LIKE 'am:_%:';`,
  },
];
