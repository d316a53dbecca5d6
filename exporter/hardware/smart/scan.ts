// Device discovery: `smartctl --scan[-open]` as JSON or text. Names and types go back on a command line (over
// SSH), so anything outside the allow-lists of `isSafeDevice` is refused here, with a warning.

import { isSafeDevice, protocolOf } from './device.js';
import { arr, obj, parseJsonObject, str } from './json-fields.js';
import type { DiskProtocol } from './model.js';

export interface ScannedDevice {
  /** `/dev/sda`, `/dev/bus/0` (several disks behind one controller share it: the type tells them apart) */
  name: string;
  /** The `-d` value to pass back: `sat`, `nvme`, `megaraid,1` */
  type: string;
  /** `/dev/sda [SAT]`, `/dev/bus/0 [megaraid_disk_01]` */
  infoName: string | null;
  protocol: DiskProtocol | null;
  /** `--scan-open` could not open it ("Permission denied"); such a device is listed but will not answer. */
  openError: string | null;
}

export interface DeviceScan {
  devices: ScannedDevice[];
  /** Refused devices and lines that are not device lines. */
  warnings: string[];
  /** The whole output was unusable (not JSON, empty); devices is then empty. */
  error: string | null;
}

function accept(device: ScannedDevice, devices: ScannedDevice[], warnings: string[]): void {
  if (isSafeDevice(device.name, device.type)) {
    devices.push(device);
    return;
  }
  const what = `device ${JSON.stringify(device.name)} with type ${JSON.stringify(device.type)}`;
  warnings.push(`refused ${what}: not a plain device path and smartctl type`);
}

/** `smartctl --scan --json` / `--scan-open --json`. */
export function parseScanJson(text: string): DeviceScan {
  const parsed = parseJsonObject(text);
  if ('error' in parsed) return { devices: [], warnings: [], error: parsed.error };
  const devices: ScannedDevice[] = [];
  const warnings: string[] = [];
  arr(parsed.doc.devices).forEach((entry, i) => {
    const d = obj(entry);
    const name = str(d?.name);
    const type = str(d?.type);
    if (!d || !name || !type) {
      warnings.push(`devices[${i}]: no name or type`);
      return;
    }
    accept({ name, type, infoName: str(d.info_name), protocol: protocolOf(str(d.protocol)), openError: str(d.open_error) }, devices, warnings);
  });
  return { devices, warnings, error: null };
}

// "/dev/sda -d sat # /dev/sda [SAT], ATA device"; --scan-open comments out what it could not open:
// "# /dev/nvme0 -d nvme # /dev/nvme0, NVMe device open failed: Permission denied"
const SCAN_LINE = /^(#\s*)?(\S+)\s+-d\s+(\S+)\s+#\s*(.*?)\s*$/;
const SCAN_COMMENT = /^(.*?), (\S+) device(?: open failed: (.*))?$/;

/** `smartctl --scan` / `--scan-open` text (also what the XCP-ng plugin runs). */
export function parseScanText(text: string): DeviceScan {
  const devices: ScannedDevice[] = [];
  const warnings: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const m = SCAN_LINE.exec(line);
    if (!m) {
      warnings.push(`line ${i + 1}: not a device line: ${line.trim()}`);
      return;
    }
    const comment = SCAN_COMMENT.exec(m[4]!);
    const openError = comment?.[3] ?? (m[1] ? m[4]! : null);
    accept({ name: m[2]!, type: m[3]!, infoName: comment?.[1] ?? null, protocol: protocolOf(comment?.[2]), openError }, devices, warnings);
  });
  return { devices, warnings, error: null };
}
