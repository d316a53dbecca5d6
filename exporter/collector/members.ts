// Every host of a pool asked directly, at the address of its host record, whether its XAPI answers and who it
// says the master is. This is how the exporter sees a pool whose master is gone: members refuse a login with
// HOST_IS_SLAVE naming their master (proof that their toolstack answers, even while that master is dead), and a
// member promoted to master accepts it — the exporter then follows it without a restart.
import { mapSettledLimit } from '../../core/concurrency.js';
import type { ProbeResult, XapiClient } from '../../core/xapi/client.js';

export interface KnownHost {
  uuid: string;
  name: string;
  address: string;
}

export interface HostProbe extends KnownHost {
  result: ProbeResult;
}

/** Probe every host (bounded concurrency, `timeoutMs` each). */
export async function probeHosts(xapi: XapiClient, hosts: readonly KnownHost[], timeoutMs: number, concurrency: number): Promise<HostProbe[]> {
  const settled = await mapSettledLimit(hosts, concurrency, (h) => xapi.probe(h.address, timeoutMs));
  return hosts.map((h, i) => {
    const r = settled[i]!;
    return { ...h, result: r.status === 'fulfilled' ? r.value : { state: 'silent', error: r.reason as Error } };
  });
}

/** The toolstack answered the probe (any XAPI answer counts). */
export function toolstackAnswers(p: HostProbe): boolean {
  return p.result.state !== 'silent';
}

/**
 * The host to follow when the current master does not answer: one that accepted the login as master. When several
 * do (two masters after a failover gone wrong), none is chosen — following either could show a pool that is not the
 * one the members serve; the exporter stays where it is and says so.
 */
export function newMaster(probes: readonly HostProbe[], currentAddress: string): HostProbe | 'ambiguous' | undefined {
  const masters = probes.filter((p) => p.result.state === 'master' && p.address !== currentAddress);
  if (masters.length > 1) return 'ambiguous';
  return masters[0];
}
