// `ipmitool sdr get <name>…`: one `key : value` block per sensor, with thresholds. Discrete sensors list their
// asserted states as `[Presence detected]` lines under `States Asserted`.

import { measure, numberOrNull, parseReadingText, thresholdsOf } from './classify.js';
import { type KeyValue, keyValueMap, keyValueOf } from './key-value.js';
import { isBlank, junkWarning, listing, numberedLines } from './listing.js';
import type { SensorListing, SensorRow } from './model.js';
import { eventsState, statusState, worstState } from './state.js';

interface Block {
  pairs: KeyValue[];
  states: string[];
}

/** The threshold keys as `sdr get` prints them (lower-cased), in `ipmitool sensor` column order (lnr … unr). */
const THRESHOLD_KEYS = [
  'lower non-recoverable',
  'lower critical',
  'lower non-critical',
  'upper non-critical',
  'upper critical',
  'upper non-recoverable',
];

function sdrGetRow({ pairs, states }: Block): SensorRow {
  const map = keyValueMap(pairs);
  const id = /^(.*?)\s*\((0x[0-9a-f]+)\)$/i.exec(map.get('sensor id') ?? '');
  const name = id ? id[1]! : (map.get('sensor id') ?? '');
  const typeKey = pairs.find((p) => /^sensor type/i.test(p.name));
  const reading = parseReadingText(map.get('sensor reading') ?? '');
  const discrete = reading.discrete || /\(discrete\)/i.test(typeKey?.name ?? '');
  const m = measure(reading.value, reading.unit, `${name} ${typeKey?.value ?? ''}`, discrete);
  // Discrete sensors have no Status line: their asserted states are all there is.
  const status = map.get('status') ?? '';
  return {
    name,
    kind: m.kind,
    value: m.value,
    unit: m.unit,
    status,
    state: status ? worstState(statusState(status, name), eventsState(states)) : eventsState(states),
    thresholds: thresholdsOf(THRESHOLD_KEYS.map((k) => numberOrNull(map.get(k) ?? '')), m.toBase),
    entityId: /^\S+/.exec(map.get('entity id') ?? '')?.[0] ?? null,
    recordId: id ? id[2]! : null,
    events: states,
  };
}

/** Blocks start at `Sensor ID` and end at a blank line; anything outside a block is a warning. */
export function parseSdrGet(text: string): SensorListing {
  const blocks: Block[] = [];
  const warnings: string[] = [];
  let current: Block | null = null;
  let inStates = false;
  for (const line of numberedLines(text)) {
    if (isBlank(line)) {
      current = null;
      continue;
    }
    const kv = keyValueOf(line.text);
    const state = /^\s*\[(.+)\]\s*$/.exec(line.text);
    if (kv?.name === 'Sensor ID') {
      current = { pairs: [kv], states: [] };
      blocks.push(current);
    } else if (kv && current) current.pairs.push(kv);
    else if (state && current && inStates) current.states.push(state[1]!);
    else warnings.push(junkWarning(line));
    if (kv) inStates = kv.name === 'States Asserted';
  }
  return listing('ipmitool-sdr-get', blocks.map(sdrGetRow), warnings);
}
