// Estimated power per VM (`xcp_vm_power_consumption_watts{estimate="true"}`), Xen Orchestra's method (PR 10031,
// computeVmPowerConsumption in xo-server-openmetrics' openmetric-formatter.mts): each host's measured power is split
// between the guest VMs its RRD reported, in proportion to cpu_usage × vCPUs; when their total load is below 0.01
// it is split equally; a VM without cpu_usage takes a zero share and is marked data_complete="false". dom0 takes no
// share. Only for hosts whose power is known (IPMI, else rrdd's DCMI source).
import { type MetricSink, VM_RRD, gauge } from '../metrics/declare.js';
import { withLabels } from '../metrics/families.js';

const VM_POWER = gauge(
  'xcp_vm_power_consumption_watts',
  'Estimated VM power consumption in watts: the host power split by CPU load (cpu_usage x vCPUs), as Xen Orchestra estimates it',
  [...VM_RRD, 'estimate', 'data_complete'],
);

interface GuestSeen {
  hostUuid: string;
  /** The VM's base label string (as on its RRD series). */
  labels: string;
  cpu?: number;
}

/** What one poll's RRD answers tell about power: filled by addRrdSamples, read once all hosts are in. */
export class PowerInputs {
  /** Host uuid → watts from rrdd's DCMI-power-reading. */
  readonly rrdHostWatts = new Map<string, number>();
  readonly guests = new Map<string, GuestSeen>();

  guest(uuid: string, hostUuid: string, labels: string): void {
    if (!this.guests.has(uuid)) this.guests.set(uuid, { hostUuid, labels });
  }

  cpu(uuid: string, value: number): void {
    const g = this.guests.get(uuid);
    if (g) g.cpu = value;
  }
}

/**
 * `hostWatts(uuid)`: the host's power (IPMI preferred, as XO), undefined when unknown; `vcpus(uuid)`: the VM's vCPU
 * count (XO falls back to 1).
 */
export function addVmPowerEstimates(
  set: MetricSink,
  inputs: PowerInputs,
  hostWatts: (uuid: string) => number | undefined,
  vcpus: (uuid: string) => number,
): void {
  const byHost = new Map<string, [string, GuestSeen][]>();
  for (const entry of inputs.guests) {
    const list = byHost.get(entry[1].hostUuid);
    if (list) list.push(entry);
    else byHost.set(entry[1].hostUuid, [entry]);
  }
  for (const [hostUuid, guests] of byHost) {
    const watts = hostWatts(hostUuid);
    if (watts === undefined || !Number.isFinite(watts)) continue;
    const loads = guests.map(([uuid, g]) => (g.cpu ?? 0) * vcpus(uuid));
    const total = loads.reduce((a, b) => a + b, 0);
    const equal = total < 0.01;
    guests.forEach(([, g], i) => {
      const value = equal ? watts / guests.length : (watts * loads[i]!) / total;
      set.add(VM_POWER, g.labels, value, withLabels('', { estimate: 'true', data_complete: g.cpu === undefined ? 'false' : undefined }));
    });
  }
}
