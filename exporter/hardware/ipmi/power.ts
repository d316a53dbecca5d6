// Which number is "the host's power draw": the BMC's DCMI measurement when it has one, else a whole-system
// power sensor, else the sum of the power supplies.

import type { DcmiPowerReading } from './dcmi.js';
import type { IpmiSensor } from './model.js';

export interface HostPower {
  watts: number;
  source: 'dcmi' | 'psu';
}

// Whole-system sensors, most direct first. Xen Orchestra's list (Dell "Pwr Consumption", Lenovo "Sys Power" /
// "System Power" / "Power Consumption", Vates "total_power"), plus HPE "Power Meter" and IBM/Supermicro
// "Avg Power" seen in the fixtures.
const SYSTEM_POWER = [/^pwr consumption$/i, /^sys(?:tem)? power$/i, /^power consumption$/i, /^total[_ ]power$/i, /^power meter$/i, /^avg power$/i];
// Per-supply input (wall) power: HPE "PS 1 Input", Lenovo "PSU1 AC In Pwr", Vates "psu1_pin"; output as a last resort.
const PSU_INPUT = /^(?:ps|psu|power supply)[ _]?\d+[ _](?:input(?: power)?|ac in pwr|pin)$/i;
const PSU_OUTPUT = /^(?:ps|psu|power supply)[ _]?\d+[ _](?:output(?: power)?|dc out pwr|pout)$/i;

type Reading = IpmiSensor & { value: number };

const readWatts = (s: IpmiSensor): s is Reading => s.unit === 'watts' && s.value !== null;

/**
 * A reading of 0 W is skipped, from DCMI or a system sensor: a running host never draws nothing, and some BMCs
 * answer 0 when they do not measure. Per-supply sums are only used when every matching supply has a reading.
 */
export function pickHostPower(sensors: readonly IpmiSensor[], dcmi?: DcmiPowerReading | null): HostPower | null {
  if (dcmi?.active && dcmi.currentWatts > 0) return { watts: dcmi.currentWatts, source: 'dcmi' };
  const watts = sensors.filter(readWatts);
  for (const pattern of SYSTEM_POWER) {
    const total = watts.find((s) => pattern.test(s.name) && s.value > 0);
    if (total) return { watts: total.value, source: 'psu' };
  }
  for (const pattern of [PSU_INPUT, PSU_OUTPUT]) {
    const supplies = sensors.filter((s) => pattern.test(s.name));
    const read = supplies.filter(readWatts);
    if (read.length && read.length === supplies.length) {
      return { watts: read.reduce((sum, s) => sum + s.value, 0), source: 'psu' };
    }
  }
  return null;
}
