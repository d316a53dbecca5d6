// The pool uuids learned from XAPI, kept in a small JSON file (`exporter.state_file`) so that xcp_pool_connected
// carries pool_id even for a pool the exporter has not reached since it started. One entry per configured pool
// (bounded by the config), valid only for the URL it was learned at; written atomically, only when an id changes.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../core/log.js';

interface Entry {
  url: string;
  pool_id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class PoolIdFile {
  private entries = new Map<string, Entry>();

  /** `pools`: the configured pools (name → URL); entries of other pools are dropped. */
  constructor(
    private readonly file: string | undefined,
    private readonly pools: Map<string, string>,
    private readonly logger: Logger,
  ) {
    if (!file) return;
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn('exporter state file unreadable, starting without it', { file, error: err });
      return;
    }
    const saved = (raw as { pools?: Record<string, Partial<Entry>> } | null)?.pools ?? {};
    for (const [name, e] of Object.entries(saved)) {
      if (typeof e?.url === 'string' && this.pools.get(name) === e.url && typeof e.pool_id === 'string' && UUID.test(e.pool_id))
        this.entries.set(name, { url: e.url, pool_id: e.pool_id });
    }
  }

  /** The pool id last learned for `name` at its configured URL. */
  get(name: string): string | undefined {
    return this.entries.get(name)?.pool_id;
  }

  /** Remember the ids now known (written only when one changed). */
  update(known: Iterable<[name: string, poolId: string | undefined]>): void {
    let changed = false;
    for (const [name, poolId] of known) {
      const url = this.pools.get(name);
      if (!poolId || !url || this.entries.get(name)?.pool_id === poolId) continue;
      this.entries.set(name, { url, pool_id: poolId });
      changed = true;
    }
    if (changed && this.file) this.write(this.file);
  }

  private write(file: string): void {
    try {
      mkdirSync(dirname(file), { recursive: true });
      const tmp = `${file}.tmp`;
      writeFileSync(tmp, `${JSON.stringify({ pools: Object.fromEntries(this.entries) }, null, 2)}\n`, { mode: 0o640 });
      renameSync(tmp, file);
    } catch (err) {
      this.logger.warn('exporter state file not written', { file, error: err });
    }
  }
}
