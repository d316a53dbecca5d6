// Opens the configured store: PostgreSQL when `store.postgres` is set (several receivers share it), else the
// embedded SQLite file, on the event loop or (store_worker_thread) in a worker thread. The PostgreSQL client is loaded
// only when used.
import type { Logger } from '../../core/log.js';
import type { RecoveryHookConfig } from '../config.js';
import { SqliteNotificationStore } from './sqlite.js';
import { SqliteWorkerStore } from './sqlite-worker.js';
import type { NotificationStore } from './store.js';

export async function openStore(config: Pick<RecoveryHookConfig, 'storePath' | 'storeWorkerThread' | 'postgres'>, logger: Logger): Promise<NotificationStore> {
  if (!config.postgres) return config.storeWorkerThread ? SqliteWorkerStore.open(config.storePath) : new SqliteNotificationStore(config.storePath, logger);
  const { PostgresNotificationStore } = await import('./postgres.js');
  return PostgresNotificationStore.open(config.postgres, logger);
}

/**
 * How many group commits the intake hands this store before the first is answered (GroupCommitLimits): the worker
 * thread takes the next group while it commits one; the other stores commit one group at a time.
 */
export function commitsInFlight(store: NotificationStore): number {
  return store instanceof SqliteWorkerStore ? 2 : 1;
}

/** Where the store is, for logs: the SQLite path, or the PostgreSQL server without credentials. */
export function describeStore(config: Pick<RecoveryHookConfig, 'storePath' | 'postgres'>): string {
  if (!config.postgres) return config.storePath;
  try {
    const url = new URL(config.postgres.url.reveal());
    return `postgresql://${url.host}${url.pathname}`;
  } catch {
    return 'postgresql';
  }
}
