// smartctl's text output (`-a`, `-x`, `-H`, `-i`), for smartctl 6.x (no JSON, e.g. XCP-ng 8.2) and saved
// outputs. ATA, SCSI/SAS and NVMe, brief (`FLAGS`) and old (`0x0033 Pre-fail Always`) attribute tables.

import { attributePowerOnSeconds, attributeTemperature, sectorCounts } from './ata.js';
import { diskTypeOf } from './device.js';
import { type DeviceHint, STANDBY, emptyDisk, exitError, failedDisk, nvmeHealth, scsiTemperature, standbyExit } from './disk.js';
import { decodeExitStatus } from './exit-status.js';
import type { AtaAttribute, DiskProtocol, NvmeHealth, SmartDisk, SmartctlMessage } from './model.js';
import { countOf, leadingInteger } from './numbers.js';

export interface TextOptions extends DeviceHint {
  /** smartctl's exit code, which the text does not carry (the transport does). */
  exitStatus?: number;
}

/** Lines where smartctl says it could not talk to the device; the line itself is the clearest error. */
const OPEN_FAILURES = [
  /^(\S+): Unknown USB bridge .*/m,
  /^Smartctl open device: (\S+) failed: .*/m,
  /^(\S+): Unable to detect device type.*/m,
  /^(?:Smartctl: )?(?:Device )?Read (?:Device )?Identity Failed.*/im,
];

// ID# ATTRIBUTE_NAME FLAGS VALUE WORST THRESH FAIL RAW_VALUE               (brief: -x, --format=brief)
// ID# ATTRIBUTE_NAME FLAG VALUE WORST THRESH TYPE UPDATED WHEN_FAILED RAW_VALUE (old: -a)
const BRIEF_ROW = /^\s*(\d+)\s+(\S+)\s+[-A-Z]{6}\s+(\d+)\s+(\d+)\s+(\d+|---)\s+(\S+)\s+(.*?)\s*$/;
const OLD_ROW = /^\s*(\d+)\s+(\S+)\s+0x[0-9a-f]{4}\s+(\d+)\s+(\d+)\s+(\d+|---)\s+\S+\s+\S+\s+(\S+)\s+(.*?)\s*$/;

function attributeTable(lines: readonly string[]): AtaAttribute[] {
  const out: AtaAttribute[] = [];
  let inTable = false;
  for (const line of lines) {
    if (/^ID#\s+ATTRIBUTE_NAME/.test(line)) inTable = true;
    else if (line.trim() === '') inTable = false;
    const m = inTable ? (BRIEF_ROW.exec(line) ?? OLD_ROW.exec(line)) : null;
    if (!m) continue;
    out.push({
      id: Number(m[1]),
      name: m[2]!,
      value: Number(m[3]),
      worst: Number(m[4]),
      threshold: m[5] === '---' ? null : Number(m[5]),
      // brief: NOW / Past / -; old: FAILING_NOW / In_the_past / -
      failed: /now/i.test(m[6]!) ? 'now' : /past/i.test(m[6]!) ? 'past' : null,
      raw: m[7]!,
    });
  }
  return out;
}

/** `Key: value` lines (a space after the colon, so "hours:minutes 16003:18" is not one); first occurrence wins. */
function fields(lines: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of lines) {
    const m = /^([A-Za-z][^:]*?):\s+(.*?)\s*$/.exec(line);
    if (m && !map.has(m[1]!.toLowerCase())) map.set(m[1]!.toLowerCase(), m[2]!);
  }
  return map;
}

function protocolFromText(f: Map<string, string>, text: string, attrs: readonly AtaAttribute[]): DiskProtocol | null {
  if (f.has('model number') || /NVMe Log/.test(text)) return 'NVMe';
  if (f.has('device model') || attrs.length) return 'ATA';
  if (f.has('vendor') || f.has('product') || f.has('transport protocol')) return 'SCSI';
  return null;
}

function healthOf(f: Map<string, string>): boolean | null {
  const ata = f.get('smart overall-health self-assessment test result'); // ATA, NVMe: PASSED / FAILED!
  if (ata !== undefined) return /^PASSED/.test(ata);
  const scsi = f.get('smart health status'); // SCSI: OK, or the failure's description
  return scsi === undefined ? null : /^OK\b/.test(scsi);
}

