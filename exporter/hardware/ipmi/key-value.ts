// `Key   : value` blocks, as ipmitool (`lan print`, `sdr get`, `dcmi power reading`, `mc info`) and FreeIPMI
// (`bmc-info`) print them.

/** Also the shape of the XCP-ng `ipmitool.py` plugin answers (`get_ipmi_lan`, the `info` of `get_sensor`). */
export interface KeyValue {
  name: string;
  value: string;
}

/** The value may itself contain colons (MAC addresses, times); a line without a key (`   : User : MD5`) is null. */
function keyValueOf(line: string): KeyValue | null {
  const m = /^\s*([^\s:][^:]*?)\s*:\s*(.*?)\s*$/.exec(line);
  return m ? { name: m[1]!, value: m[2]! } : null;
}

/** Every `key : value` line in order; continuation lines, legends and lines without a colon are left out. */
export function keyValues(text: string): KeyValue[] {
  return text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .map(keyValueOf)
    .filter((kv): kv is KeyValue => kv !== null);
}

/** Lookup by key, case-insensitive; the first occurrence wins. */
export function keyValueMap(pairs: readonly KeyValue[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const { name, value } of pairs) if (!map.has(name.toLowerCase())) map.set(name.toLowerCase(), value);
  return map;
}
