// FreeIPMI `ipmimonitoring` / `ipmi-sensors` listings, as a `|` table or `--comma-separated-output`:
// ID | Name | Type | State | Reading | Units | Event   (State only with `--output-sensor-state`; ipmimonitoring
// prints it by default). Reading and Units are `N/A` for event-only (discrete) sensors; events are quoted
// ('Presence detected' 'Power Supply Failure detected') or, with `--output-event-bitmask`, a hex mask (00C0h).

import { measure, numberOrNull } from './classify.js';
import { contentLines, junkWarning, listing } from './listing.js';
import type { SensorListing, SensorRow } from './model.js';
import { eventsState, statusState } from './state.js';

function eventTexts(field: string): string[] {
  // Curly quotes too: some saved listings went through a word processor.
  const quoted = [...field.matchAll(/['‘’]([^'‘’]*)['‘’]/g)].map((m) => m[1]!.trim()).filter(Boolean);
  if (quoted.length) return quoted;
  // `--output-event-bitmask` prints a hex mask (00C0h), whose meaning needs the sensor type: not a state text.
  return field === '' || field.toUpperCase() === 'N/A' || /^[0-9a-f]+h$/i.test(field) ? [] : [field];
}

function freeIpmiRow(cols: string[], separator: string): SensorRow {
  const withState = cols.length >= 7;
  const [id, name, type] = cols as [string, string, string];
  const [reading, units] = withState ? [cols[4]!, cols[5]!] : [cols[3]!, cols[4]!];
  const events = eventTexts(
    cols
      .slice(withState ? 6 : 5)
      .join(separator)
      .trim(),
  );
  const status = withState ? cols[3]! : '';
  const m = measure(numberOrNull(reading), units, `${name} ${type}`, units.toUpperCase() === 'N/A');
  return {
    name,
    kind: m.kind,
    value: m.value,
    unit: m.unit,
    status,
    state: withState ? statusState(status, name) : eventsState(events),
    thresholds: null,
    entityId: null,
    recordId: id,
    events,
  };
}

export function parseFreeIpmiSensors(text: string): SensorListing {
  const rows: SensorRow[] = [];
  const warnings: string[] = [];
  for (const line of contentLines(text)) {
    const separator = line.text.includes('|') ? '|' : ',';
    const cols = line.text.split(separator).map((c) => c.trim());
    if (cols[0] === 'ID') continue; // header
    if (cols.length >= 6 && /^\d+$/.test(cols[0]!)) rows.push(freeIpmiRow(cols, separator));
    else warnings.push(junkWarning(line));
  }
  return listing('freeipmi', rows, warnings);
}
