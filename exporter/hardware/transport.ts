// What the hardware collectors ask of a transport (SSH to dom0, or the XCP-ng XAPI plugins): one host's IPMI
// sensors, one host's SMART disks.
import type { HostPower, IpmiSensor } from './ipmi/parse.js';
import type { SmartDisk } from './smart/parse.js';

export interface HardwareHost {
  uuid: string;
  /** XAPI OpaqueRef (host.call_plugin). */
  ref: string;
  /** name_label: log lines, and the key of pinned SSH host keys. */
  name: string;
  /** What SSH connects to. */
  address: string;
}

export interface IpmiReading {
  sensors: IpmiSensor[];
  power: HostPower | null;
  /** Lines that were not sensors, refused inputs: logged, never fatal. */
  warnings: string[];
  /** Failures that did not spoil the reading (DCMI timed out, …): counted in errors_total. */
  errors: unknown[];
}

export interface SmartReading {
  /** Every disk the host listed, readable or not (`error`), in standby or not (`inStandby`). */
  disks: SmartDisk[];
  warnings: string[];
  errors: unknown[];
}

/**
 * The host cannot give this data at all: no plugin, no BMC, the tool is not installed. Not a failure of the
 * collector: `…_up 0` for the host and one log line, no error counted.
 */
export class HardwareUnavailable extends Error {
  override name = 'HardwareUnavailable';
}

export interface HardwareTransport {
  readonly kind: 'ssh' | 'plugin';
  /** Hosts worked on at the same time, IPMI and SMART together. */
  readonly concurrency: number;
  ipmi(host: HardwareHost): Promise<IpmiReading>;
  smart(host: HardwareHost): Promise<SmartReading>;
  /** The hosts still in the pool: state and connections of the others are dropped. */
  retain(hosts: readonly HardwareHost[]): Promise<void>;
  close(): Promise<void>;
}
