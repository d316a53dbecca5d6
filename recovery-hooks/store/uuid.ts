// Notification uuids, time-ordered (RFC 9562 version 7: 48 bits of Unix milliseconds, then 74 random bits). The
// uuid column is uniquely indexed: random (version 4) uuids land on a random leaf of that index at each insert, so a
// group commit of N notifications rewrote about N index pages; time-ordered ones are appended to the last leaf.
// Clients treat the uuid as opaque (Masakari's are version 4); it says nothing the record does not (created_at).
import { randomUUID } from 'node:crypto';

export function timeOrderedUuid(now = Date.now()): string {
  // A version 4 uuid (Node draws them from a cached pool of random bytes) with its first 48 bits replaced by the
  // time and its version nibble by 7: xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx → tttttttt-tttt-7xxx-yxxx-xxxxxxxxxxxx.
  const time = now.toString(16).padStart(12, '0');
  return `${time.slice(0, 8)}-${time.slice(8)}-7${randomUUID().slice(15)}`;
}
