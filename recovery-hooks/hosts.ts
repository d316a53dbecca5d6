// Which hosts each pool (Masakari segment) has. The static directory knows the hosts listed in the config and learns
// the ones named by alerts and notifications; an inventory-backed directory (from XAPI) can replace it.

export interface KnownHost {
  uuid: string;
  name: string;
  pool: string;
}

export interface HostDirectory {
  hostsOf(pool: string): KnownHost[];
  findHost(name: string): KnownHost | undefined;
  /** Remember a host seen in an alert (directories that learn implement it). */
  learn?(host: KnownHost): void;
}

export class StaticHostDirectory implements HostDirectory {
  readonly #byUuid = new Map<string, KnownHost>();

  constructor(hosts: KnownHost[]) {
    for (const h of hosts) this.learn(h);
  }

  hostsOf(pool: string): KnownHost[] {
    return [...this.#byUuid.values()].filter((h) => h.pool === pool).sort((a, b) => a.name.localeCompare(b.name));
  }

  findHost(name: string): KnownHost | undefined {
    for (const h of this.#byUuid.values()) if (h.name === name) return h;
    return undefined;
  }

  learn(host: KnownHost): void {
    if (host.uuid && host.name && host.pool) this.#byUuid.set(host.uuid, { ...host });
  }
}
