// Device names and types: validated before they reach a command line, and mapped to the `type` label.

import type { DiskProtocol, DiskType } from './model.js';

// A path under /dev made of plain path characters (by-id and by-path names use `-_.:+`); no `..` anywhere.
const DEVICE_NAME = /^\/dev(?:\/[A-Za-z0-9_.:+-]+)+$/;
// smartctl -d values: `sat`, `sat,12`, `megaraid,0`, `sat+megaraid,0`, `usbjmicron,x,0`, `nvme,0x1`, `hpt,1/1/3`.
const DEVICE_TYPE = /^[a-z0-9]+(?:,[a-z0-9/]+)*(?:\+[a-z0-9]+(?:,[a-z0-9/]+)*)?$/;

/**
 * Whether a device name and type from a scan are safe to put on a (remote shell) command line as they are:
 * strict allow-lists, so no quoting is ever needed. Anything else is refused, not escaped.
 */
export function isSafeDevice(name: string, type: string): boolean {
  return name.length <= 255 && DEVICE_NAME.test(name) && !name.includes('..') && type.length <= 64 && DEVICE_TYPE.test(type);
}

const RAID_CONTROLLERS = /^(?:cciss|areca|3ware|hpt|aacraid)\b/;

/** The `type` label, from smartctl's device type when known, else from the protocol. */
export function diskTypeOf(deviceType: string | null, protocol: DiskProtocol | null, scsiTransport: string | null): DiskType {
  const t = deviceType?.toLowerCase() ?? '';
  if (t.includes('megaraid')) return 'megaraid';
  if (RAID_CONTROLLERS.test(t)) return 'raid';
  if (/^(?:usb|snt)/.test(t)) return 'usb';
  if (/^sat\b/.test(t)) return 'sat';
  if (/^ata\b/.test(t) || (!t && protocol === 'ATA')) return 'ata';
  if (/^nvme\b/.test(t) || (!t && protocol === 'NVMe')) return 'nvme';
  if (t === 'scsi' || (!t && protocol === 'SCSI')) return /^sas\b/i.test(scsiTransport ?? '') ? 'sas' : 'scsi';
  return 'unknown';
}

const PROTOCOLS: readonly DiskProtocol[] = ['ATA', 'SCSI', 'NVMe'];

/** smartctl's protocol name (`device.protocol`, or the scan comment's "ATA device"); null for anything else. */
export function protocolOf(text: string | null | undefined): DiskProtocol | null {
  return PROTOCOLS.find((p) => p === text) ?? null;
}
