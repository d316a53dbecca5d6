// The one way notifications enter the store, for the webhook, the Masakari API and the engine's escalations:
// dedup and maintenance rules, outbox events and metrics in one place. Wakes the engine after each commit.
import type { EventMessages } from '../engine/events.js';
import type { RecoveryMetrics } from '../engine/metrics.js';
import type { NotificationStore } from '../store/store.js';
import type { CreateOptions, CreateResult, NewNotification } from '../store/types.js';

export interface RecorderOptions {
  store: NotificationStore;
  metrics: RecoveryMetrics;
  events: EventMessages;
  dedupWindowMs: number;
  now: () => number;
}

export class NotificationRecorder {
  #listeners: (() => void)[] = [];
  constructor(private readonly opts: RecorderOptions) {}

  /** Called after a notification was committed (the engine's wake-up). */
  onCreated(listener: () => void): void {
    this.#listeners.push(listener);
  }

  record(input: NewNotification, onMaintenance: CreateOptions['onMaintenance']): CreateResult {
    const { store, metrics, events, dedupWindowMs, now } = this.opts;
    const result = store.create(input, { now: now(), dedupWindowMs, onMaintenance }, events);
    if (result.notification && (result.outcome === 'created' || result.outcome === 'host-on-maintenance')) {
      metrics.notifications.inc({ type: result.notification.type, status: result.notification.status });
      if (result.outcome === 'created') for (const l of this.#listeners) l();
    }
    return result;
  }
}
