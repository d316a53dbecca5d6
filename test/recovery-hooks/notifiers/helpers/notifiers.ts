// Shared pieces of the notifier tests: config parsing, a store on a temp file, notifications moved through the
// status machine the way the engine does it, and looks at the outbox and the message counter.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Counter } from 'prom-client';
import type { Problem } from '../../../../core/config/schema.js';
import type { RecoveryMetrics } from '../../../../recovery-hooks/engine/metrics.js';
import { type NotifiersConfig, notifiersSchema } from '../../../../recovery-hooks/notifiers/config.js';
import { SqliteNotificationStore } from '../../../../recovery-hooks/store/sqlite.js';
import type { NewNotification, Notification, OutboxBuilder } from '../../../../recovery-hooks/store/types.js';
import { waitFor as poll } from '../../../../core/concurrency.js';
import { tempDir as makeTempDir } from '../../../helpers/tmp.js';

export const HOST = { name: 'host-1', uuid: '00000000-0000-4000-8000-000000000001' };
export const POOL = 'pool-a';

export function tempDir(): string {
  return makeTempDir('xcp-notifiers-');
}

export function parseNotifiers(section: unknown, opts: { baseDir?: string; env?: NodeJS.ProcessEnv } = {}): { config?: NotifiersConfig; problems: Problem[] } {
  const ctx = { problems: [] as Problem[] };
  const config = notifiersSchema({ baseDir: opts.baseDir ?? tmpdir(), env: opts.env ?? {} }).parse(section, ['recovery_hook', 'notifiers'], ctx);
  return { config, problems: ctx.problems };
}

export function mustParse(section: unknown, opts: { baseDir?: string; env?: NodeJS.ProcessEnv } = {}): NotifiersConfig {
  const { config, problems } = parseNotifiers(section, opts);
  if (!config) throw new Error(`config problems: ${JSON.stringify(problems)}`);
  return config;
}

export function openStore(dir: string): SqliteNotificationStore {
  return new SqliteNotificationStore(join(dir, 'recovery.sqlite'));
}

export function messagesCounter(): Pick<RecoveryMetrics, 'messages'> {
  return { messages: new Counter({ name: 'xcp_recovery_messages_total', help: 'test', labelNames: ['channel', 'outcome'], registers: [] }) };
}

export async function count(metrics: Pick<RecoveryMetrics, 'messages'>, channel: string, outcome: string): Promise<number> {
  const { values } = await metrics.messages.get();
  return values.find((v) => v.labels.channel === channel && v.labels.outcome === outcome)?.value ?? 0;
}

type Events = OutboxBuilder;

export function hostFailure(over: Partial<NewNotification> = {}): NewNotification {
  return {
    type: 'COMPUTE_HOST',
    hostUuid: HOST.uuid,
    hostName: HOST.name,
    poolName: POOL,
    generatedAt: Date.now(),
    payload: { event: 'STOPPED', host_status: 'UNKNOWN', cluster_status: 'OFFLINE' },
    source: 'alertmanager',
    ...over,
  };
}

/** Record a notification as the intake does (its outbox messages in the same transaction). */
export async function receive(store: SqliteNotificationStore, events: Events, input: NewNotification = hostFailure()): Promise<Notification> {
  const result = await store.create(input, { now: Date.now(), dedupWindowMs: 0, onMaintenance: 'proceed' }, events);
  if (!result.notification) throw new Error(`not created: ${result.outcome}`);
  return result.notification;
}

/** Run a host recovery that fails at fence_host for good, as the engine records it. */
export async function failRecovery(
  store: SqliteNotificationStore,
  events: Events,
  n: Notification,
  error = 'BMC 10.0.0.11 did not answer: timed out after 30000 ms',
): Promise<Notification> {
  const now = Date.now();
  await store.transition(n.uuid, { from: ['new'], to: 'running', startsRun: true }, now, events);
  await store.planTasks(n.uuid, ['confirm_host_down', 'fence_host', 'disable_host']);
  await store.startTask(n.uuid, 'confirm_host_down', now);
  await store.addProgress(n.uuid, 'confirm_host_down', `XAPI reports host ${HOST.name} not live`, 1, now);
  await store.finishTask(n.uuid, 'confirm_host_down', 'SUCCESS', null, now);
  await store.startTask(n.uuid, 'fence_host', now);
  await store.addProgress(n.uuid, 'fence_host', `failed: ${error}`, 1, now);
  await store.finishTask(n.uuid, 'fence_host', 'FAILURE', null, now);
  const message = `fence_host failed: ${error}`;
  await store.transition(n.uuid, { from: ['running'], to: 'error', message, nextAttemptAt: null }, now, events);
  return (await store.transition(n.uuid, { from: ['error'], to: 'failed', message: `${message} (after 1 run(s))` }, now, events))!;
}

export interface OutboxRow {
  id: number;
  channel: string;
  status: string;
  attempts: number;
  last_error: string | null;
}

/** The outbox as stored (a second, read-only connection to the same file). */
export function outboxRows(store: SqliteNotificationStore): OutboxRow[] {
  const db = new Database(store.path, { readonly: true });
  try {
    return db.prepare('SELECT id, channel, status, attempts, last_error FROM outbox ORDER BY id').all() as OutboxRow[];
  } finally {
    db.close();
  }
}

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  await poll(what, cond, { timeoutMs, everyMs: 20 });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
