// Public entry of the IPMI parsers. Transports that know which command they ran call its parser directly;
// `parseSensorListing` recognises the format (for operator-configured commands and saved outputs) and rejects
// outputs that are not sensor listings with a reason that names what they are.

import { ProtocolError } from '../../../core/errors.js';
import { parseFreeIpmiSensors } from './freeipmi.js';
import { parseIpmitoolSensor, parseSdrElist, parseSdrList } from './ipmitool.js';
import { keyValueMap, keyValues } from './key-value.js';
import { contentLines, pipeColumns } from './listing.js';
import type { SensorListing } from './model.js';
import { parseSdrGet } from './sdr-get.js';

export type { BmcInfo } from './bmc-info.js';
export { parseBmcInfo } from './bmc-info.js';
export type { DcmiPowerReading } from './dcmi.js';
export { parseDcmiPowerReading } from './dcmi.js';
export type { SdrListRow } from './ipmitool.js';
export { parseIpmitoolSensor, parseSdrElist, parseSdrList, sensorsFromSdrRows } from './ipmitool.js';
export type { KeyValue } from './key-value.js';
export type { BmcLanConfig } from './lan.js';
export { lanConfigFromPairs, parseLanPrint } from './lan.js';
export type * from './model.js';
export type { HostPower } from './power.js';
export { pickHostPower } from './power.js';
export { parseFreeIpmiSensors, parseSdrGet };

type Parser = (text: string) => SensorListing;

const BY_PIPE_COLUMNS: Record<number, Parser> = {
  3: parseSdrList,
  5: parseSdrElist,
  6: parseFreeIpmiSensors,
  7: parseFreeIpmiSensors,
  10: parseIpmitoolSensor,
};

/** What a non-listing output is, for the error message. */
function notAListing(text: string): string {
  const keys = keyValueMap(keyValues(text));
  if (keys.has('instantaneous power reading')) return 'a DCMI power reading (ipmitool dcmi power reading); use parseDcmiPowerReading';
  if (keys.has('ip address source') || keys.has('mac address')) return 'a BMC LAN configuration (ipmitool lan print); use parseLanPrint';
  if (keys.has('firmware revision') || keys.has('ipmi version')) return 'BMC information (bmc-info / ipmitool mc info); use parseBmcInfo';
  return `an unrecognised format, first line: ${contentLines(text)[0]?.text.trim().slice(0, 120)}`;
}

/**
 * Any supported listing: ipmitool `sensor`, `sdr list`, `sdr elist`, `sdr get`, FreeIPMI table or CSV. The first
 * line that looks like a row decides. Throws a ProtocolError for empty output and for other outputs.
 */
export function parseSensorListing(text: string): SensorListing {
  const lines = contentLines(text);
  if (lines.length === 0) throw new ProtocolError('not a sensor listing: empty output');
  for (const { text: line } of lines) {
    const parser = line.includes('|') ? BY_PIPE_COLUMNS[pipeColumns(line).length] : undefined;
    if (parser) return parser(text);
    if (/^\d+,[^,]*,/.test(line)) return parseFreeIpmiSensors(text);
    if (/^\s*Sensor ID\s*:/.test(line)) return parseSdrGet(text);
  }
  throw new ProtocolError(`not a sensor listing: this is ${notAListing(text)}`);
}
