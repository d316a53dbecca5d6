// The hardware families (docs/METRICS.md, "Hardware"), from the collectors' latest results. HOST labels come
// from the inventory at poll time, so a renamed host is renamed here too.
//
// IPMI: a value family per base unit (°C, RPM, V, A, W), `xcp_host_ipmi_sensor_state{sensor,type}` for every
// sensor whose state is known (absent sensors, `ns`/`na`, have none), `type` = the sensor kind (temperature,
// fan, voltage, current, power, discrete, other). Fan duty cycles in percent and other units have no family.
// While a host's IPMI is down only `xcp_host_ipmi_up 0` is served: stale readings would look current.
//
// SMART: `xcp_host_disk_smart_up` for every known disk; values only while it is up; `xcp_host_disk_info`
// whenever its identity is known. A host whose disk list cannot be read and that has no known disk gets one
// `xcp_host_disk_smart_up` without a `device` label, so it still shows as down.
import { type FamilyDef, HOST, type MetricSink, counter, gauge } from '../metrics/declare.js';
import { withLabels } from '../metrics/families.js';
import { HOST_POWER } from '../rrd/catalogue.js';
import type { DiskState, HardwareCollector } from './collector.js';
import type { IpmiSensor, SensorState } from './ipmi/parse.js';

const SENSOR = [...HOST, 'sensor'];
const DISK = [...HOST, 'device'];

const IPMI_UP = gauge('xcp_host_ipmi_up', "The host's BMC sensors were read in the last IPMI cycle (1) or not (0: unreachable, no BMC, no plugin)", HOST);
const VALUE_FAMILIES: Record<string, FamilyDef> = {
  celsius: gauge('xcp_host_ipmi_temperature_celsius', 'BMC temperature sensor reading in degrees Celsius', SENSOR),
  rpm: gauge('xcp_host_ipmi_fan_speed_rpm', 'BMC fan speed sensor reading in revolutions per minute', SENSOR),
  volts: gauge('xcp_host_ipmi_voltage_volts', 'BMC voltage sensor reading in volts', SENSOR),
  amperes: gauge('xcp_host_ipmi_current_amperes', 'BMC current sensor reading in amperes', SENSOR),
  watts: gauge('xcp_host_ipmi_power_watts', 'BMC power sensor reading in watts', SENSOR),
};
const SENSOR_STATE = gauge('xcp_host_ipmi_sensor_state', 'BMC sensor state: 0 ok, 1 warning (non-critical), 2 critical or non-recoverable', [
  ...SENSOR,
  'type',
]);

const STATE_VALUE: Partial<Record<SensorState, number>> = { ok: 0, warning: 1, critical: 2 };

// A host whose disk list cannot be read and that has no known disk has one without `device`.
const SMART_UP = gauge(
  'xcp_host_disk_smart_up',
  'The disk was read in the last SMART cycle, or answered that it sleeps (1), or it is missing or unreadable (0)',
  DISK,
);
const DISK_INFO = gauge(
  'xcp_host_disk_info',
  'Disk identity from SMART: model, serial, firmware, type (ata, sat, scsi, sas, nvme, megaraid, raid, usb, unknown), capacity in bytes',
  [...DISK, 'model', 'serial', 'firmware', 'type', 'capacity_bytes'],
);
const SMART_HEALTHY = gauge('xcp_host_disk_smart_healthy', 'SMART overall health self-assessment: 1 passed, 0 failed', DISK);
const DISK_TEMPERATURE = gauge('xcp_host_disk_temperature_celsius', 'Disk temperature in degrees Celsius', DISK);
const POWER_ON = gauge('xcp_host_disk_power_on_seconds', 'Disk power-on time in seconds', DISK);
const REALLOCATED = gauge('xcp_host_disk_reallocated_sectors', 'Reallocated sectors (ATA attribute 5; SCSI grown defect list)', DISK);
const PENDING = gauge('xcp_host_disk_pending_sectors', 'Sectors pending reallocation (ATA attribute 197)', DISK);
const UNCORRECTABLE = gauge('xcp_host_disk_offline_uncorrectable_sectors', 'Sectors found uncorrectable by offline scans (ATA attribute 198)', DISK);
const NVME_USED = gauge('xcp_host_disk_nvme_percentage_used_ratio', 'NVMe estimate of the rated endurance used (ratio; can exceed 1)', DISK);
const NVME_SPARE = gauge('xcp_host_disk_nvme_available_spare_ratio', 'NVMe remaining spare capacity (ratio 0-1)', DISK);
const NVME_WARNING = gauge('xcp_host_disk_nvme_critical_warning', 'NVMe critical warning bit field (0: none)', DISK);
const NVME_MEDIA_ERRORS = counter('xcp_host_disk_nvme_media_errors_total', 'NVMe unrecovered data integrity errors over the life of the drive', DISK);

