// The IPMI sensor model every parser produces, whatever the tool (ipmitool, FreeIPMI) or the transport (SSH,
// XAPI plugin). Values are in base units so the metrics layer only picks a family by `kind` and `unit`.

export type SensorKind = 'temperature' | 'fan' | 'voltage' | 'current' | 'power' | 'discrete' | 'other';

/** Worst-first order matters: see `worstState`. `unknown` = no reading, sensor disabled, or a state we cannot judge. */
export type SensorState = 'ok' | 'warning' | 'critical' | 'unknown';

/**
 * Base unit of `value`: `celsius`, `rpm`, `volts`, `amperes`, `watts`, `percent`; any other IPMI unit is kept
 * lower-cased (`feet`, `cfm`, `unspecified`). Null for discrete sensors and sensors without a reading.
 */
export type SensorUnit = string | null;

/** Threshold values in the unit of the reading; absent keys were `na` / not readable. */
export interface SensorThresholds {
  lowerNonRecoverable?: number;
  lowerCritical?: number;
  lowerNonCritical?: number;
  upperNonCritical?: number;
  upperCritical?: number;
  upperNonRecoverable?: number;
}

export interface IpmiSensor {
  /** The name exactly as the BMC reports it (HPE prefixes such as `01-` kept). */
  name: string;
  /** Unique within one listing: the name, or the name + ` #2`, ` #3`… for repeated names (Dell's two `Temp`). */
  sensor: string;
  /** From the unit; from the name only when there is none (absent sensors), so value families must check `unit`. */
  kind: SensorKind;
  /** In `unit`; for discrete sensors the raw reading byte (`0x01` → 1) when there is one; null without a reading. */
  value: number | null;
  unit: SensorUnit;
  /** The status column as printed: `ok`, `nc`, `cr`, `nr`, `ns`, `na`, `lnc`…, a hex bitmask `0x0180`, or FreeIPMI's `Nominal`. */
  status: string;
  state: SensorState;
  thresholds: SensorThresholds | null;
  /** IPMI entity id (`7.1`, from `sdr elist` / `sdr get`), useful to tell same-name sensors apart. */
  entityId: string | null;
  /** Sensor number / record id as the tool prints it (`0Eh`, `0x30`, FreeIPMI's `59`). */
  recordId: string | null;
  /** Discrete state texts (`Presence detected`, `Failure detected`, `Fully Redundant`) when the tool prints them. */
  events: string[];
}

export type SensorListingFormat = 'ipmitool-sensor' | 'ipmitool-sdr-list' | 'ipmitool-sdr-elist' | 'ipmitool-sdr-get' | 'freeipmi';

export interface SensorListing {
  format: SensorListingFormat;
  sensors: IpmiSensor[];
  /** Lines that were not sensor rows (`Unable to send command…`), as `line N: text`. Blank lines and headers are not warnings. */
  warnings: string[];
}

/** One parsed row before names are made unique: everything but `sensor`. */
export type SensorRow = Omit<IpmiSensor, 'sensor'>;
