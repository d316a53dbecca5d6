// The disk model every SMART parser produces: smartctl JSON (7.x), smartctl text (6.x and saved outputs), and
// the XCP-ng `smartctl.py` plugin. Null always means "not reported", never zero.

/** smartctl's `device.protocol`. */
export type DiskProtocol = 'ATA' | 'SCSI' | 'NVMe';

/**
 * How the disk is reached, for the `type` label: from smartctl's device type (`sat`, `sat+megaraid,0`,
 * `usbjmicron`, `cciss,1`) and, for SCSI, the transport protocol (SAS). `raid` = other controller
 * pass-through (cciss, areca, 3ware, hpt, aacraid).
 */
export type DiskType = 'ata' | 'sat' | 'scsi' | 'sas' | 'nvme' | 'megaraid' | 'raid' | 'usb' | 'unknown';

/** smartctl's exit status, bit by bit (smartctl(8) "RETURN VALUES"). */
export interface SmartctlExitStatus {
  code: number;
  /** bit 0: the command line did not parse. */
  commandLineError: boolean;
  /** bit 1: the device could not be opened, did not identify, or is in a low-power mode (`--nocheck`). */
  openFailedOrLowPower: boolean;
  /** bit 2: a SMART or other command to the disk failed, or a SMART data checksum was wrong. */
  smartCommandFailed: boolean;
  /** bit 3: SMART status says "DISK FAILING". */
  diskFailing: boolean;
  /** bit 4: prefail attributes at or below their threshold now. */
  prefailAtThreshold: boolean;
  /** bit 5: status OK, but some attributes were at or below their threshold in the past. */
  pastAtThreshold: boolean;
  /** bit 6: the device error log has errors. */
  errorLogHasErrors: boolean;
  /** bit 7: the self-test log has errors. */
  selfTestLogHasErrors: boolean;
}

export interface SmartctlMessage {
  text: string;
  /** JSON: `information`, `warning`, `error`; text output has no severities and none are made up. */
  severity: string;
}

/** One row of the ATA "Vendor Specific SMART Attributes" table. */
export interface AtaAttribute {
  id: number;
  name: string;
  value: number | null;
  worst: number | null;
  /** Null when the drive reports none (`---`). */
  threshold: number | null;
  /** `now` / `past` when the normalised value is or was at the threshold (the FAIL / WHEN_FAILED column). */
  failed: 'now' | 'past' | null;
  /** The raw value as smartctl formats it ("34 (Min/Max 14/79)", "6585h+55m+23.234s"). */
  raw: string;
}

/** The NVMe SMART / Health Information log page, ratios as 0..1 (percentage used can exceed 1). */
export interface NvmeHealth {
  criticalWarning: number | null;
  percentageUsedRatio: number | null;
  availableSpareRatio: number | null;
  availableSpareThresholdRatio: number | null;
  mediaErrors: number | null;
  errorLogEntries: number | null;
  unsafeShutdowns: number | null;
  /** Data units × 512 000 bytes, as the NVMe spec defines them. */
  bytesRead: number | null;
  bytesWritten: number | null;
}

export interface SmartDisk {
  /** `/dev/sda`, `/dev/bus/0`: with `deviceType`, the key of a disk (many disks share `/dev/bus/0`). */
  device: string | null;
  /** The `-d` value as smartctl reports or was given it (`sat+megaraid,0`); what a later call must pass again. */
  deviceType: string | null;
  type: DiskType;
  protocol: DiskProtocol | null;
  model: string | null;
  serial: string | null;
  firmware: string | null;
  capacityBytes: number | null;
  /** False for devices without SMART (virtual disks, RAID volumes); null when not said. */
  smartAvailable: boolean | null;
  /** SMART overall health: PASSED / OK → true, FAILED → false, null when unknown (not asked, standby, error). */
  healthy: boolean | null;
  temperatureCelsius: number | null;
  powerOnSeconds: number | null;
  /** ATA attribute 5 raw value; SCSI: elements in the grown defect list. */
  reallocatedSectors: number | null;
  /** ATA attribute 197 raw value. */
  pendingSectors: number | null;
  /** ATA attribute 198 raw value. */
  offlineUncorrectableSectors: number | null;
  ataAttributes: AtaAttribute[];
  nvme: NvmeHealth | null;
  /** smartctl skipped the disk because it sleeps (`--nocheck=standby`): keep the last values, this is no failure. */
  inStandby: boolean;
  exitStatus: SmartctlExitStatus | null;
  /** Why there is no data (open failed, unknown USB bridge, empty output); null when the data is usable. */
  error: string | null;
  messages: SmartctlMessage[];
}
