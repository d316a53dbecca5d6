// Label blocks of RRD series rendered once per inventory change rather than once per poll: they depend only on
// the inventory lookups (names of VMs, hosts, disks, networks), which are rebuilt when the inventory changes.
import { detach } from '../../core/strings.js';
import type { Derived } from '../inventory/inventory.js';

export class LabelCache {
  private lookups?: Derived;
  private readonly blocks = new Map<string, string | null>();

  /** The block for `key`, rendered by `render` the first time it is asked for since the lookups changed. */
  get<T extends string | null>(lookups: Derived, key: string, render: () => T): T {
    if (lookups !== this.lookups) {
      this.blocks.clear();
      this.lookups = lookups;
    }
    let block = this.blocks.get(key) as T | undefined;
    if (block === undefined) {
      block = render();
      this.blocks.set(detach(key), block);
    }
    return block;
  }
}
