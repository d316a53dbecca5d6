// Which hosts each pool (Masakari segment) has. The static directory knows the hosts listed in the config; the
// inventory-backed one (xapi-hosts.ts) adds each pool's hosts from XAPI. Neither learns hosts from alert labels.

export interface KnownHost {
  uuid: string;
  name: string;
  pool: string;
}

export interface HostDirectory {
  hostsOf(pool: string): KnownHost[];
  findHost(name: string): KnownHost | undefined;
  /** Whether the pool's host list comes from its XAPI inventory (then a host it lacks does not exist). */
  inventoryLoaded?(pool: string): boolean;
}

export class StaticHostDirectory implements HostDirectory {
  readonly #byUuid = new Map<string, KnownHost>();

  constructor(hosts: KnownHost[]) {
    for (const h of hosts) if (h.uuid && h.name && h.pool) this.#byUuid.set(h.uuid, { ...h });
  }

  hostsOf(pool: string): KnownHost[] {
    return [...this.#byUuid.values()].filter((h) => h.pool === pool).sort((a, b) => a.name.localeCompare(b.name));
  }

  findHost(name: string): KnownHost | undefined {
    for (const h of this.#byUuid.values()) if (h.name === name) return h;
    return undefined;
  }
}
