// Public entry of the IPMI parsers. Each transport knows which command it ran and calls that command's parser:
// ipmitool `sensor`, `sdr list`, `sdr elist`, FreeIPMI `ipmi-sensors`, and `dcmi power reading`.

export type { DcmiPowerReading } from './dcmi.js';
export { parseDcmiPowerReading } from './dcmi.js';
export { parseFreeIpmiSensors } from './freeipmi.js';
export type { SdrListRow } from './ipmitool.js';
export { parseIpmitoolSensor, parseSdrElist, parseSdrList, sensorsFromSdrRows } from './ipmitool.js';
export type * from './model.js';
export type { HostPower } from './power.js';
export { pickHostPower } from './power.js';
