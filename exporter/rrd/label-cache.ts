// Base label blocks of RRD objects rendered once per inventory change rather than once per poll: they depend only on
// the inventory lookups (names of VMs, hosts), which are rebuilt when the inventory changes. Looked up by an
// object's uuid, then by the host it was read from: no key string is built. Shared by the hosts' mapping plans
// (samples.ts), so a plan remade for a changed legend reuses the blocks of the objects it already had. A source's
// extra labels (`vif="0",network_name="…"`) are kept once per text (`shared`): the same few texts recur on every VM
// (measured: 88,000 strings, 4,900 texts, at 16 hosts × 160 VMs), one string each instead of one per column.
import { detach } from '../../core/strings.js';
import type { Derived } from '../inventory/inventory.js';

export class LabelCache {
  private lookups?: Derived;
  private readonly blocks = new Map<string, Map<unknown, string | null>>();
  private readonly texts = new Map<string, string>();

  /** The block of object `uuid` for `key`, rendered by `render` the first time it is asked for since the lookups changed. */
  get<T extends string | null>(lookups: Derived, uuid: string, key: unknown, render: () => T): T {
    this.check(lookups);
    let byKey = this.blocks.get(uuid);
    if (!byKey) this.blocks.set(detach(uuid), (byKey = new Map()));
    let block = byKey.get(key) as T | undefined;
    if (block === undefined) {
      block = render();
      byKey.set(typeof key === 'string' ? detach(key) : key, block);
    }
    return block;
  }

  /** `text` itself the first time, and that same string each later time until the lookups change. */
  shared(lookups: Derived, text: string): string {
    this.check(lookups);
    const kept = this.texts.get(text);
    if (kept !== undefined) return kept;
    this.texts.set(text, text);
    return text;
  }

  private check(lookups: Derived): void {
    if (lookups === this.lookups) return;
    this.blocks.clear();
    this.texts.clear();
    this.lookups = lookups;
  }
}