function addSensor(set: MetricSink, host: string, s: IpmiSensor): void {
  const labels = withLabels(host, { sensor: s.sensor });
  const family = s.unit ? VALUE_FAMILIES[s.unit] : undefined;
  if (family && s.value !== null) set.add(family, labels, s.value);
  const state = STATE_VALUE[s.state];
  if (state !== undefined) set.add(SENSOR_STATE, withLabels(labels, { type: s.kind }), state);
}

function addDisk(set: MetricSink, host: string, d: DiskState): void {
  const labels = withLabels(host, { device: d.device });
  set.add(SMART_UP, labels, d.up ? 1 : 0);
  const disk = d.disk;
  if (!disk) return;
  set.add(
    DISK_INFO,
    withLabels(labels, {
      model: disk.model ?? undefined,
      serial: disk.serial ?? undefined,
      firmware: disk.firmware ?? undefined,
      type: disk.type,
      capacity_bytes: disk.capacityBytes === null ? undefined : String(disk.capacityBytes),
    }),
    1,
  );
  if (!d.up) return;
  const known = (family: FamilyDef, value: number | null | undefined) => {
    if (value !== null && value !== undefined) set.add(family, labels, value);
  };
  known(SMART_HEALTHY, disk.healthy === null ? null : disk.healthy ? 1 : 0);
  known(DISK_TEMPERATURE, disk.temperatureCelsius);
  known(POWER_ON, disk.powerOnSeconds);
  known(REALLOCATED, disk.reallocatedSectors);
  known(PENDING, disk.pendingSectors);
  known(UNCORRECTABLE, disk.offlineUncorrectableSectors);
  const nvme = disk.nvme;
  if (!nvme) return;
  known(NVME_USED, nvme.percentageUsedRatio);
  known(NVME_SPARE, nvme.availableSpareRatio);
  known(NVME_WARNING, nvme.criticalWarning);
  known(NVME_MEDIA_ERRORS, nvme.mediaErrors);
}

/** The IPMI families of one pool. `hostLabels(uuid)` is the HOST label string, undefined for a host no longer in
 * the inventory. */
export function addIpmiMetrics(sink: MetricSink, hw: HardwareCollector, hostLabels: (uuid: string) => string | undefined): void {
  for (const [uuid, st] of hw.ipmi) {
    const host = hostLabels(uuid);
    if (host === undefined) continue;
    sink.add(IPMI_UP, host, st.up ? 1 : 0);
    if (!st.up || !st.reading) continue;
    for (const s of st.reading.sensors) addSensor(sink, host, s);
    const power = st.reading.power;
    if (power) sink.add(HOST_POWER, withLabels(host, { source: power.source }), power.watts);
  }
}

/** The SMART families of one pool (`hostLabels` as for IPMI). */
export function addSmartMetrics(sink: MetricSink, hw: HardwareCollector, hostLabels: (uuid: string) => string | undefined): void {
  for (const [uuid, st] of hw.smart) {
    const host = hostLabels(uuid);
    if (host === undefined) continue;
    if (st.disks.size === 0 && !st.up) {
      sink.add(SMART_UP, host, 0);
    }
    for (const d of st.disks.values()) addDisk(sink, host, d);
  }
}
