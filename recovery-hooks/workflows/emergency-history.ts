// The emergency workflows' view of the store (workflows/emergency.ts EmergencyHistory), over the Store interface.
import type { NotificationStore } from '../store/store.js';
import type { EmergencyHistory } from './emergency.js';

/** How many of the newest emergency notifications (all pools) are looked at: far more than one outage produces. */
const RECENT = 200;

export function storeEmergencyHistory(store: Pick<NotificationStore, 'list' | 'tasks'>): EmergencyHistory {
  return {
    async recent(pool) {
      const list = await store.list({ type: 'XCP_EMERGENCY_SHUTDOWN' }, { limit: RECENT, sort: [{ key: 'id', dir: 'desc' }] });
      return list.filter((n) => n.poolName === pool);
    },
    async results(uuid) {
      return Object.fromEntries((await store.tasks(uuid)).map((t) => [t.name, t.result]));
    },
  };
}
