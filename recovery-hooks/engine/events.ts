// The outbox messages announcing a status change, built inside the store's transaction (see store/types.ts
// OutboxBuilder). The notifiers' router provides them (notifiers/router.ts).
export type { OutboxBuilder as EventMessages } from '../store/types.js';
