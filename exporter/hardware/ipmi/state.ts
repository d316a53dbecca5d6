// Sensor state (ok / warning / critical / unknown) from what the tools print: ipmitool's status codes, the
// asserted-state bitmask of discrete sensors, FreeIPMI's state column, and discrete event texts.

import type { SensorState } from './model.js';

const RANK: Record<SensorState, number> = { ok: 0, unknown: 1, warning: 2, critical: 3 };

export function worstState(...states: SensorState[]): SensorState {
  return states.reduce<SensorState>((worst, s) => (RANK[s] > RANK[worst] ? s : worst), 'ok');
}

/**
 * ipmitool status codes (`ok`, `nc`/`lnc`/`unc`, `cr`/`lcr`/`ucr`, `nr`/`lnr`/`unr`; `sdr elist` prints the
 * l/u forms), `ns` (no reading / disabled) and `na`; FreeIPMI's `Nominal` / `Warning` / `Critical` / `N/A`;
 * and the hex bitmask ipmitool prints for discrete sensors in `ipmitool sensor` (see `discreteState`).
 */
export function statusState(status: string, name: string): SensorState {
  const s = status.trim().toLowerCase();
  if (s === 'ok' || s === 'nominal') return 'ok';
  if (/^[lu]?nc$/.test(s) || s === 'warning') return 'warning';
  if (/^[lu]?(cr|nr)$/.test(s) || s === 'critical') return 'critical';
  if (/^0x[0-9a-f]{1,4}$/.test(s)) return discreteState(name, parseInt(s, 16));
  return 'unknown';
}

// For a discrete sensor `ipmitool sensor` prints bytes 3 and 4 of the Get Sensor Reading answer as `0xAABB`:
// AA = states 0-7 asserted, BB bits 0-6 = states 8-14 (bit 7 is reserved and many BMCs set it, hence the
// common 0x..80). What a state offset means depends on the sensor type, which this listing does not print, so
// the type is recognised from the name for the families whose meaning is fixed by the IPMI spec (table 42-3:
// sensor-specific offsets; table 42-2: generic redundancy / presence). Elsewhere an asserted state is unknown.
const O = 'ok',
  W = 'warning',
  C = 'critical';
const DISCRETE_FAMILIES: { name: RegExp; offsets: SensorState[] }[] = [
  // generic "redundancy": fully redundant, lost, degraded, non-redundant sufficient ×2, insufficient, degraded ×2
  { name: /redundan|^fans$|^power supplies$/i, offsets: [O, W, W, W, W, C, W, W] },
  // generic "device presence": removed/absent, inserted/present — an empty slot is not a fault
  { name: /presen/i, offsets: [O, O] },
  // power supply: presence, failure, predictive failure, AC lost, input lost/out of range, out of range,
  // config error, standby
  { name: /^(?:ps|psu|power supply)[ _]?\d+(?:[ _]status)?$/i, offsets: [O, C, W, C, C, W, W, O] },
  // processor: IERR, thermal trip, FRB1-3, config error, uncorrectable, presence, disabled, terminator,
  // throttled, MCE, corrected MCE
  { name: /^(?:cpu|proc(?:essor)?)[ _]?\d*[ _]?stat/i, offsets: [C, C, C, C, C, C, C, O, W, O, W, C, W] },
  // memory: correctable ECC, uncorrectable, parity, scrub failed, disabled, ECC log limit, presence,
  // config error, spare, throttled, overtemperature
  { name: /^mem(?:ory)?[ _]?\w*?stat/i, offsets: [W, C, C, C, W, W, O, W, O, W, C] },
  // drive slot: presence, fault, predictive failure, hot spare, check in progress, in critical array,
  // in failed array, rebuild, rebuild aborted
  { name: /^(?:dr|drive)[ _]?\w*?stat/i, offsets: [O, C, W, O, O, C, C, W, C] },
  // physical security: chassis, drive bay, I/O card, processor area intrusion, LAN leash lost, dock, fan area
  { name: /intru/i, offsets: [W, W, W, W, W, W, W] },
  // battery: low, failed, presence
  { name: /batt|megacell/i, offsets: [W, C, O] },
];

function assertedOffsets(bitmask: number): number[] {
  const states = ((bitmask >> 8) & 0xff) | ((bitmask & 0x7f) << 8);
  const out: number[] = [];
  for (let bit = 0; bit < 15; bit++) if (states & (1 << bit)) out.push(bit);
  return out;
}

/** No asserted state is ok (nothing signalled); asserted states are judged only for the families above. */
function discreteState(name: string, bitmask: number): SensorState {
  const offsets = assertedOffsets(bitmask);
  if (offsets.length === 0) return 'ok';
  const family = DISCRETE_FAMILIES.find((f) => f.name.test(name));
  if (!family) return 'unknown';
  return worstState(...offsets.map((o) => family.offsets[o] ?? 'unknown'));
}

// Discrete state texts as ipmitool (`sdr elist`) and FreeIPMI print them. First match wins, so "Non-Critical"
// is a warning before "Critical" is critical, and "Uncorrectable ECC" is critical before "Correctable ECC" warns.
const CRITICAL_EVENT = /critical|non-?recoverable|failure detected|failed|(?:input|ac) lost|uncorrectable|\bierr\b|thermal trip|fault|insufficient/i;
const WARNING_EVENT = /predictive failure|correctable|non-?redundant|redundancy (?:lost|degraded)|degraded|intrusion|throttl|out-of-range|battery low|rebuild/i;
const EVENT_SEVERITY: [RegExp, SensorState][] = [
  [/non-?critical/i, 'warning'],
  [CRITICAL_EVENT, 'critical'],
  [WARNING_EVENT, 'warning'],
];

/** Worst state signalled by discrete event texts; texts that signal nothing bad (presence, running, OK) are ok. */
export function eventsState(events: readonly string[]): SensorState {
  return worstState(...events.map((e) => EVENT_SEVERITY.find(([re]) => re.test(e))?.[1] ?? 'ok'));
}
