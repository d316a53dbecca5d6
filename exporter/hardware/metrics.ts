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
import { type MetricSink, withLabels } from '../metrics/families.js';
import type { DiskState, HardwareCollector } from './collector.js';
import type { IpmiSensor, SensorState } from './ipmi/parse.js';

const VALUE_FAMILIES: Record<string, [name: string, help: string]> = {
  celsius: ['xcp_host_ipmi_temperature_celsius', 'BMC temperature sensor reading in degrees Celsius'],
  rpm: ['xcp_host_ipmi_fan_speed_rpm', 'BMC fan speed sensor reading in revolutions per minute'],
  volts: ['xcp_host_ipmi_voltage_volts', 'BMC voltage sensor reading in volts'],
  amperes: ['xcp_host_ipmi_current_amperes', 'BMC current sensor reading in amperes'],
  watts: ['xcp_host_ipmi_power_watts', 'BMC power sensor reading in watts'],
};

const STATE_VALUE: Partial<Record<SensorState, number>> = { ok: 0, warning: 1, critical: 2 };

const SMART_UP_HELP = 'The disk was read in the last SMART cycle, or answered that it sleeps (1), or it is missing or unreadable (0)';
// Same HELP as the RRD source of the same family (DCMI-power-reading), which has no `source` label.
const POWER_HELP = 'Host power consumption in watts';

function addSensor(set: MetricSink, host: string, s: IpmiSensor): void {
  const labels = withLabels(host, { sensor: s.sensor });
  const family = s.unit ? VALUE_FAMILIES[s.unit] : undefined;
  if (family && s.value !== null) set.add(family[0], 'gauge', family[1], labels, s.value);
  const state = STATE_VALUE[s.state];
  if (state !== undefined) {
    set.add(
      'xcp_host_ipmi_sensor_state',
      'gauge',
      'BMC sensor state: 0 ok, 1 warning (non-critical), 2 critical or non-recoverable',
      withLabels(labels, { type: s.kind }),
      state,
    );
  }
}

function addDisk(set: MetricSink, host: string, d: DiskState): void {
  const labels = withLabels(host, { device: d.device });
  set.add('xcp_host_disk_smart_up', 'gauge', SMART_UP_HELP, labels, d.up ? 1 : 0);
  const disk = d.disk;
  if (!disk) return;
  set.add(
    'xcp_host_disk_info',
    'gauge',
    'Disk identity from SMART: model, serial, firmware, type (ata, sat, scsi, sas, nvme, megaraid, raid, usb, unknown), capacity in bytes',
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
  const gauge = (name: string, help: string, value: number | null | undefined) => {
    if (value !== null && value !== undefined) set.add(name, 'gauge', help, labels, value);
  };
  gauge('xcp_host_disk_smart_healthy', 'SMART overall health self-assessment: 1 passed, 0 failed', disk.healthy === null ? null : disk.healthy ? 1 : 0);
  gauge('xcp_host_disk_temperature_celsius', 'Disk temperature in degrees Celsius', disk.temperatureCelsius);
  gauge('xcp_host_disk_power_on_seconds', 'Disk power-on time in seconds', disk.powerOnSeconds);
  gauge('xcp_host_disk_reallocated_sectors', 'Reallocated sectors (ATA attribute 5; SCSI grown defect list)', disk.reallocatedSectors);
  gauge('xcp_host_disk_pending_sectors', 'Sectors pending reallocation (ATA attribute 197)', disk.pendingSectors);
  gauge('xcp_host_disk_offline_uncorrectable_sectors', 'Sectors found uncorrectable by offline scans (ATA attribute 198)', disk.offlineUncorrectableSectors);
  const nvme = disk.nvme;
  if (!nvme) return;
  gauge('xcp_host_disk_nvme_percentage_used_ratio', 'NVMe estimate of the rated endurance used (ratio; can exceed 1)', nvme.percentageUsedRatio);
  gauge('xcp_host_disk_nvme_available_spare_ratio', 'NVMe remaining spare capacity (ratio 0-1)', nvme.availableSpareRatio);
  gauge('xcp_host_disk_nvme_critical_warning', 'NVMe critical warning bit field (0: none)', nvme.criticalWarning);
  if (nvme.mediaErrors !== null) {
    set.add('xcp_host_disk_nvme_media_errors_total', 'counter', 'NVMe unrecovered data integrity errors over the life of the drive', labels, nvme.mediaErrors);
  }
}

/** The IPMI families of one pool. `hostLabels(uuid)` is the HOST label string, undefined for a host no longer in
 * the inventory. */
export function addIpmiMetrics(sink: MetricSink, hw: HardwareCollector, hostLabels: (uuid: string) => string | undefined): void {
  for (const [uuid, st] of hw.ipmi) {
    const host = hostLabels(uuid);
    if (host === undefined) continue;
    sink.add(
      'xcp_host_ipmi_up',
      'gauge',
      "The host's BMC sensors were read in the last IPMI cycle (1) or not (0: unreachable, no BMC, no plugin)",
      host,
      st.up ? 1 : 0,
    );
    if (!st.up || !st.reading) continue;
    for (const s of st.reading.sensors) addSensor(sink, host, s);
    const power = st.reading.power;
    if (power) sink.add('xcp_host_power_consumption_watts', 'gauge', POWER_HELP, withLabels(host, { source: power.source }), power.watts);
  }
}

/** The SMART families of one pool (`hostLabels` as for IPMI). */
export function addSmartMetrics(sink: MetricSink, hw: HardwareCollector, hostLabels: (uuid: string) => string | undefined): void {
  for (const [uuid, st] of hw.smart) {
    const host = hostLabels(uuid);
    if (host === undefined) continue;
    if (st.disks.size === 0 && !st.up) {
      sink.add('xcp_host_disk_smart_up', 'gauge', SMART_UP_HELP, host, 0);
    }
    for (const d of st.disks.values()) addDisk(sink, host, d);
  }
}
