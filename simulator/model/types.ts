// XAPI object records as the simulated pool stores them: field names and value shapes as XAPI sends them
// (refs are "OpaqueRef:…" strings, dates ISO-8601 "YYYYMMDDTHH:MM:SSZ", maps are plain objects).

export type Ref = string;
export const NULL_REF: Ref = 'OpaqueRef:NULL';

export type XapiClass = 'pool' | 'host' | 'host_metrics' | 'VM' | 'VM_metrics' | 'VM_guest_metrics' | 'VIF' | 'VBD' | 'VDI' | 'SR' | 'PBD' | 'PIF' | 'network';

export const XAPI_CLASSES: readonly XapiClass[] = [
  'pool',
  'host',
  'host_metrics',
  'VM',
  'VM_metrics',
  'VM_guest_metrics',
  'VIF',
  'VBD',
  'VDI',
  'SR',
  'PBD',
  'PIF',
  'network',
];

export type XapiValue = string | number | boolean | null | XapiValue[] | { [k: string]: XapiValue };
export type XapiRecord = { uuid: string } & Record<string, XapiValue>;

export type PowerState = 'Halted' | 'Paused' | 'Running' | 'Suspended';

/** XAPI's date format, as used in records (`20260101T12:00:00Z`). */
export function xapiDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}
