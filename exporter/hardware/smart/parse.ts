// Public entry of the SMART parsers. Every disk parser returns a `SmartDisk` and never throws: a disk that
// cannot be read is a disk with an `error`, so one bad disk never hides the others.

import { parseSmartctlJson } from './json.js';
import type { SmartDisk } from './model.js';
import { type TextOptions, parseSmartctlText } from './text.js';

export { isSafeDevice } from './device.js';
export type { DeviceHint } from './disk.js';
export { decodeExitStatus } from './exit-status.js';
export { diskFromSmartctlJson, parseSmartctlJson } from './json.js';
export type * from './model.js';
export type { PluginHealth } from './plugin.js';
export { parsePluginHealth, parsePluginInformation } from './plugin.js';
export type { DeviceScan, ScannedDevice } from './scan.js';
export { parseScanJson, parseScanText } from './scan.js';
export type { TextOptions };
export { parseSmartctlText };

/**
 * Either output of one smartctl run: text output starts with smartctl's banner ("smartctl 7.4 2023-08-01 …"),
 * JSON with `{`. For JSON the exit status is read from the document, not from `options`.
 */
export function parseSmartctlOutput(text: string, options: TextOptions = {}): SmartDisk {
  const json = !/^\s*smartctl \d/.test(text) && /^\s*\{/m.test(text);
  return json ? parseSmartctlJson(text, options) : parseSmartctlText(text, options);
}
