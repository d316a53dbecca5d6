// Base label blocks of RRD objects rendered once per inventory change rather than once per poll: they depend only on
// the inventory lookups (names of VMs, hosts), which are rebuilt when the inventory changes. Looked up by an
// object's uuid, then by the host it was read from: no key string is built. Shared by the hosts' mapping plans
// (samples.ts), so a plan remade for a changed legend reuses the blocks of the objects it already had.
import { detach } from '../../core/strings.js';
import type { Derived } from '../inventory/inventory.js';

export class LabelCache {
  private lookups?: Derived;
  private readonly blocks = new Map<string, Map<unknown, string | null>>();

  /** The block of object `uuid` for `key`, rendered by `render` the first time it is asked for since the lookups changed. */
  get<T extends string | null>(lookups: Derived, uuid: string, key: unknown, render: () => T): T {
    if (lookups !== this.lookups) {
      this.blocks.clear();
      this.lookups = lookups;
    }
    let byKey = this.blocks.get(uuid);
    if (!byKey) this.blocks.set(detach(uuid), (byKey = new Map()));
    let block = byKey.get(key) as T | undefined;
    if (block === undefined) {
      block = render();
      byKey.set(typeof key === 'string' ? detach(key) : key, block);
    }
    return block;
  }
}
