// Units and kinds: turn what the tool prints ("24 degrees C", "Volts", "%") into a base unit and a sensor kind.
// The unit decides when there is one; the name decides only for rows without a reading (`na`, `No Reading`).

import type { SensorKind, SensorThresholds, SensorUnit } from './model.js';

interface UnitInfo {
  unit: string;
  /** Null when the unit alone does not say (percent: fan duty cycle or CPU utilisation). */
  kind: SensorKind | null;
  toBase: (v: number) => number;
}

const same = (v: number) => v;
const UNIT_TABLE: [aliases: string[], info: UnitInfo][] = [
  [['degrees c', 'c'], { unit: 'celsius', kind: 'temperature', toBase: same }],
  [['degrees f', 'f'], { unit: 'celsius', kind: 'temperature', toBase: (f) => ((f - 32) * 5) / 9 }],
  [['degrees k', 'k'], { unit: 'celsius', kind: 'temperature', toBase: (k) => k - 273.15 }],
  [['rpm'], { unit: 'rpm', kind: 'fan', toBase: same }],
  [['volts', 'v'], { unit: 'volts', kind: 'voltage', toBase: same }],
  [['amps', 'a'], { unit: 'amperes', kind: 'current', toBase: same }],
  [['watts', 'w'], { unit: 'watts', kind: 'power', toBase: same }],
  [['percent', '%'], { unit: 'percent', kind: null, toBase: same }],
];
/** By lower-cased unit as ipmitool (`degrees C`, `Volts`) or FreeIPMI (`C`, `V`, `%`) prints it. */
const UNITS = new Map(UNIT_TABLE.flatMap(([aliases, info]) => aliases.map((alias) => [alias, info] as const)));

/** Units that mean "no unit": empty (ipmitool `na` rows), FreeIPMI's `N/A`. */
const NO_UNIT = new Set(['', 'n/a', 'na']);

// HPE iLO numbers its temperature sensors ("01-Inlet Ambient", "15.1-PCI 1-Netwo", "48-Mid HD Max").
const HPE_NUMBERED = /^\d+(?:\.\d+)?-/;
const TEMPERATURE_NAME = /temp|thrm|therm|ambient|inlet|exhaust|\bdts\b|margin/i;
const FAN_NAME = /fan|tach|duty ?cycle|blower/i;
const VOLTAGE_NAME = /\b\d+(?:\.\d+)?\s?v|\bv(?:cc|bat|core|dimm|tt|sb|cpu|pch|mem|in)|volt/i;
const CURRENT_NAME = /current|\bamps?\b/i;
const POWER_NAME = /power|pwr|watt/i;

/** Kind from the name alone, for rows that carry no unit (absent sensors print `na` and an empty unit). */
function kindFromName(name: string): SensorKind {
  if (HPE_NUMBERED.test(name) || TEMPERATURE_NAME.test(name)) return 'temperature';
  if (FAN_NAME.test(name)) return 'fan';
  if (VOLTAGE_NAME.test(name)) return 'voltage';
  if (CURRENT_NAME.test(name)) return 'current';
  if (POWER_NAME.test(name)) return 'power';
  return 'other';
}

export interface Measurement {
  value: number | null;
  unit: SensorUnit;
  kind: SensorKind;
  /** Converts a threshold printed in the same unit as the reading. */
  toBase: (v: number) => number;
}

/**
 * Value, base unit and kind of one reading. `hint` is the sensor name plus, for FreeIPMI, its type column
 * ("Fan"), used when the unit does not decide. `discrete` marks hex readings and `discrete` units.
 */
export function measure(raw: number | null, rawUnit: string, hint: string, discrete: boolean): Measurement {
  const key = rawUnit.trim().toLowerCase();
  if (discrete || key === 'discrete') return { value: raw, unit: null, kind: 'discrete', toBase: same };
  if (NO_UNIT.has(key)) return { value: raw, unit: null, kind: kindFromName(hint), toBase: same };
  const info = UNITS.get(key);
  if (!info) return { value: raw, unit: key, kind: 'other', toBase: same };
  const kind = info.kind ?? (FAN_NAME.test(hint) ? 'fan' : 'other');
  return { value: raw === null ? null : info.toBase(raw), unit: info.unit, kind, toBase: info.toBase };
}

export interface ReadingText {
  value: number | null;
  unit: string;
  discrete: boolean;
}

/**
 * A reading as `sdr list` / `sdr elist` / `sdr get` print it: "4920 RPM", "24 degrees C", "4920 (+/- 120) RPM",
 * "-60 degrees C", a discrete "0x00" / "0h", or a non-reading ("No Reading", "Not Readable", "Disabled", "na").
 */
export function parseReadingText(text: string): ReadingText {
  const t = text.trim();
  const hex = /^0x([0-9a-f]+)$|^([0-9a-f]+)h$/i.exec(t);
  if (hex) return { value: parseInt(hex[1] ?? hex[2]!, 16), unit: '', discrete: true };
  const num = /^(-?\d+(?:\.\d+)?)\s*(?:\(\+\/-\s*[\d.]+\)\s*)?(.*)$/.exec(t);
  if (num) return { value: Number(num[1]), unit: num[2]!, discrete: false };
  return { value: null, unit: '', discrete: false };
}

/** A number column (`22.000`, `-7.000`) or null for `na`, `N/A`, `Unspecified`, empty. */
export function numberOrNull(text: string): number | null {
  const t = text.trim();
  return /^-?\d+(?:\.\d+)?$/.test(t) ? Number(t) : null;
}

/** Threshold names in the column order of `ipmitool sensor` (lnr, lcr, lnc, unc, ucr, unr). */
const THRESHOLD_ORDER = ['lowerNonRecoverable', 'lowerCritical', 'lowerNonCritical', 'upperNonCritical', 'upperCritical', 'upperNonRecoverable'] as const;

/** Thresholds aligned with `THRESHOLD_ORDER`, converted like the reading; null when none is readable. */
export function thresholdsOf(values: readonly (number | null)[], toBase: (v: number) => number): SensorThresholds | null {
  const out: SensorThresholds = {};
  THRESHOLD_ORDER.forEach((key, i) => {
    const v = values[i];
    if (v !== null && v !== undefined) out[key] = toBase(v);
  });
  return Object.keys(out).length ? out : null;
}
