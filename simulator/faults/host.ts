// Host faults that keep the host running: a network partition, and the host coming back (heal) from a partition or
// a hang without a reboot. The domains keep running throughout (truth.ts); only what the master sees changes.
import { NULL_REF, type Ref } from '../model/types.js';
import type { HostRuntime, SimulatedPool } from '../pool.js';

/**
 * Cut the host off: it runs and keeps its domains, but neither the master nor any client (the receiver, the
 * exporter) reaches it — its listener blackholes like a dropped route. Its heartbeat stops reaching the master, so
 * the master declares it not live after hostDeadAfterMs (XAPI: host_assumed_dead_interval). The master itself is
 * not partitioned here (a master cut off from its members is the master-loss simulation's business).
 */
export function partitionHost(pool: SimulatedPool, h: HostRuntime): void {
  if (h.ref === pool.master.ref) throw new Error('partitioning the master is not modelled: partition its members instead');
  h.partitioned = true;
  for (const vm of pool.truth.domainsOn(h.ref)) pool.agents.freeze(vm);
}

/**
 * The host answers again without a reboot: a partition heals, or a hung host thaws. Its xapi, which lost the
 * master connection, restarts (xen-api ocaml/database/master_connection.ml: "Exceeded timeout for retrying master
 * connection: restarting xapi") and on start resyncs (ocaml/xapi/xapi_xenops.ml resync_resident_on, called from
 * on_xapi_restart). The simulator does the resync at once instead of after master_connection_reset_timeout.
 */
export function healHost(pool: SimulatedPool, h: HostRuntime): void {
  if (!h.powered) throw new Error(`host ${h.address} is powered off: power it on (recover) instead`);
  const wasCut = h.partitioned || h.crashed;
  h.partitioned = false;
  h.crashed = false;
  h.toolstackUp = true;
  h.lastHeartbeat = Date.now();
  // A master has no master connection to lose: its xapi does not restart, so it neither resyncs nor looks for
  // another master (ocaml/xapi/xapi.ml check_no_other_masters runs only at start) — an old master still acts as
  // master and its domains keep running (simulator/master-loss.ts).
  if (pool.roles.isMaster(h)) {
    for (const vm of pool.truth.domainsOn(h.ref)) pool.frozenHeartbeats.delete(vm);
    return;
  }
  if (wasCut) resyncResidentOn(pool, h);
  pool.roles.xapiStarted(h);
}

/**
 * xapi_xenops.ml resync_resident_on, for the domains this host's xenopsd runs and the VMs the database says are
 * resident here:
 *  - a domain whose VM the database says is resident on another host is shut down ("This can cause data
 *    corruption, therefore terminating");
 *  - a domain whose VM is resident nowhere (reset by VM.power_state_reset, not restarted) is claimed: resident_on
 *    is set to this host, and the events thread then reports it Running;
 *  - a VM the database says is resident here but that xenopsd does not run is reset to Halted.
 */
export function resyncResidentOn(pool: SimulatedPool, h: HostRuntime): void {
  const { store, truth } = pool;
  const running = truth.domainsOn(h.ref);
  for (const vm of running) {
    const rec = store.get('VM', vm);
    const resident = rec?.resident_on as Ref | undefined;
    if (!rec || (resident && resident !== NULL_REF && resident !== h.ref)) {
      truth.stop(vm, h.ref);
      continue;
    }
    if (resident !== h.ref || (rec.power_state !== 'Running' && rec.power_state !== 'Paused')) pool.place(vm, h.ref, 'Running');
    pool.agents.thaw(vm);
  }
  const host = store.get('host', h.ref)!;
  for (const vm of [...(host.resident_VMs as Ref[])]) {
    if (store.get('VM', vm)?.is_control_domain || truth.runs(vm, h.ref)) continue;
    pool.place(vm, null, 'Halted');
  }
}
