// Masakari's time formats: it accepts ISO-8601 and "YYYY-MM-DD HH:MM:SS", and answers "YYYY-MM-DDTHH:MM:SS.ffffff"
// (UTC, no zone designator).

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Epoch ms, or undefined when `text` is not a date-time. A time without zone is UTC, as in Masakari. */
export function parseMasakariTime(text: string): number | undefined {
  const m = DATE_TIME.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s ?? '00'}.${(frac ?? '0').padEnd(3, '0').slice(0, 3)}${normalizeZone(zone)}`;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

function normalizeZone(zone: string | undefined): string {
  if (!zone || zone.toUpperCase() === 'Z') return 'Z';
  const digits = zone.slice(1).replace(':', '');
  return `${zone[0]}${digits.slice(0, 2)}:${digits.slice(2, 4) || '00'}`;
}

export function formatMasakariTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000');
}

/** The progress_details timestamp format of the samples ("2019-03-07 13:54:28.842031"). */
export function formatDetailTime(ms: number): string {
  return formatMasakariTime(ms).replace('T', ' ');
}
