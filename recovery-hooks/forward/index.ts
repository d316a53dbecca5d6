// Forwarding: for each pool in `mode: forward`, one remote API client, one outbox worker on `forward:<pool>` (with
// the notifiers' delivery machinery: backoff, give-up, leases), the workflows that mirror the remote notification,
// and the outbox builder that queues each new notification of those pools.
import type { Logger } from '../../core/log.js';
import type { RecoveryHookConfig, TaskSettings } from '../config.js';
import type { RecoveryMetrics } from '../engine/metrics.js';
import type { Workflow } from '../engine/task.js';
import type { DeliveryPolicy } from '../notifiers/config.js';
import { DeliveryWorker, RAW_MESSAGES } from '../notifiers/delivery.js';
import type { NotificationStore } from '../store/store.js';
import type { NotificationType, OutboxBuilder, OutboxMessage } from '../store/types.js';
import { ForwardChannel } from './channel.js';
import { FORWARD_TASKS, type ForwardConfig } from './config.js';
import { forwardEvents } from './events.js';
import { RemoteApi } from './remote.js';
import { forwardWorkflows } from './workflow.js';

export { combineBuilders } from './events.js';

/** Messages of one forward pool in flight at once (the remote serialises per host anyway). */
const CONCURRENCY = 4;

export interface Forwarding {
  /** The OutboxBuilder queueing new notifications of forward pools; wakes the workers after the commit. */
  events: OutboxBuilder;
  workflows: Record<NotificationType, Workflow>;
  /** Stop the workers (sends in flight end first); call after the engine stopped (its tasks poll the remotes). */
  stop(): Promise<void>;
}

export interface ForwardingOptions {
  now?: () => number;
  owner: string;
  leaseMs: number;
}

export function startForwarding(
  store: NotificationStore,
  config: RecoveryHookConfig,
  logger: Logger,
  metrics: Pick<RecoveryMetrics, 'messages'>,
  opts: ForwardingOptions,
): Forwarding {
  const log = logger.child({ component: 'forward' });
  const pools = Object.entries(config.pools).flatMap(([name, p]) => (p.mode === 'forward' && p.forward ? [[name, p.forward] as const] : []));
  const remotes = new Map(pools.map(([name, f]) => [name, { remote: new RemoteApi(f), pollIntervalMs: f.pollIntervalMs }]));
  const workers = pools.map(
    ([name, f]) =>
      new DeliveryWorker<OutboxMessage>({
        store,
        channel: new ForwardChannel(name, remotes.get(name)!.remote, store, log, opts.now),
        renderer: RAW_MESSAGES,
        policy: deliveryPolicy(f),
        pollIntervalMs: f.pollIntervalMs,
        metrics,
        logger: log,
        owner: opts.owner,
        leaseMs: opts.leaseMs,
        now: opts.now,
      }),
  );
  for (const w of workers) w.start();
  if (pools.length) log.info('forwarding started', { pools: pools.map(([name, f]) => `${name} → ${f.notificationsUrl}`) });

  const queue = forwardEvents(new Set(pools.map(([name]) => name)));
  // A notification is forwarded as soon as the transaction that queued it has committed, not at the next poll.
  store.onMessagesQueued(() => {
    for (const w of workers) w.wake();
  });
  let stopping: Promise<void> | undefined;
  return {
    events: queue,
    workflows: forwardWorkflows({ store, remoteFor: (pool) => remotes.get(pool) }),
    stop: () =>
      (stopping ??= (async () => {
        await Promise.all(workers.map((w) => w.stop()));
        for (const { remote } of remotes.values()) remote.close();
      })()),
  };
}

function deliveryPolicy(f: ForwardConfig): DeliveryPolicy {
  return { giveUpAfterMs: f.giveUpAfterMs, backoff: f.backoff, timeoutMs: f.timeoutMs, concurrency: CONCURRENCY };
}

/**
 * Task settings of the forward tasks unless `tasks.<name>` configures them: they wait for the outbox and for the
 * remote recovery, so they may take the notification's whole life (`expire_after_seconds`), and they are not
 * retried (a retry would only read the same answer again).
 */
export function forwardTaskSettings(config: Pick<RecoveryHookConfig, 'tasks' | 'taskDefaults' | 'expireAfterMs'>): Record<string, TaskSettings> {
  const defaults: TaskSettings = { timeoutMs: config.expireAfterMs, retries: 0, retryDelayMs: config.taskDefaults.retryDelayMs };
  return { ...Object.fromEntries(FORWARD_TASKS.map((name) => [name, defaults])), ...config.tasks };
}
