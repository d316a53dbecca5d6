// Masakari's time formats: it accepts ISO-8601 and "YYYY-MM-DD HH:MM:SS", and answers "YYYY-MM-DDTHH:MM:SS.ffffff"
// (UTC, no zone designator).

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * A real calendar date-time (ISO-8601 / RFC 3339, or "YYYY-MM-DD HH:MM:SS") as epoch ms, or undefined. A time without
 * zone is UTC, as in Masakari. `2026-02-30T10:00:00` is refused (Date.parse would roll it over to March 2).
 */
export function parseMasakariTime(text: string): number | undefined {
  if (text.length > 64) return undefined;
  const m = DATE_TIME.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s ?? '0'].map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (zone && zone.toUpperCase() !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const [oh, om] = [Number(digits.slice(0, 2)), Number(digits.slice(2, 4) || '0')];
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, Number((frac ?? '0').padEnd(3, '0').slice(0, 3))) - offsetMinutes * 60_000;
  // Date.UTC maps years 0-99 to 1900-1999: such years are not times we take.
  return year < 1000 || !Number.isFinite(ms) ? undefined : ms;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

export function formatMasakariTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000');
}

/** The progress_details timestamp format of the samples ("2019-03-07 13:54:28.842031"). */
export function formatDetailTime(ms: number): string {
  return formatMasakariTime(ms).replace('T', ' ');
}
