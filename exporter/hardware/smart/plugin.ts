// The XCP-ng 8.3 `smartctl.py` XAPI plugin (host.call_plugin): its answers are strings holding JSON keyed
// "<device>:<type>" ("/dev/bus/0:megaraid,1"), built from `smartctl --scan` then one smartctl run per device.

import { ProtocolError } from '../../../core/errors.js';
import { failedDisk } from './disk.js';
import { obj, parseJsonObject } from './json-fields.js';
import { diskFromSmartctlJson } from './json.js';
import type { SmartDisk } from './model.js';

/** "/dev/bus/0:megaraid,1" → name and type, split at the last `:` (types never contain one; by-path names may). */
function splitKey(key: string): { device: string; deviceType?: string } {
  const at = key.lastIndexOf(':');
  return at > 0 ? { device: key.slice(0, at), deviceType: key.slice(at + 1) } : { device: key };
}

function entries(answer: string, fn: string): [string, unknown][] {
  const parsed = parseJsonObject(answer);
  if ('error' in parsed) throw new ProtocolError(`smartctl.py ${fn}: ${parsed.error}`);
  return Object.entries(parsed.doc);
}

/** `smartctl.py information`: `smartctl -j -a` per device. One bad device does not spoil the others. */
export function parsePluginInformation(answer: string): SmartDisk[] {
  return entries(answer, 'information').map(([key, value]) => {
    const doc = obj(value);
    const hint = splitKey(key);
    return doc ? diskFromSmartctlJson(doc, hint) : failedDisk(hint, `plugin returned ${JSON.stringify(value)} instead of smartctl JSON`);
  });
}
