// Shared by the listing parsers: line splitting, and the final step that gives every row a unique `sensor` key.

import type { IpmiSensor, SensorListing, SensorListingFormat, SensorRow } from './model.js';

export interface Line {
  /** 1-based, for warnings. */
  number: number;
  text: string;
}

/** All lines, without a byte-order mark or trailing `\r`. */
export function numberedLines(text: string): Line[] {
  return text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .map((t, i) => ({ number: i + 1, text: t.replace(/\r$/, '') }));
}

export const isBlank = (line: Line) => line.text.trim() === '';

export function contentLines(text: string): Line[] {
  return numberedLines(text).filter((l) => !isBlank(l));
}

export function pipeColumns(text: string): string[] {
  return text.split('|').map((c) => c.trim());
}

export function junkWarning(line: Line): string {
  return `line ${line.number}: not a sensor row: ${line.text.trim()}`;
}

/**
 * Make names unique without losing a row: the first keeps its name, repeats get ` #2`, ` #3`… (BMCs really do
 * list the same name twice: Dell's per-CPU `Temp`, Supermicro's repeated `FAN3`; a duplicate label set would
 * fail the whole scrape).
 */
export function uniqueSensors(rows: readonly SensorRow[]): IpmiSensor[] {
  const taken = new Set<string>();
  const seen = new Map<string, number>();
  return rows.map((row) => {
    let n = seen.get(row.name) ?? 0;
    let key: string;
    do {
      n += 1;
      key = n === 1 ? row.name : `${row.name} #${n}`;
    } while (taken.has(key));
    seen.set(row.name, n);
    taken.add(key);
    return { ...row, sensor: key };
  });
}

export function listing(format: SensorListingFormat, rows: readonly SensorRow[], warnings: string[]): SensorListing {
  return { format, sensors: uniqueSensors(rows), warnings };
}