function nvmeHealthOf(f: Map<string, string>): NvmeHealth {
  const warning = /^0x([0-9a-f]+)$/i.exec(f.get('critical warning') ?? '');
  return nvmeHealth({
    criticalWarning: warning ? parseInt(warning[1]!, 16) : null,
    percentageUsed: leadingInteger(f.get('percentage used')),
    availableSpare: leadingInteger(f.get('available spare')),
    availableSpareThreshold: leadingInteger(f.get('available spare threshold')),
    mediaErrors: countOf(f.get('media and data integrity errors')),
    errorLogEntries: countOf(f.get('error information log entries')),
    unsafeShutdowns: countOf(f.get('unsafe shutdowns')),
    dataUnitsRead: countOf(f.get('data units read')),
    dataUnitsWritten: countOf(f.get('data units written')),
  });
}

function temperatureOf(protocol: DiskProtocol | null, f: Map<string, string>, attrs: readonly AtaAttribute[]): number | null {
  if (protocol === 'NVMe') return leadingInteger(f.get('temperature'));
  if (protocol === 'SCSI') {
    return scsiTemperature(leadingInteger(f.get('current drive temperature')), leadingInteger(f.get('drive trip temperature')));
  }
  return attributeTemperature(attrs) ?? leadingInteger(f.get('current temperature')); // SCT status
}

function powerOnSecondsOf(protocol: DiskProtocol | null, f: Map<string, string>, text: string, attrs: readonly AtaAttribute[]): number | null {
  if (protocol === 'NVMe') {
    const hours = countOf(f.get('power on hours'));
    return hours === null ? null : hours * 3600;
  }
  if (protocol === 'SCSI') {
    const m = /Accumulated power on time, hours:minutes (\d+):(\d+)/.exec(text);
    return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 : null;
  }
  return attributePowerOnSeconds(attrs);
}

function warningsOf(lines: readonly string[]): SmartctlMessage[] {
  return lines.flatMap((line) => {
    const m = /^(?:==> WARNING|Warning): (.*?)\s*$/.exec(line);
    return m ? [{ text: m[1]!, severity: 'warning' }] : [];
  });
}

/** The text output of one smartctl run. Never throws: unusable output becomes `error`. */
export function parseSmartctlText(text: string, options: TextOptions = {}): SmartDisk {
  if (text.trim() === '') return failedDisk(options, 'empty output');
  const lines = text.split(/\r?\n/);
  const f = fields(lines);
  const attrs = attributeTable(lines);
  const protocol = protocolFromText(f, text, attrs);
  const exitStatus = options.exitStatus === undefined ? standbyExit(text) : decodeExitStatus(options.exitStatus);
  const inStandby = STANDBY.test(text);
  const failure = OPEN_FAILURES.map((re) => re.exec(text)).find((m) => m !== null);
  const messages = [...(failure ? [{ text: failure[0].trim(), severity: 'error' }] : []), ...warningsOf(lines)];
  const deviceType = options.deviceType ?? null;
  const usbBridge = failure && /Unknown USB bridge/.test(failure[0]);
  const vendorProduct = [f.get('vendor'), f.get('product')].filter(Boolean).join(' ');
  const sectors = sectorCounts(attrs);
  const healthy = healthOf(f);
  return {
    ...emptyDisk(),
    device: options.device ?? (failure?.[1]?.startsWith('/') ? failure[1] : null),
    deviceType,
    type: usbBridge && !deviceType ? 'usb' : diskTypeOf(deviceType, protocol, f.get('transport protocol') ?? null),
    protocol,
    model: f.get('device model') ?? f.get('model number') ?? (vendorProduct || null),
    serial: f.get('serial number') ?? null,
    firmware: f.get('firmware version') ?? f.get('revision') ?? null,
    capacityBytes: countOf(f.get('user capacity') ?? f.get('total nvm capacity') ?? f.get('namespace 1 size/capacity')),
    smartAvailable: f.has('smart support is') ? /^Available/.test(f.get('smart support is')!) : null,
    healthy,
    temperatureCelsius: temperatureOf(protocol, f, attrs),
    powerOnSeconds: powerOnSecondsOf(protocol, f, text, attrs),
    ...sectors,
    reallocatedSectors: sectors.reallocatedSectors ?? countOf(f.get('elements in grown defect list')),
    ataAttributes: attrs,
    nvme: protocol === 'NVMe' ? nvmeHealthOf(f) : null,
    inStandby,
    exitStatus,
    error:
      messages.find((m) => m.severity === 'error')?.text ??
      exitError(exitStatus, inStandby, messages) ??
      (protocol === null && healthy === null && !inStandby ? 'no SMART information in the output' : null),
    messages,
  };
}
