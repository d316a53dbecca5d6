// ipmitool's pipe-separated listings: `sensor` (10 columns), `sdr list` (3) and `sdr elist` (5).

import { measure, numberOrNull, parseReadingText, thresholdsOf } from './classify.js';
import { contentLines, junkWarning, listing, pipeColumns } from './listing.js';
import type { SensorListing, SensorRow } from './model.js';
import { eventsState, statusState, worstState } from './state.js';

/** `ipmitool sensor` / `sensor list`: name | reading | unit | status | lnr | lcr | lnc | unc | ucr | unr. */
export function parseIpmitoolSensor(text: string): SensorListing {
  const rows: SensorRow[] = [];
  const warnings: string[] = [];
  for (const line of contentLines(text)) {
    const cols = pipeColumns(line.text);
    if (cols.length !== 10) {
      warnings.push(junkWarning(line));
      continue;
    }
    const [name, reading, unit, status] = cols as [string, string, string, string];
    const hex = /^0x[0-9a-f]+$/i.test(reading);
    const m = measure(hex ? parseInt(reading, 16) : numberOrNull(reading), unit, name, hex);
    rows.push({
      name,
      kind: m.kind,
      value: m.value,
      unit: m.unit,
      status,
      state: statusState(status, name),
      thresholds: thresholdsOf(cols.slice(4).map(numberOrNull), m.toBase),
      entityId: null,
      recordId: null,
      events: [],
    });
  }
  return listing('ipmitool-sensor', rows, warnings);
}

/** One `sdr list` row; also the shape the XCP-ng `ipmitool.py` plugin's `get_all_sensors` returns. */
export interface SdrListRow {
  name: string;
  /** "4920 RPM", "24 degrees C", "0x00", "Not Readable" */
  value: string;
  /** The status column: ok, ns, nc, cr… */
  event: string;
}

function sdrListSensor({ name, value, event }: SdrListRow): SensorRow {
  const r = parseReadingText(value);
  const m = measure(r.value, r.unit, name, r.discrete);
  const status = event.trim();
  const state = statusState(status, name);
  return { name, kind: m.kind, value: m.value, unit: m.unit, status, state, thresholds: null, entityId: null, recordId: null, events: [] };
}

/** Rows already split, e.g. the JSON of the XCP-ng plugin's `get_all_sensors`. */
export function sensorsFromSdrRows(rows: readonly SdrListRow[]): SensorListing {
  return listing('ipmitool-sdr-list', rows.map(sdrListSensor), []);
}

/** `ipmitool sdr` / `sdr list`: name | reading with unit | status. */
export function parseSdrList(text: string): SensorListing {
  const rows: SensorRow[] = [];
  const warnings: string[] = [];
  for (const line of contentLines(text)) {
    const cols = pipeColumns(line.text);
    if (cols.length === 3) rows.push(sdrListSensor({ name: cols[0]!, value: cols[1]!, event: cols[2]! }));
    else warnings.push(junkWarning(line));
  }
  return listing('ipmitool-sdr-list', rows, warnings);
}

const NO_READING = /^(?:no reading|not readable|disabled)$/i;

/**
 * `ipmitool sdr elist [full]`: name | sensor number (0Eh) | status | entity | description, where the
 * description is a reading ("20 degrees C"), a reading then discrete states ("0 Watts, Presence detected,
 * Failure detected"), discrete states only ("Fully Redundant"), "No Reading" / "Disabled", or empty.
 */
export function parseSdrElist(text: string): SensorListing {
  const rows: SensorRow[] = [];
  const warnings: string[] = [];
  for (const line of contentLines(text)) {
    const cols = pipeColumns(line.text);
    if (cols.length !== 5 || !/^[0-9a-f]+h$/i.test(cols[1]!)) {
      warnings.push(junkWarning(line));
      continue;
    }
    const [name, recordId, status, entityId, description] = cols as [string, string, string, string, string];
    const parts = NO_READING.test(description) || description === '' ? [] : description.split(',').map((p) => p.trim());
    const reading = parseReadingText(parts[0] ?? '');
    const hasReading = reading.value !== null;
    const events = hasReading ? parts.slice(1) : parts;
    // An empty description on a readable sensor, or states without a number: a discrete sensor.
    const discrete = reading.discrete || (!hasReading && (events.length > 0 || (description === '' && status === 'ok')));
    const m = measure(reading.value, reading.unit, name, discrete);
    rows.push({
      name,
      kind: m.kind,
      value: m.value,
      unit: m.unit,
      status,
      state: worstState(statusState(status, name), eventsState(events)),
      thresholds: null,
      entityId,
      recordId,
      events,
    });
  }
  return listing('ipmitool-sdr-elist', rows, warnings);
}
