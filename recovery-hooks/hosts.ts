// Which hosts each pool (Masakari segment) has: the configured `hosts:` and each pool's XAPI inventory
// (xapi-hosts.ts). Never learned from alert labels: identity comes from XAPI.

export interface KnownHost {
  uuid: string;
  name: string;
  pool: string;
  /** XAPI's host.address (or the configured one): how a master failover reaches the host without its master. */
  address?: string;
}

export interface HostDirectory {
  hostsOf(pool: string): KnownHost[];
  findHost(name: string): KnownHost | undefined;
  /** Whether the pool's host list comes from its XAPI inventory (then a host it lacks does not exist). */
  inventoryLoaded?(pool: string): boolean;
}
