// The notifiers: the router that turns status changes and alerts into outbox messages (used by the engine and the
// intake), and one delivery worker per configured channel. Templates are compiled here, so a broken user template
// fails the start with its file and line. A channel's module (and its library: nodemailer, @xmpp/client) is loaded
// only when a channel of its type is configured: each costs the receiver ~15 MB of memory and 0.1–0.2 s to load.
import { randomUUID } from 'node:crypto';
import { Counter } from 'prom-client';
import type { Logger } from '../../core/log.js';
import type { RecoveryMetrics } from '../engine/metrics.js';
import type { NotificationStore } from '../store/store.js';
import type { Channel } from './channels/channel.js';
import type { ChannelConfig, NotifiersConfig } from './config.js';
import { DeliveryWorker } from './delivery.js';
import { Renderer } from './render.js';
import { type NotifierRouter, createRouter } from './router.js';

export type { NotifiersConfig } from './config.js';
export type { AlertEventInput, NotifierRouter } from './router.js';

export interface Notifiers {
  router: NotifierRouter;
  /** router.statusEvents: the OutboxBuilder to give the store's create/transition (the workers wake after the commit). */
  statusEvents: NotifierRouter['statusEvents'];
  /** router.alertEvents. */
  alertEvents: NotifierRouter['alertEvents'];
  /** router.waitEvents. */
  waitEvents: NotifierRouter['waitEvents'];
  /** Look at the outbox now rather than at the next poll. */
  wake(): void;
  /** Stop claiming, wait for the sends in flight, close the connections. */
  stop(): Promise<void>;
}

export interface NotifierOptions {
  /** The receiver's clock (epoch ms), as given to the engine. */
  now?: () => number;
  /** This receiver process in leases (default: a random name), and the leases' length (default 30 s). */
  owner?: string;
  leaseMs?: number;
}

async function createChannel(config: ChannelConfig, logger: Logger): Promise<Channel> {
  switch (config.type) {
    case 'email':
      return new (await import('./channels/email.js')).EmailChannel(config, logger);
    case 'xmpp':
      return new (await import('./channels/xmpp.js')).XmppChannel(config, logger);
    case 'webhook':
      return new (await import('./channels/webhook.js')).WebhookChannel(config);
  }
}

/** A counter of the same name that no registry exposes, when the receiver's metrics are not given. */
function detachedMessagesCounter(): Pick<RecoveryMetrics, 'messages'> {
  return {
    messages: new Counter({
      name: 'xcp_recovery_messages_total',
      help: 'Outbox messages by channel and outcome.',
      labelNames: ['channel', 'outcome'],
      registers: [],
    }),
  };
}

export async function startNotifiers(
  store: NotificationStore,
  config: NotifiersConfig,
  logger: Logger,
  metrics: Pick<RecoveryMetrics, 'messages'> = detachedMessagesCounter(),
  opts: NotifierOptions = {},
): Promise<Notifiers> {
  const log = logger.child({ component: 'notifiers' });
  const renderer = new Renderer(config.links, config.templatesDir);
  const router = createRouter(config.channels, { metrics });
  const owner = opts.owner ?? `notifiers-${randomUUID()}`;
  const channels: Channel[] = [];
  try {
    for (const c of config.channels) channels.push(await createChannel(c, log));
  } catch (err) {
    // A channel that cannot be made (its module failed to load) fails the start; the ones made close (XMPP's connects).
    await Promise.allSettled(channels.map((c) => c.close()));
    throw err;
  }
  const workers = config.channels.map((c, i) => {
    const channel = channels[i]!;
    return new DeliveryWorker({
      store,
      channel,
      renderer,
      policy: c.delivery,
      pollIntervalMs: config.pollIntervalMs,
      metrics,
      logger: log,
      owner,
      leaseMs: opts.leaseMs ?? 30_000,
      now: opts.now,
    });
  });
  for (const w of workers) w.start();
  if (workers.length) log.info('notifiers started', { channels: config.channels.map((c) => `${c.name} (${c.type})`) });

  const wake = () => {
    for (const w of workers) w.wake();
  };
  // A message goes out as soon as the transaction that queued it has committed, not at the next poll.
  store.onMessagesQueued(wake);
  let stopping: Promise<void> | undefined;
  return {
    router,
    statusEvents: router.statusEvents,
    alertEvents: router.alertEvents,
    waitEvents: router.waitEvents,
    wake,
    stop: () =>
      (stopping ??= (async () => {
        await Promise.all(workers.map((w) => w.stop()));
        await Promise.allSettled(channels.map((c) => c.close()));
      })()),
  };
}
