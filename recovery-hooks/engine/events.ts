// What the store calls inside a status change's transaction to get the outbox messages announcing it, so no change
// is ever lost or announced without having happened. The notifiers' router provides it (notifiers/router.ts).
import type { Notification, OutboxInput } from '../store/types.js';

export type EventMessages = (n: Notification) => OutboxInput[];
