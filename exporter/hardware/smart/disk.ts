// Pieces shared by the JSON and text parsers.

import { diskTypeOf } from './device.js';
import { decodeExitStatus } from './exit-status.js';
import type { NvmeHealth, SmartDisk, SmartctlExitStatus, SmartctlMessage } from './model.js';

/** What the caller asked smartctl for; it names the disk even when the output cannot. */
export interface DeviceHint {
  device?: string;
  deviceType?: string;
}

export function emptyDisk(): SmartDisk {
  return {
    device: null,
    deviceType: null,
    type: 'unknown',
    protocol: null,
    model: null,
    serial: null,
    firmware: null,
    capacityBytes: null,
    smartAvailable: null,
    healthy: null,
    temperatureCelsius: null,
    powerOnSeconds: null,
    reallocatedSectors: null,
    pendingSectors: null,
    offlineUncorrectableSectors: null,
    ataAttributes: [],
    nvme: null,
    inStandby: false,
    exitStatus: null,
    error: null,
    messages: [],
  };
}

/** A disk we know only by the name we asked for, and why there is nothing more. */
export function failedDisk(hint: DeviceHint, error: string): SmartDisk {
  const deviceType = hint.deviceType ?? null;
  return { ...emptyDisk(), device: hint.device ?? null, deviceType, type: diskTypeOf(deviceType, null, null), error };
}

/** What smartctl prints (text) or says (JSON message) when `--nocheck` finds the disk in a low-power mode:
 * "Device is in STANDBY mode, exit(2)", also SLEEP, IDLE_B, "STANDBY (OS)". */
export const STANDBY = /Device is in .+? mode, exit\((\d+)\)/;

/** The exit code a standby line announces ("…, exit(2)"). */
export function standbyExit(text: string): SmartctlExitStatus | null {
  const m = STANDBY.exec(text);
  return m ? decodeExitStatus(Number(m[1])) : null;
}

/**
 * SCSI devices without a temperature log page (RAID volumes, virtual disks) print 0 °C with a trip
 * temperature of 0: that is "not reported", not freezing.
 */
export function scsiTemperature(current: number | null, trip: number | null): number | null {
  return current === 0 && (trip === 0 || trip === null) ? null : current;
}

/** Why there is no usable data, from the exit status; standby is not a failure. */
export function exitError(exit: SmartctlExitStatus | null, inStandby: boolean, messages: readonly SmartctlMessage[]): string | null {
  if (!exit || inStandby || !(exit.commandLineError || exit.openFailedOrLowPower)) return null;
  const first = messages.find((m) => m.severity === 'error')?.text;
  if (first) return first;
  return exit.commandLineError ? 'smartctl did not accept its command line' : 'smartctl could not open the device';
}

/** The NVMe health log as smartctl reports it: percentages and data units (1000 × 512 bytes). */
export interface NvmeLog {
  criticalWarning: number | null;
  percentageUsed: number | null;
  availableSpare: number | null;
  availableSpareThreshold: number | null;
  mediaErrors: number | null;
  errorLogEntries: number | null;
  unsafeShutdowns: number | null;
  dataUnitsRead: number | null;
  dataUnitsWritten: number | null;
}

const ratio = (percent: number | null) => (percent === null ? null : percent / 100);
const bytes = (dataUnits: number | null) => (dataUnits === null ? null : dataUnits * 512_000);

export function nvmeHealth(log: NvmeLog): NvmeHealth {
  return {
    criticalWarning: log.criticalWarning,
    percentageUsedRatio: ratio(log.percentageUsed),
    availableSpareRatio: ratio(log.availableSpare),
    availableSpareThresholdRatio: ratio(log.availableSpareThreshold),
    mediaErrors: log.mediaErrors,
    errorLogEntries: log.errorLogEntries,
    unsafeShutdowns: log.unsafeShutdowns,
    bytesRead: bytes(log.dataUnitsRead),
    bytesWritten: bytes(log.dataUnitsWritten),
  };
}
