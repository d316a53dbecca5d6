// The host directory from XAPI: each configured pool's hosts (host.get_all_records on its master) at start and every
// refresh interval after, so segments and hosts (and `openstack notification create <host name>`) are right from the
// first minute. Bounded: one refresh per pool at a time, each under a timeout; at most MAX_HOSTS hosts per pool.
// A pool that cannot be reached keeps its last known hosts; the configured `hosts:` are always known.
// Each read also keeps the VMs XAPI lists on each host (`resident_VMs`, ocaml/idl/datamodel_host.ml "list of VMs
// currently resident on host"): when the master dies, the last read of it, taken from its own live database, is the
// freshest account of what it ran — a promoted member's database is an older copy (workflows/master.ts).
import type { Logger } from '../core/log.js';
import type { XapiCaller } from '../core/xapi/client.js';
import type { HostDirectory, KnownHost } from './hosts.js';
import { LIMITS, textProblem, uuidProblem } from './intake/validate.js';
import { NULL_REF } from './workflows/xapi.js';

/** XAPI pools have at most 64 hosts; anything beyond this is not a pool's inventory. */
const MAX_HOSTS = 1000;
/** Xen runs at most about a thousand domains on a host; a longer resident_VMs list is cut there. */
const MAX_RESIDENT_VMS = 4096;
/** An XAPI reference (xapi writes OpaqueRef:<uuid>); anything else in resident_VMs, and the null reference, is dropped. */
const VM_REF = /^OpaqueRef:[\w-]{1,64}$/;

/** The VMs XAPI placed on a host at the last read of the pool's host records. */
export interface LastResidents {
  /** When the read was answered (ms since the epoch). */
  readAt: number;
  /** Their XAPI references (the same in every copy of the pool database). */
  vms: string[];
}

export interface XapiHostDirectoryOptions {
  /** Every configured pool, with its configured hosts (may be empty). */
  pools: { name: string; hosts: { uuid: string; name: string }[] }[];
  xapiFor(pool: string): XapiCaller;
  logger: Logger;
  /** Between two refreshes of a pool (default 60 s). */
  refreshMs?: number;
  /** Bound on one refresh, login included (default 20 s). */
  timeoutMs?: number;
  now?: () => number;
}

interface PoolState {
  configured: KnownHost[];
  /** From XAPI, once loaded: the last inventory read. */
  inventory?: KnownHost[];
  /** From the same read: each host's resident VMs, by host uuid. */
  residents: Map<string, LastResidents>;
  refreshing?: Promise<void>;
  /** Last refresh failed (logged once per change, not every interval). */
  failing: boolean;
}

export class XapiHostDirectory implements HostDirectory {
  readonly #pools = new Map<string, PoolState>();
  readonly #o: XapiHostDirectoryOptions;
  #timer: NodeJS.Timeout | undefined;

  constructor(opts: XapiHostDirectoryOptions) {
    this.#o = opts;
    for (const p of opts.pools) this.#pools.set(p.name, { configured: p.hosts.map((h) => ({ ...h, pool: p.name })), residents: new Map(), failing: false });
  }

  /**
   * Read every pool's inventory, waiting for it at most `waitMs` (a pool that answers late is loaded in the background),
   * then keep refreshing.
   */
  async start(waitMs = 3000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.refreshAll(), new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
    const every = this.#o.refreshMs ?? 60_000;
    this.#timer = setInterval(() => void this.refreshAll(), every);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  refreshAll(): Promise<void> {
    return Promise.all([...this.#pools.keys()].map((pool) => this.refresh(pool))).then(() => undefined);
  }

  /** One refresh of `pool` (joins the one in flight); never rejects. */
  refresh(pool: string): Promise<void> {
    const state = this.#pools.get(pool);
    if (!state) return Promise.resolve();
    return (state.refreshing ??= this.#read(pool, state).finally(() => (state.refreshing = undefined)));
  }

  async #read(pool: string, state: PoolState): Promise<void> {
    const timeoutMs = this.#o.timeoutMs ?? 20_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      const records = await Promise.race([
        this.#o.xapiFor(pool).call<Record<string, { uuid?: unknown; name_label?: unknown; address?: unknown; resident_VMs?: unknown }>>('host.get_all_records'),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`host.get_all_records took more than ${timeoutMs} ms`)), timeoutMs))),
      ]);
      const readAt = (this.#o.now ?? Date.now)();
      const hosts: KnownHost[] = [];
      const residents = new Map<string, LastResidents>();
      let skipped = 0;
      for (const r of Object.values(records ?? {}).slice(0, MAX_HOSTS)) {
        if (uuidProblem(r.uuid) || textProblem(r.name_label, LIMITS.name, { min: 1 })) skipped++;
        else {
          hosts.push({
            uuid: r.uuid as string,
            name: r.name_label as string,
            pool,
            ...(typeof r.address === 'string' && r.address ? { address: r.address } : {}),
          });
          const listed: unknown[] = Array.isArray(r.resident_VMs) ? r.resident_VMs.slice(0, MAX_RESIDENT_VMS) : [];
          residents.set(r.uuid as string, { readAt, vms: listed.filter((v): v is string => typeof v === 'string' && VM_REF.test(v) && v !== NULL_REF) });
        }
      }
      if (skipped) this.#o.logger.warn('hosts of the XAPI inventory skipped: unusable uuid or name', { pool, skipped });
      const before = state.inventory?.length;
      state.inventory = hosts;
      state.residents = residents;
      if (state.failing || before !== hosts.length) this.#o.logger.info('host directory loaded from XAPI', { pool, hosts: hosts.length });
      state.failing = false;
    } catch (err) {
      if (!state.failing)
        this.#o.logger.warn('cannot read the pool’s hosts from XAPI: keeping the last known and the configured ones', {
          pool,
          known: this.hostsOf(pool).length,
          error: err,
        });
      state.failing = true;
    } finally {
      clearTimeout(timer);
    }
  }

  hostsOf(pool: string): KnownHost[] {
    const state = this.#pools.get(pool);
    if (!state) return [];
    const byUuid = new Map(state.configured.map((h) => [h.uuid, h]));
    for (const h of state.inventory ?? []) byUuid.set(h.uuid, { ...h, address: h.address ?? byUuid.get(h.uuid)?.address });
    return [...byUuid.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The VMs the last successful read placed on host `uuid` of `pool` (kept while the pool cannot be read). */
  residentsOf(pool: string, uuid: string): LastResidents | undefined {
    return this.#pools.get(pool)?.residents.get(uuid);
  }

  findHost(name: string): KnownHost | undefined {
    for (const pool of this.#pools.keys()) {
      const found = this.hostsOf(pool).find((h) => h.name === name);
      if (found) return found;
    }
    return undefined;
  }

  inventoryLoaded(pool: string): boolean {
    return this.#pools.get(pool)?.inventory !== undefined;
  }
}
