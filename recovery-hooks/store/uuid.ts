// Notification uuids, time-ordered (RFC 9562 version 7: 48 bits of Unix milliseconds, then 74 random bits). The
// uuid column is uniquely indexed: random (version 4) uuids land on a random leaf of that index at each insert, so a
// group commit of N notifications rewrote about N index pages; time-ordered ones are appended to the last leaf.
// Clients treat the uuid as opaque (Masakari's are version 4); it says nothing the record does not (created_at).
import { randomFillSync } from 'node:crypto';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const bytes = new Uint8Array(16);

export function timeOrderedUuid(now = Date.now()): string {
  randomFillSync(bytes, 6, 10);
  let ms = now;
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = 0x70 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const h = Array.from(bytes, (b) => HEX[b]!);
  return `${h.slice(0, 4).join('')}-${h.slice(4, 6).join('')}-${h.slice(6, 8).join('')}-${h.slice(8, 10).join('')}-${h.slice(10).join('')}`;
}
