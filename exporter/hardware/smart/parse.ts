// Public entry of the SMART parsers. Every disk parser returns a `SmartDisk` and never throws: a disk that
// cannot be read is a disk with an `error`, so one bad disk never hides the others. smartctl's JSON (`--json`) and
// text outputs each have their parser; the transports know which one they asked for.

import { type TextOptions, parseSmartctlText } from './text.js';

export { isSafeDevice } from './device.js';
export type { DeviceHint } from './disk.js';
export { decodeExitStatus } from './exit-status.js';
export { diskFromSmartctlJson, parseSmartctlJson } from './json.js';
export type * from './model.js';
export { parsePluginInformation } from './plugin.js';
export type { DeviceScan, ScannedDevice } from './scan.js';
export { parseScanJson, parseScanText } from './scan.js';
export type { TextOptions };
export { parseSmartctlText };
