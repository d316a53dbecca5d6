// What the ATA attribute table says about sectors, temperature and age. The raw value is read as smartctl
// formats it (drivedb-aware), the same way from JSON (`raw.string`) and from text.

import { leadingInteger } from './numbers.js';
import type { AtaAttribute, SmartDisk } from './model.js';

const REALLOCATED = 5;
const POWER_ON = 9;
const AIRFLOW_TEMPERATURE = 190;
const TEMPERATURE = 194;
const PENDING = 197;
const OFFLINE_UNCORRECTABLE = 198;

/** smartctl renames attributes its drive database knows to be garbage ("Bogus_Current_Pend_Sect" on MX500). */
const BOGUS = /^bogus_/i;

function rawCount(attrs: readonly AtaAttribute[], id: number): number | null {
  const attr = attrs.find((a) => a.id === id);
  return attr && !BOGUS.test(attr.name) ? leadingInteger(attr.raw) : null;
}

type SectorCounts = Pick<SmartDisk, 'reallocatedSectors' | 'pendingSectors' | 'offlineUncorrectableSectors'>;

export function sectorCounts(attrs: readonly AtaAttribute[]): SectorCounts {
  return {
    reallocatedSectors: rawCount(attrs, REALLOCATED),
    pendingSectors: rawCount(attrs, PENDING),
    offlineUncorrectableSectors: rawCount(attrs, OFFLINE_UNCORRECTABLE),
  };
}

/** 194 Temperature_Celsius, else 190 Airflow_Temperature_Cel; "34 (Min/Max 14/79)" → 34. */
export function attributeTemperature(attrs: readonly AtaAttribute[]): number | null {
  return rawCount(attrs, TEMPERATURE) ?? rawCount(attrs, AIRFLOW_TEMPERATURE);
}

// Attribute 9 counts hours on most drives; its name says when it does not.
const POWER_ON_UNIT: [RegExp, number][] = [
  [/half_minutes/i, 30],
  [/minutes/i, 60],
  [/seconds/i, 1],
  [/hours/i, 3600],
];

/** "2988", "6585h+55m+23.234s" (some drives print hours+minutes+seconds) → seconds. */
export function attributePowerOnSeconds(attrs: readonly AtaAttribute[]): number | null {
  const attr = attrs.find((a) => a.id === POWER_ON);
  const unit = attr && POWER_ON_UNIT.find(([re]) => re.test(attr.name))?.[1];
  if (!attr || !unit) return null;
  const hms = /^(\d+)h\+(\d+)m\+(\d+(?:\.\d+)?)s/.exec(attr.raw);
  if (hms) return Number(hms[1]) * 3600 + Number(hms[2]) * 60 + Math.floor(Number(hms[3]));
  const n = leadingInteger(attr.raw);
  return n === null ? null : n * unit;
}
