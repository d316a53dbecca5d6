// `smartctl --json` (`-a`, `-x`, `-H`, `--info --health --attributes`), smartctl 7.0 and later.

import { sectorCounts } from './ata.js';
import { diskTypeOf, protocolOf } from './device.js';
import { type DeviceHint, STANDBY, emptyDisk, exitError, failedDisk, nvmeHealth, scsiTemperature } from './disk.js';
import { decodeExitStatus } from './exit-status.js';
import { type JsonObject, arr, bool, num, obj, parseJsonObject, str } from './json-fields.js';
import type { AtaAttribute, DiskProtocol, NvmeHealth, SmartDisk, SmartctlMessage } from './model.js';

function messagesOf(smartctl: JsonObject | undefined): SmartctlMessage[] {
  return arr(smartctl?.messages).flatMap((m) => {
    const text = str(obj(m)?.string);
    return text ? [{ text, severity: str(obj(m)?.severity) ?? 'information' }] : [];
  });
}

function ataAttributes(doc: JsonObject): AtaAttribute[] {
  return arr(obj(doc.ata_smart_attributes)?.table).flatMap((row) => {
    const a = obj(row);
    const id = num(a?.id);
    if (!a || id === null) return [];
    const raw = obj(a.raw);
    const failed = str(a.when_failed);
    return [
      {
        id,
        name: str(a.name) ?? '',
        value: num(a.value),
        worst: num(a.worst),
        threshold: num(a.thresh),
        failed: failed === 'now' || failed === 'past' ? failed : null,
        raw: str(raw?.string) ?? String(num(raw?.value) ?? ''),
      },
    ];
  });
}

function nvmeHealthOf(doc: JsonObject): NvmeHealth | null {
  const log = obj(doc.nvme_smart_health_information_log);
  if (!log) return null;
  return nvmeHealth({
    criticalWarning: num(log.critical_warning),
    percentageUsed: num(log.percentage_used),
    availableSpare: num(log.available_spare),
    availableSpareThreshold: num(log.available_spare_threshold),
    mediaErrors: num(log.media_errors),
    errorLogEntries: num(log.num_err_log_entries),
    unsafeShutdowns: num(log.unsafe_shutdowns),
    dataUnitsRead: num(log.data_units_read),
    dataUnitsWritten: num(log.data_units_written),
  });
}

/** smartctl < 7.3 prints SCSI identity as model_name / vendor / product / revision, later as scsi_*. */
function modelOf(doc: JsonObject): string | null {
  const vendorProduct = [str(doc.vendor) ?? str(doc.scsi_vendor), str(doc.product) ?? str(doc.scsi_product)].filter(Boolean).join(' ');
  return str(doc.model_name) ?? str(doc.scsi_model_name) ?? (vendorProduct || null);
}

function temperatureOf(doc: JsonObject, protocol: DiskProtocol | null): number | null {
  const t = obj(doc.temperature);
  const current = num(t?.current) ?? num(obj(doc.nvme_smart_health_information_log)?.temperature);
  return protocol === 'SCSI' ? scsiTemperature(current, num(t?.drive_trip)) : current;
}

function powerOnSecondsOf(doc: JsonObject): number | null {
  const p = obj(doc.power_on_time);
  const hours = num(p?.hours);
  return hours === null ? null : hours * 3600 + (num(p?.minutes) ?? 0) * 60;
}

/** A parsed document (the XCP-ng plugin hands these over already parsed). */
export function diskFromSmartctlJson(doc: JsonObject, hint: DeviceHint = {}): SmartDisk {
  const smartctl = obj(doc.smartctl);
  const device = obj(doc.device);
  const messages = messagesOf(smartctl);
  const exitCode = num(smartctl?.exit_status);
  const exitStatus = exitCode === null ? null : decodeExitStatus(exitCode);
  const inStandby = messages.some((m) => STANDBY.test(m.text));
  const protocol = protocolOf(str(device?.protocol));
  const deviceType = hint.deviceType ?? str(device?.type);
  const attributes = ataAttributes(doc);
  const sectors = sectorCounts(attributes);
  return {
    ...emptyDisk(),
    device: hint.device ?? str(device?.name),
    deviceType,
    type: diskTypeOf(deviceType, protocol, str(obj(doc.scsi_transport_protocol)?.name)),
    protocol,
    model: modelOf(doc),
    serial: str(doc.serial_number),
    firmware: str(doc.firmware_version) ?? str(doc.revision) ?? str(doc.scsi_revision),
    capacityBytes: num(doc.nvme_total_capacity) ?? num(obj(doc.user_capacity)?.bytes),
    smartAvailable: bool(obj(doc.smart_support)?.available),
    healthy: bool(obj(doc.smart_status)?.passed),
    temperatureCelsius: temperatureOf(doc, protocol),
    powerOnSeconds: powerOnSecondsOf(doc),
    ...sectors,
    reallocatedSectors: sectors.reallocatedSectors ?? num(doc.scsi_grown_defect_list),
    ataAttributes: attributes,
    nvme: nvmeHealthOf(doc),
    inStandby,
    exitStatus,
    error: exitError(exitStatus, inStandby, messages),
    messages,
  };
}

/** The output of one `smartctl --json` run. Never throws: unusable output becomes `error`. */
export function parseSmartctlJson(text: string, hint: DeviceHint = {}): SmartDisk {
  const parsed = parseJsonObject(text);
  if ('error' in parsed) return failedDisk(hint, parsed.error);
  return diskFromSmartctlJson(parsed.doc, hint);
}
