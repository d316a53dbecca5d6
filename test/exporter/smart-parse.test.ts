// The SMART parsers against every saved sample in test/fixtures/smart (origins in SOURCES.md there). Every value
// asserted below was read from the fixture by hand.

import { readFileSync, readdirSync } from 'node:fs';
import t, { type Test } from 'tap';
import {
  type SmartDisk,
  type SmartctlExitStatus,
  decodeExitStatus,
  isSafeDevice,
  parsePluginInformation,
  parseScanJson,
  parseScanText,
  parseSmartctlJson,
  parseSmartctlText,
} from '../../exporter/hardware/smart/parse.js';

const DIR = new URL('../fixtures/smart/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, DIR), 'utf8');

/** The exit status bits that are set, by name. */
function setBits(exit: SmartctlExitStatus | null): string[] {
  return exit ? Object.entries(exit).flatMap(([k, v]) => (v === true ? [k] : [])) : [];
}

const HEALTHY_NVME = { criticalWarning: 0, mediaErrors: 0 };
const UNREPORTED = { reallocatedSectors: null, pendingSectors: null, offlineUncorrectableSectors: null };

/** The parser of the output a fixture holds: smartctl's JSON (`--json`) or its text. */
const parseSmartctl = (text: string): SmartDisk => (text.trimStart().startsWith('{') ? parseSmartctlJson(text) : parseSmartctlText(text));

/** Assertions shared by every disk: usable data and the exit status bits. */
function disk(t: Test, text: string, want: Partial<SmartDisk>, bits: string[] = []): SmartDisk {
  const d = parseSmartctl(text);
  t.hasStrict(d, want);
  t.same(setBits(d.exitStatus), bits, 'exit status bits');
  return d;
}

const FIXTURES: Record<string, (t: Test, text: string) => void> = {
  // ---- device scans ------------------------------------------------------------------------------------------
  'linuxfabrik_all-devices-inaccessible-scan.txt': (t, text) => {
    t.same(parseScanText(text), {
      devices: [
        { name: '/dev/sda', type: 'sat', infoName: '/dev/sda [SAT]', protocol: 'ATA', openError: 'Permission denied' },
        { name: '/dev/nvme0', type: 'nvme', infoName: '/dev/nvme0', protocol: 'NVMe', openError: 'Permission denied' },
      ],
      warnings: [],
      error: null,
    });
  },
  'linuxfabrik_megaraid-devices-scan.txt': (t, text) => {
    t.same(parseScanText(text).devices, [
      { name: '/dev/bus/0', type: 'megaraid,0', infoName: '/dev/bus/0 [megaraid_disk_00]', protocol: 'SCSI', openError: null },
      { name: '/dev/bus/0', type: 'megaraid,1', infoName: '/dev/bus/0 [megaraid_disk_01]', protocol: 'SCSI', openError: null },
    ]);
  },
  'linuxfabrik_two-devices-one-inaccessible-scan.txt': (t, text) => {
    const scan = parseScanText(text);
    t.same(
      scan.devices.map((d) => [d.name, d.type, d.openError]),
      [
        ['/dev/sda', 'sat', null],
        ['/dev/nvme0', 'nvme', 'Permission denied'],
      ],
    );
    t.same(scan.warnings, []);
  },
  'scrutiny_smartctl_scan_megaraid.json': (t, text) => {
    t.same(parseScanJson(text), {
      devices: [
        { name: '/dev/bus/0', type: 'megaraid,0', infoName: '/dev/bus/0 [megaraid_disk_00]', protocol: 'SCSI', openError: null },
        { name: '/dev/bus/0', type: 'megaraid,1', infoName: '/dev/bus/0 [megaraid_disk_01]', protocol: 'SCSI', openError: null },
      ],
      warnings: [],
      error: null,
    });
  },
  'scrutiny_smartctl_scan_nvme.json': (t, text) => {
    t.same(parseScanJson(text).devices, [{ name: '/dev/nvme0', type: 'nvme', infoName: '/dev/nvme0', protocol: 'NVMe', openError: null }]);
  },
  'telegraf_smartctl_scan_json_all.json': (t, text) => {
    const scan = parseScanJson(text);
    t.same(
      scan.devices.map((d) => `${d.name} ${d.type} ${d.protocol}`),
      ['/dev/sda sat ATA', '/dev/nvme0 nvme NVMe', '/dev/nvme1 nvme NVMe'],
    );
    t.same(scan.warnings, []);
  },
  'telegraf_smartctl_scan_json_megaraid.json': (t, text) => {
    const scan = parseScanJson(text);
    t.equal(scan.devices.length, 10);
    t.same(
      scan.devices.slice(0, 4).map((d) => `${d.name} ${d.type}`),
      ['/dev/sda scsi', '/dev/sdb scsi', '/dev/sdc sat', '/dev/bus/6 megaraid,8'],
    );
    t.hasStrict(scan.devices[9], { name: '/dev/bus/6', type: 'megaraid,14', infoName: '/dev/bus/6 [megaraid_disk_14]', protocol: 'SCSI' });
  },

  // ---- smartctl JSON -----------------------------------------------------------------------------------------
  'scrutiny_smart-ata-date2.json': (t, text) => {
    const d = disk(t, text, {
      device: '/dev/sdb',
      deviceType: 'sat',
      type: 'sat',
      protocol: 'ATA',
      model: 'WDC WD140EDFZ-11A0VA0',
      serial: '9RK1XXXX',
      firmware: '81.00A81',
      capacityBytes: 14000519643136,
      healthy: true,
      temperatureCelsius: 62,
      powerOnSeconds: 3030 * 3600,
      // The sample was edited: raw.value 10 but raw.string "0". The string (smartctl's drivedb-aware
      // formatting, what the text output shows) is what counts.
      reallocatedSectors: 0,
      pendingSectors: 0,
      offlineUncorrectableSectors: 0,
      error: null,
    });
    t.equal(d.ataAttributes.length, 18);
  },
  'scrutiny_smart-fail.json': (t, text) => {
    disk(
      t,
      text,
      {
        device: null,
        model: null,
        healthy: null,
        error: 'Smartctl open device: /dev/sda failed: \\\\.\\PhysicalDrive0: Open failed, Error=5',
        messages: [{ text: 'Smartctl open device: /dev/sda failed: \\\\.\\PhysicalDrive0: Open failed, Error=5', severity: 'error' }],
      },
      ['openFailedOrLowPower'],
    );
    t.hasStrict(
      parseSmartctlJson(text, { device: '/dev/sda', deviceType: 'sat' }),
      { device: '/dev/sda', deviceType: 'sat', type: 'sat' },
      'named by the hint',
    );
  },
  'scrutiny_smart-fail2.json': (t, text) => {
    const d = disk(
      t,
      text,
      {
        device: '/dev/sdc',
        deviceType: 'usbjmicron',
        type: 'usb',
        model: 'Hitachi HDS721050DLE630',
        serial: 'MSK423Y20S3HBC',
        healthy: false,
        temperatureCelsius: 25,
        powerOnSeconds: 65592 * 3600,
        reallocatedSectors: 1975,
        pendingSectors: 8,
        offlineUncorrectableSectors: 0,
        error: null,
      },
      ['diskFailing', 'prefailAtThreshold', 'errorLogHasErrors', 'selfTestLogHasErrors'],
    );
    t.equal(d.exitStatus?.code, 216);
    t.same(
      d.ataAttributes.filter((a) => a.failed).map((a) => [a.id, a.name, a.value, a.threshold, a.failed]),
      [[5, 'Reallocated_Sector_Ct', 1, 5, 'now']],
    );
  },
  'scrutiny_smart-megaraid1.json': (t, text) => {
    disk(
      t,
      text,
      {
        device: '/dev/sda',
        deviceType: 'sat+megaraid,1',
        type: 'megaraid',
        protocol: 'ATA',
        model: 'WD4000FYYX',
        capacityBytes: 4000787030016,
        healthy: true,
        temperatureCelsius: 36,
        powerOnSeconds: 37788 * 3600,
        reallocatedSectors: 387,
        pendingSectors: 0,
        messages: [{ text: 'Warning: This result is based on an Attribute check.', severity: 'warning' }],
        error: null,
      },
      ['smartCommandFailed'],
    );
  },
  'scrutiny_smart-nvme-failed.json': (t, text) => {
    disk(t, text, {
      device: '/dev/nvme0',
      type: 'nvme',
      protocol: 'NVMe',
      model: 'Samsung SSD 970 EVO 500GB',
      serial: 'S466NX0M776250H',
      firmware: '2B2QEXE7',
      capacityBytes: 500107862016,
      healthy: true,
      temperatureCelsius: 35,
      powerOnSeconds: 12798 * 3600,
      ...UNREPORTED,
      nvme: {
        criticalWarning: 0,
        percentageUsedRatio: 0.03,
        availableSpareRatio: 0.99,
        availableSpareThresholdRatio: 0.1,
        mediaErrors: 7,
        errorLogEntries: 62,
        unsafeShutdowns: 10,
        bytesRead: 17176794 * 512000,
        bytesWritten: 65602088 * 512000,
      },
    });
  },
  'scrutiny_smart-raid.json': (t, text) => {
    disk(
      t,
      text,
      {
        device: '/dev/sdb',
        type: 'scsi',
        protocol: 'SCSI',
        model: 'Intel Raid 1 Volume',
        serial: 'Volume1',
        firmware: '1.0.',
        capacityBytes: 1000202043392,
        healthy: null, // a RAID volume has no SMART status
        temperatureCelsius: null, // 0 °C with trip 0 = not reported
        powerOnSeconds: null,
        error: null,
      },
      ['smartCommandFailed'],
    );
  },
  'scrutiny_smart-scsi2.json': (t, text) => {
    disk(t, text, {
      type: 'scsi',
      protocol: 'SCSI',
      model: 'SEAGATE ST1200MM0088',
      serial: 'Z4028VRY0000C810BZXB',
      firmware: 'N004',
      capacityBytes: 1200243695616,
      healthy: true,
      temperatureCelsius: 31,
      powerOnSeconds: 5675 * 3600 + 39 * 60,
      reallocatedSectors: 0, // grown defect list
      pendingSectors: null,
    });
  },
  'smartctl_exporter_HGST_HUS724020ALE640_28.json': (t, text) => {
    const d = disk(
      t,
      text,
      {
        device: '/dev/sdb',
        type: 'sat',
        model: 'HGST HUS724020ALE640',
        serial: 'REDACTED',
        capacityBytes: 2000398934016,
        smartAvailable: true,
        healthy: true,
        temperatureCelsius: 26,
        powerOnSeconds: 83425 * 3600,
        reallocatedSectors: 0,
        pendingSectors: 0,
        offlineUncorrectableSectors: 0,
        error: null,
      },
      ['errorLogHasErrors'],
    );
    t.equal(d.exitStatus?.code, 64);
  },
  'smartctl_exporter_HITACHI_H109060SESUN600G_10.json': (t, text) => {
    disk(t, text, {
      type: 'sas', // scsi_transport_protocol: SAS
      protocol: 'SCSI',
      model: 'HITACHI H109060SESUN600G',
      firmware: 'A31A',
      capacityBytes: 600127266816,
      healthy: true,
      temperatureCelsius: 26,
      powerOnSeconds: 22364 * 3600 + 52 * 60,
      reallocatedSectors: 0,
    });
  },
  'smartctl_exporter_INTEL_SSDPE2KX080T8_1.json': (t, text) => {
    const d = disk(t, text, {
      type: 'nvme',
      model: 'INTEL SSDPE2KX080T8',
      capacityBytes: 8001563222016, // nvme_total_capacity: this document has no user_capacity
      healthy: true,
      temperatureCelsius: 29,
      powerOnSeconds: 12164 * 3600,
      nvme: {
        ...HEALTHY_NVME,
        percentageUsedRatio: 0,
        availableSpareRatio: 1,
        availableSpareThresholdRatio: 0.1,
        errorLogEntries: 0,
        unsafeShutdowns: 8,
        bytesRead: 20126802 * 512000,
        bytesWritten: 184919244 * 512000,
      },
    });
    t.same(d.ataAttributes, []);
  },
  'smartctl_exporter_SAMSUNG_MZ7WD240HAFV-00003_21.json': (t, text) => {
    disk(t, text, {
      type: 'sat',
      model: 'SAMSUNG MZ7WD240HAFV-00003',
      capacityBytes: 240057409536,
      healthy: true,
      temperatureCelsius: 27, // from 190 Airflow_Temperature_Cel: no 194 on this SSD
      powerOnSeconds: 84619 * 3600,
      reallocatedSectors: 0,
      pendingSectors: null,
      offlineUncorrectableSectors: null,
    });
  },
  'smartctl_exporter_SEAGATE_ST373453LC_26.json': (t, text) => {
    disk(t, text, {
      type: 'scsi',
      model: 'SEAGATE ST373453LC',
      firmware: 'DX10',
      capacityBytes: 73407820800,
      healthy: true,
      temperatureCelsius: 33,
      powerOnSeconds: 102880 * 3600 + 59 * 60,
      reallocatedSectors: 260,
    });
  },
  'smartctl_exporter_WDC_WD20EFRX-68EUZN0_17.json': (t, text) => {
    const d = disk(t, text, {
      type: 'sat',
      model: 'WDC WD20EFRX-68EUZN0',
      capacityBytes: 2000398934016,
      healthy: true,
      temperatureCelsius: 34,
      powerOnSeconds: 47657 * 3600,
      reallocatedSectors: 0,
      pendingSectors: 0,
      offlineUncorrectableSectors: 0,
    });
    t.hasStrict(
      d.ataAttributes.find((a) => a.id === 5),
      { name: 'Reallocated_Sector_Ct', value: 200, worst: 200, threshold: 140, failed: null, raw: '0' },
    );
  },
  'smartctl_exporter_issue384_nvme_log_error_json_fragment.json': (t, text) => {
    // An error-severity message with exit bit 2 only: a log page failed, the rest is data. Not a failed device.
    disk(
      t,
      text,
      { error: null, healthy: null, messages: [{ text: 'Read 16 entries from Error Information Log failed: PRP Offset Invalid (0x013)', severity: 'error' }] },
      ['smartCommandFailed'],
    );
  },
  'smartctl_exporter_nvme-null-SAMSUNG_MZWLL3T2HAJQ-00005-nvme0.json': (t, text) => {
    disk(
      t,
      text,
      {
        type: 'nvme',
        model: 'SAMSUNG MZWLL3T2HAJQ-00005',
        capacityBytes: 3200631791616,
        healthy: false,
        temperatureCelsius: 40,
        powerOnSeconds: 18376 * 3600,
        nvme: {
          criticalWarning: 16,
          mediaErrors: 0,
          percentageUsedRatio: 0,
          availableSpareRatio: 1,
          availableSpareThresholdRatio: 0.1,
          errorLogEntries: 0,
          unsafeShutdowns: 4,
          bytesRead: 146935678 * 512000,
          bytesWritten: 147556750 * 512000,
        },
        error: null,
      },
      ['diskFailing'],
    );
  },
  'smartctl_exporter_nvme-null-Samsung_SSD_970_EVO_Plus_250GB-nvme0.json': (t, text) => {
    disk(t, text, {
      type: 'nvme',
      model: 'Samsung SSD 970 EVO Plus 250GB',
      capacityBytes: 250059350016,
      healthy: true,
      temperatureCelsius: 35,
      powerOnSeconds: 3149 * 3600,
      nvme: {
        ...HEALTHY_NVME,
        percentageUsedRatio: 0,
        availableSpareRatio: 1,
        availableSpareThresholdRatio: 0.1,
        errorLogEntries: 22,
        unsafeShutdowns: 12,
        bytesRead: 2025034 * 512000,
        bytesWritten: 1969459 * 512000,
      },
    });
  },
  'smartctl_exporter_sat-Phison_Driven_SSDs-KINGSTON_SA400M8120G-sda.json': (t, text) => {
    const d = disk(
      t,
      text,
      {
        type: 'sat',
        model: 'KINGSTON SA400M8120G',
        capacityBytes: 120034123776,
        healthy: true,
        temperatureCelsius: 38,
        powerOnSeconds: 4994 * 3600,
        ...UNREPORTED, // Phison firmware has no attributes 5/197/198
        error: null,
      },
      ['smartCommandFailed'],
    );
    t.equal(d.ataAttributes.length, 26);
  },
  'telegraf_smartctl7.4_json_megaraid.json': (t, text) => {
    disk(
      t,
      text,
      {
        device: '/dev/bus/6',
        deviceType: 'sat+megaraid,14',
        type: 'megaraid',
        model: 'ST6000NM0115-1YZ110',
        serial: 'ZAD2C11G',
        firmware: 'SN04',
        capacityBytes: 6001175126016,
        healthy: true,
        temperatureCelsius: 25,
        powerOnSeconds: 44316 * 3600,
        reallocatedSectors: 0,
        pendingSectors: 0,
        offlineUncorrectableSectors: 0,
      },
      ['smartCommandFailed'],
    );
  },
  'telegraf_smartctl7.4_json_nvme.json': (t, text) => {
    disk(t, text, {
      type: 'nvme',
      model: 'Sabrent Rocket 4.0 1TB',
      serial: '6D1107091C9583054511',
      firmware: 'RKT401.3',
      capacityBytes: 1000204886016,
      healthy: true,
      temperatureCelsius: 48,
      powerOnSeconds: 8733 * 3600,
      nvme: {
        ...HEALTHY_NVME,
        percentageUsedRatio: 0.04,
        availableSpareRatio: 1,
        availableSpareThresholdRatio: 0.05,
        errorLogEntries: 4871,
        unsafeShutdowns: 39,
        bytesRead: 28337502 * 512000,
        bytesWritten: 76471882 * 512000,
      },
    });
  },
  'telegraf_smartctl7.4_json_scsi.json': (t, text) => {
    disk(t, text, {
      device: '/dev/sdb',
      type: 'scsi',
      model: 'XXXX XX0000NM123',
      serial: 'XXXXXXX',
      firmware: 'RSL5',
      capacityBytes: 13715978077777,
      healthy: true,
      temperatureCelsius: 24,
      powerOnSeconds: 32978 * 3600 + 46 * 60,
      reallocatedSectors: 0,
    });
  },
  'telegraf_smartctl7.4_json_scsi_extended.json': (t, text) => {
    disk(t, text, {
      device: '/dev/sdaa',
      type: 'sas',
      model: 'SEAGATE ST0000000', // smartctl 7.4 names it scsi_model_name
      serial: 'XYZZZZ',
      firmware: 'RSL5', // scsi_revision
      capacityBytes: 13715978079776,
      healthy: true,
      temperatureCelsius: 24,
      powerOnSeconds: 34222 * 3600 + 9 * 60,
      reallocatedSectors: 0,
    });
  },
  'telegraf_smartctl7.4_json_usb.json': (t, text) => {
    const d = disk(t, text, {
      deviceType: 'sat', // run with -d sat through the USB bridge
      type: 'sat',
      model: 'SanDisk pSSD',
      serial: '06c9f4c44',
      firmware: '3',
      capacityBytes: 15693664256,
      healthy: true,
      temperatureCelsius: null, // no temperature reported at all
      powerOnSeconds: 11 * 3600,
      reallocatedSectors: 0,
      pendingSectors: null,
    });
    t.equal(d.ataAttributes.length, 13);
  },
  'xcpng83_smartctl7.0_megaraid0_-j-H.json': (t, text) => {
    disk(
      t,
      text,
      {
        device: '/dev/bus/0',
        deviceType: 'sat+megaraid,0',
        type: 'megaraid',
        protocol: 'ATA',
        healthy: true,
        model: null,
        temperatureCelsius: null,
        error: null,
      },
      ['smartCommandFailed'],
    );
  },
  'xcpng83_smartctl7.0_nvme_-j-H.json': (t, text) => {
    disk(t, text, { device: '/dev/nvme1', type: 'nvme', healthy: true, model: null, nvme: null, error: null });
  },
  'xcpng83_smartctl7.0_nvme_-j-a.json': (t, text) => {
    disk(t, text, {
      device: '/dev/nvme1',
      type: 'nvme',
      model: 'INTEL SSDPED1D280GA',
      serial: 'PHMB7466015Y280CGN',
      firmware: 'E2010325',
      capacityBytes: 280065171456, // only user_capacity in smartctl 7.0
      healthy: true,
      temperatureCelsius: 31,
      powerOnSeconds: 42772 * 3600,
      nvme: {
        ...HEALTHY_NVME,
        percentageUsedRatio: 0,
        availableSpareRatio: 1,
        availableSpareThresholdRatio: 0,
        errorLogEntries: 4,
        unsafeShutdowns: 14,
        bytesRead: 67343004 * 512000,
        bytesWritten: 65516455 * 512000,
      },
    });
  },
  'xcpng83_smartctl7.0_sat+megaraid0_kingston_ssd_-j-a.json': (t, text) => {
    disk(
      t,
      text,
      {
        device: '/dev/bus/0',
        deviceType: 'sat+megaraid,0',
        type: 'megaraid',
        model: 'KINGSTON SA400S37240G',
        serial: '50026B73815A6C11',
        firmware: 'SAI20102',
        capacityBytes: 240057409536,
        healthy: true,
        temperatureCelsius: 26,
        powerOnSeconds: 23872 * 3600,
        ...UNREPORTED,
      },
      ['smartCommandFailed'],
    );
  },
  'xcpng83_smartctl7.0_sda_-j-H.json': (t, text) => {
    disk(t, text, { device: '/dev/sda', deviceType: 'sat', type: 'sat', healthy: true, error: null });
  },

  // ---- smartctl text -----------------------------------------------------------------------------------------
  'linuxfabrik_smartctl-v6-text-crucial-mx500-ct500.txt': (t, text) => {
    const d = disk(t, text, {
      type: 'ata',
      protocol: 'ATA',
      model: 'CT500MX500SSD1',
      serial: 'Linuxfabrik4',
      firmware: 'M3CR023',
      capacityBytes: 500107862016, // 500'107'862'016
      smartAvailable: true,
      healthy: true,
      temperatureCelsius: 38,
      powerOnSeconds: 3188 * 3600,
      reallocatedSectors: 0,
      pendingSectors: null, // 197 is "Bogus_Current_Pend_Sect" on this firmware
      offlineUncorrectableSectors: 0,
      messages: [{ text: 'This firmware returns bogus raw values in attribute 197', severity: 'warning' }],
      exitStatus: null,
      error: null,
    });
    t.equal(d.ataAttributes.length, 23);
  },
  'linuxfabrik_smartctl-v6-text-empty-output-v3.txt': (t, text) => {
    disk(t, text, {
      type: 'scsi',
      protocol: 'SCSI',
      model: 'Dell VIRTUAL DISK',
      serial: null,
      firmware: '1028',
      capacityBytes: 7999376588800,
      smartAvailable: false,
      healthy: null,
      temperatureCelsius: null, // "0 C" with trip "0 C"
      ...UNREPORTED,
      error: null,
    });
  },
  'linuxfabrik_smartctl-v6-text-hds721010cla332-warn-attrs.txt': (t, text) => {
    const d = disk(t, text, {
      type: 'ata',
      model: 'Hitachi HDS721010CLA332',
      serial: 'LINUXFABRIKPAV',
      capacityBytes: 1000204886016, // 1’000’204’886’016
      healthy: true,
      temperatureCelsius: 23,
      powerOnSeconds: 33577 * 3600,
      reallocatedSectors: 1,
      pendingSectors: 0,
      offlineUncorrectableSectors: 0,
    });
    t.equal(d.ataAttributes.length, 17);
    t.hasStrict(
      d.ataAttributes.find((a) => a.id === 3),
      { name: 'Spin_Up_Time', value: 130, worst: 130, threshold: 24, raw: '303 (Average 280)' },
    );
  },
  'linuxfabrik_smartctl-v6-text-nvme-3l2qexf7.txt': (t, text) => {
    disk(t, text, {
      type: 'nvme',
      protocol: 'NVMe',
      model: 'SAMSUNG MZVLB512HBJQ-000L7',
      serial: 'LINUXFABRIK759',
      firmware: '3L2QEXF7',
      capacityBytes: 512110190592,
      healthy: true,
      temperatureCelsius: 49,
      powerOnSeconds: 314 * 3600,
      nvme: {
        ...HEALTHY_NVME,
        percentageUsedRatio: 0,
        availableSpareRatio: 1,
        availableSpareThresholdRatio: 0.1,
        errorLogEntries: 346,
        unsafeShutdowns: 58,
        bytesRead: 1634269 * 512000,
        bytesWritten: 3524951 * 512000,
      },
    });
  },
  'linuxfabrik_smartctl-v6-text-st12000vn0007-health-failed.txt': (t, text) => {
    const d = disk(t, text, {
      model: 'ST12000VN0007-2GS116',
      capacityBytes: 12000138625024,
      healthy: false, // FAILED!
      temperatureCelsius: 23,
      powerOnSeconds: 779 * 3600,
      reallocatedSectors: 0,
      pendingSectors: 0,
      offlineUncorrectableSectors: 0,
      error: null,
    });
    t.same(
      d.ataAttributes.filter((a) => a.failed).map((a) => [a.id, a.name, a.failed]),
      [[200, 'Multi_Zone_Error_Rate', 'now']],
    );
    t.equal(d.ataAttributes.length, 22);
  },
  'linuxfabrik_smartctl-v6-text-st32000542as-health-failed.txt': (t, text) => {
    const d = disk(t, text, {
      model: 'ST32000542AS',
      firmware: 'CC34',
      capacityBytes: 2000398934016,
      healthy: false,
      temperatureCelsius: 22,
      powerOnSeconds: 18319 * 3600,
      reallocatedSectors: 3956,
      pendingSectors: 0,
      offlineUncorrectableSectors: 0,
    });
    t.hasStrict(
      d.ataAttributes.find((a) => a.id === 5),
      { value: 4, worst: 4, threshold: 36, failed: 'now', raw: '3956' },
    );
    t.equal(d.messages.length, 3, 'the three "==> WARNING:" blocks');
  },
  'linuxfabrik_smartctl-v6-text-wd40efrx-crit-attrs.txt': (t, text) => {
    const d = disk(t, text, {
      model: 'WDC WD40EFRX-68WT0N0',
      serial: 'LINUXFABRIK3CTD',
      firmware: '82.00A82',
      capacityBytes: 4000787030016,
      healthy: true,
      temperatureCelsius: 24,
      powerOnSeconds: 8804 * 3600,
      reallocatedSectors: 0,
      pendingSectors: 0,
      offlineUncorrectableSectors: 0,
    });
    t.same(
      d.ataAttributes.filter((a) => a.failed),
      [],
      'no attribute at threshold, whatever the file name says',
    );
    t.hasStrict(
      d.ataAttributes.find((a) => a.id === 5),
      { value: 200, threshold: 140 },
    );
  },
  'smartmontools_issue270_unknown_usb_bridge_text.txt': (t, text) => {
    disk(t, text, {
      device: '/dev/sdb',
      type: 'usb',
      protocol: null,
      model: null,
      healthy: null,
      error: '/dev/sdb: Unknown USB bridge [0x0bda:0x9201 (0xf200)]',
    });
  },
  'telegraf_smartctl6.5_darwin_ata_-a_text.txt': (t, text) => {
    const d = disk(t, text, {
      model: 'APPLE SSD SM256E',
      serial: 'S0X5NZBC422720',
      firmware: 'CXM09A1Q',
      capacityBytes: 251000193024,
      healthy: true,
      temperatureCelsius: 34, // 194 wins over 190
      powerOnSeconds: 2988 * 3600,
      reallocatedSectors: 0,
      pendingSectors: 0,
      offlineUncorrectableSectors: null,
    });
    t.hasStrict(
      d.ataAttributes.find((a) => a.id === 190),
      { failed: 'past', threshold: 45, raw: '45 (Min/Max 43/57 #2689)' },
    );
    t.hasStrict(
      d.ataAttributes.find((a) => a.id === 240),
      { raw: '6585h+55m+23.234s' },
    );
  },
  'telegraf_smartctl6.5_nvme_text.txt': (t, text) => {
    disk(t, text, {
      type: 'nvme',
      model: 'TS128GMTE850',
      serial: 'D704940282?',
      firmware: 'C2.3.13',
      capacityBytes: 128035676160, // Namespace 1 Size/Capacity: no total in smartctl 6.5
      healthy: true,
      temperatureCelsius: 38,
      powerOnSeconds: 6038 * 3600,
      nvme: {
        criticalWarning: 9,
        percentageUsedRatio: 0.16,
        availableSpareRatio: 1,
        availableSpareThresholdRatio: 0.1,
        mediaErrors: 0,
        errorLogEntries: 119699,
        unsafeShutdowns: 355,
        bytesRead: 11836935 * 512000,
        bytesWritten: 62288091 * 512000,
      },
    });
  },
  'telegraf_smartctl6.6_freebsd_ssd_raid_text.txt': (t, text) => {
    const d = disk(t, text, {
      model: 'Samsung SSD 850 PRO 256GB',
      serial: 'S251NX0H869353L',
      capacityBytes: 256060514304, // "256 060 514 304 bytes"
      healthy: true,
      temperatureCelsius: 19, // only 190 on this drive
      powerOnSeconds: 26732 * 3600,
      reallocatedSectors: 1,
      pendingSectors: null,
      messages: [{ text: 'This result is based on an Attribute check.', severity: 'warning' }],
    });
    t.equal(d.ataAttributes.length, 14, 'rows indented with tabs');
  },
  'telegraf_smartctl6.6_sas_hgst_text.txt': (t, text) => {
    disk(t, text, {
      type: 'sas',
      protocol: 'SCSI',
      model: 'HGST HUH721212AL5204',
      serial: '8HJ39K3H',
      firmware: 'C3Q1',
      capacityBytes: 12000138625024,
      healthy: true,
      temperatureCelsius: 34,
      powerOnSeconds: null,
      reallocatedSectors: 0,
      pendingSectors: null,
    });
  },
  'telegraf_smartctl6.6_sas_hitachi_text.txt': (t, text) => {
    disk(t, text, {
      type: 'sas',
      model: 'HITACHI HUC103030CSS600',
      serial: 'PDWAR9GE',
      firmware: 'J350',
      capacityBytes: null, // the sample is damaged: "300,$00,000,000 bytes"
      healthy: true,
      temperatureCelsius: 36,
      reallocatedSectors: 0,
    });
  },
  'telegraf_smartctl6.6_sata_hgst_text.txt': (t, text) => {
    const d = disk(t, text, {
      model: 'HGST HTE725050A7E630',
      serial: 'RCE50G20G81S9S',
      firmware: 'GS2OA3E0',
      capacityBytes: 500107862016,
      healthy: true,
      temperatureCelsius: 24,
      powerOnSeconds: 743 * 3600,
      reallocatedSectors: 0,
      pendingSectors: 0,
      offlineUncorrectableSectors: 0,
    });
    t.equal(d.ataAttributes.length, 19);
  },
  'telegraf_smartctl6.6_ssd_text.txt': (t, text) => {
    const d = disk(t, text, {
      model: 'SanDisk Ultra II 240GB',
      capacityBytes: 240057409536, // "240.057.409.536 bytes"
      healthy: true,
      temperatureCelsius: 34,
      powerOnSeconds: 6383 * 3600,
      reallocatedSectors: 0,
    });
    t.equal(d.ataAttributes.length, 25);
    t.hasStrict(
      d.ataAttributes.find((a) => a.id === 232),
      { threshold: 4, raw: '100' },
    );
    t.hasStrict(
      d.ataAttributes.find((a) => a.id === 5),
      { threshold: null },
      '"---": no threshold',
    );
  },
  'telegraf_smartctl7.3_megaraid1_text.txt': (t, text) => {
    disk(t, text, {
      type: 'sas',
      model: 'SEAGATE ST3450857SS',
      firmware: 'ES12',
      capacityBytes: 600000000000,
      healthy: true,
      temperatureCelsius: 37,
      powerOnSeconds: 16003 * 3600 + 18 * 60,
      reallocatedSectors: 0,
    });
    t.hasStrict(
      parseSmartctlText(text, { device: '/dev/bus/0', deviceType: 'megaraid,1', exitStatus: 0 }),
      {
        device: '/dev/bus/0',
        deviceType: 'megaraid,1',
        type: 'megaraid',
        exitStatus: { code: 0 },
      },
      'the transport names the disk and passes the exit code',
    );
  },
  'telegraf_smartctl7.3_nvme_windows_text.txt': (t, text) => {
    disk(t, text, {
      type: 'nvme',
      model: 'Samsung SSD 970 EVO 1TB',
      capacityBytes: 1000204886016, // "1 000 204 886 016 [1,00 TB]"
      healthy: true,
      temperatureCelsius: 47,
      powerOnSeconds: 1290 * 3600, // "1\uFFFD290": a mangled thousands separator
      nvme: {
        ...HEALTHY_NVME,
        percentageUsedRatio: 0,
        availableSpareRatio: 1,
        availableSpareThresholdRatio: 0.1,
        errorLogEntries: 979,
        unsafeShutdowns: 9,
        bytesRead: 16626888 * 512000,
        bytesWritten: 16829004 * 512000,
      },
    });
  },
  'telegraf_smartctl7.4_standby_text.txt': (t, text) => {
    disk(t, text, { inStandby: true, healthy: null, model: null, error: null, exitStatus: decodeExitStatus(2) }, ['openFailedOrLowPower']);
  },
  'telegraf_smartctl7.5_sata_seagate_text.txt': (t, text) => {
    const d = disk(t, text, {
      model: 'ST2000DM006-2DM164',
      capacityBytes: 2000398934016,
      healthy: true,
      temperatureCelsius: 33,
      powerOnSeconds: 28379 * 3600,
      reallocatedSectors: 0,
      pendingSectors: 0,
      offlineUncorrectableSectors: 0,
    });
    t.equal(d.ataAttributes.length, 24);
    t.hasStrict(
      d.ataAttributes.find((a) => a.id === 1),
      { raw: '2765/13191816' },
    );
  },
  'telegraf_smartctl_hgst_ata_attrs_text.txt': (t, text) => {
    // Despite its name (telegraf's mockHGST), a SAS SSD: no ATA attributes.
    const d = disk(t, text, {
      type: 'sas',
      model: 'HGST HUSMM1640ASS200',
      serial: 'ZZZZZZZZZ',
      firmware: 'A360',
      capacityBytes: 400088457216,
      healthy: true,
      temperatureCelsius: 28,
      reallocatedSectors: 0,
    });
    t.same(d.ataAttributes, []);
  },
};

t.test('every fixture file has a named test, and every named test a file', async (t) => {
  const files = readdirSync(DIR).filter((f) => f !== 'SOURCES.md');
  t.same(files.sort(), Object.keys(FIXTURES).sort());
});

for (const [name, check] of Object.entries(FIXTURES)) {
  t.test(name, async (t) => check(t, read(name)));
}

t.test('isSafeDevice accepts real names and types', async (t) => {
  const ok: [string, string][] = [
    ['/dev/sda', 'sat'],
    ['/dev/nvme0', 'nvme'],
    ['/dev/bus/0', 'megaraid,14'],
    ['/dev/bus/0', 'sat+megaraid,0'],
    ['/dev/sdc', 'usbjmicron,x,0'],
    ['/dev/sg2', 'cciss,3'],
    ['/dev/twa0', '3ware,2'],
    ['/dev/sdb', 'hpt,1/1/3'],
    ['/dev/disk/by-id/ata-WDC_WD20EFRX-68EUZN0_WD-WCC4M0XXXXXX', 'sat,auto'],
    ['/dev/disk/by-path/pci-0000:00:1f.2-ata-1', 'sat,12'],
  ];
  for (const [name, type] of ok) t.ok(isSafeDevice(name, type), `${name} -d ${type}`);
});

t.test('isSafeDevice refuses anything a shell could read differently', async (t) => {
  const hostile: [string, string][] = [
    ['/dev/sda; rm -rf /', 'sat'],
    ['/dev/sda', 'sat; reboot'],
    ['/dev/$(reboot)', 'sat'],
    ['/dev/sda', '$(reboot)'],
    ['/dev/`id`', 'sat'],
    ['/dev/sda b', 'sat'],
    ['/dev/sda', 'sat b'],
    ['/dev/../etc/passwd', 'sat'],
    ['/dev/sda/..', 'sat'],
    ['/dev/sda\n/dev/sdb', 'sat'],
    ['/dev/sda', 'sat\nreboot'],
    ['/dev/sda|reboot', 'sat'],
    ['/dev/sda&', 'sat'],
    ['/dev/sda>x', 'sat'],
    ["/dev/sda'", 'sat'],
    ['/dev/sda"', 'sat'],
    ['/dev/sda\\', 'sat'],
    ['/dev/sda\u0000', 'sat'],
    ['sda', 'sat'],
    ['/etc/passwd', 'sat'],
    ['/dev/', 'sat'],
    ['/dev//sda', 'sat'],
    ['-d', 'sat'],
    ['/dev/sda', '-x'],
    ['/dev/sda', ''],
    ['/dev/sda', 'SAT'],
    ['/dev/sda', 'sat,'],
    ['/dev/' + 'a'.repeat(300), 'sat'],
  ];
  for (const [name, type] of hostile) t.notOk(isSafeDevice(name, type), `${JSON.stringify(name)} -d ${JSON.stringify(type)}`);
});

t.test('scans refuse hostile devices with a warning and keep the others', async (t) => {
  const json = JSON.stringify({
    devices: [
      { name: '/dev/sda', type: 'sat', protocol: 'ATA' },
      { name: '/dev/sdb; reboot', type: 'sat', protocol: 'ATA' },
      { name: '/dev/sdc', type: '$(reboot)', protocol: 'ATA' },
      { name: '/dev/sdd', protocol: 'ATA' },
    ],
  });
  const scan = parseScanJson(json);
  t.same(
    scan.devices.map((d) => d.name),
    ['/dev/sda'],
  );
  t.same(scan.warnings, [
    'refused device "/dev/sdb; reboot" with type "sat": not a plain device path and smartctl type',
    'refused device "/dev/sdc" with type "$(reboot)": not a plain device path and smartctl type',
    'devices[3]: no name or type',
  ]);
  const text = parseScanText('/dev/sda -d sat # /dev/sda [SAT], ATA device\n/dev/../sdb -d sat # x, ATA device\nsmartctl: command not found\n');
  t.same(
    text.devices.map((d) => d.name),
    ['/dev/sda'],
  );
  t.same(text.warnings, [
    'refused device "/dev/../sdb" with type "sat": not a plain device path and smartctl type',
    'line 3: not a device line: smartctl: command not found',
  ]);
  t.same(parseScanJson('bash: smartctl: command not found'), { devices: [], warnings: [], error: 'no JSON object in the output' });
});

t.test('the XCP-ng smartctl.py plugin answers', async (t) => {
  const information = JSON.stringify({
    '/dev/bus/0:megaraid,0': JSON.parse(read('xcpng83_smartctl7.0_sat+megaraid0_kingston_ssd_-j-a.json')),
    '/dev/nvme1:nvme': JSON.parse(read('xcpng83_smartctl7.0_nvme_-j-a.json')),
    '/dev/sdz:sat': 'smartctl failed',
  });
  const disks = parsePluginInformation(information);
  t.same(
    disks.map((d) => [d.device, d.deviceType, d.type, d.model, d.healthy, d.error]),
    [
      ['/dev/bus/0', 'megaraid,0', 'megaraid', 'KINGSTON SA400S37240G', true, null],
      ['/dev/nvme1', 'nvme', 'nvme', 'INTEL SSDPED1D280GA', true, null],
      ['/dev/sdz', 'sat', 'sat', null, null, 'plugin returned "smartctl failed" instead of smartctl JSON'],
    ],
  );
  const alone = parseSmartctlJson(read('xcpng83_smartctl7.0_sat+megaraid0_kingston_ssd_-j-a.json'));
  t.same(disks[0], { ...alone, deviceType: 'megaraid,0' }, 'same model as the document alone, keyed by the scan type');
});

t.test('exit status bits', async (t) => {
  t.same(decodeExitStatus(216), {
    code: 216,
    commandLineError: false,
    openFailedOrLowPower: false,
    smartCommandFailed: false,
    diskFailing: true,
    prefailAtThreshold: true,
    pastAtThreshold: false,
    errorLogHasErrors: true,
    selfTestLogHasErrors: true,
  });
  t.same(setBits(decodeExitStatus(1)), ['commandLineError']);
  t.same(setBits(decodeExitStatus(32)), ['pastAtThreshold']);
});

t.test('JSON standby (--nocheck=standby) is not a failure', async (t) => {
  // smartmontools ataprint.cpp: jinf("Device is in %s mode, exit(%d)\n") → an "information" message
  const d = parseSmartctlJson(
    JSON.stringify({
      smartctl: { exit_status: 2, messages: [{ string: 'Device is in STANDBY mode, exit(2)', severity: 'information' }] },
      device: { name: '/dev/sdb', type: 'sat', protocol: 'ATA' },
    }),
  );
  t.hasStrict(d, { device: '/dev/sdb', inStandby: true, error: null, healthy: null });
  t.same(setBits(d.exitStatus), ['openFailedOrLowPower']);
});

t.test('outputs without usable data become a disk with an error', async (t) => {
  t.hasStrict(parseSmartctlText('', { device: '/dev/sda', deviceType: 'sat' }), { device: '/dev/sda', type: 'sat', error: 'empty output' });
  t.match(parseSmartctlJson('{"smartctl": '), { error: /^invalid JSON: / });
  t.hasStrict(parseSmartctlJson('[1]'), { error: 'no JSON object in the output' });
  const openFailed = 'smartctl 6.5 2016-05-07 r4318 [x86_64-linux-4.19.0+1] (local build)\n\nSmartctl open device: /dev/sdq failed: No such device\n';
  t.hasStrict(parseSmartctlText(openFailed, { exitStatus: 2 }), {
    device: '/dev/sdq',
    error: 'Smartctl open device: /dev/sdq failed: No such device',
    exitStatus: { openFailedOrLowPower: true },
  });
  t.hasStrict(parseSmartctlText('smartctl 6.5\n\nsomething unexpected\n'), { error: 'no SMART information in the output' });
  t.hasStrict(parseSmartctlText('smartctl 6.5\n', { exitStatus: 1 }), { error: 'smartctl did not accept its command line' });
});

t.test('text: the old (-a) attribute table and -H alone', async (t) => {
  const old = [
    'smartctl 6.5 2016-05-07 r4318 [x86_64-linux-4.19.0+1] (local build)',
    '=== START OF INFORMATION SECTION ===',
    'Device Model:     ST1000NM0033-9ZM173',
    '=== START OF READ SMART DATA SECTION ===',
    'SMART overall-health self-assessment test result: PASSED',
    'ID# ATTRIBUTE_NAME          FLAG     VALUE WORST THRESH TYPE      UPDATED  WHEN_FAILED RAW_VALUE',
    '  5 Reallocated_Sector_Ct   0x0033   090   090   036    Pre-fail  Always   FAILING_NOW 12',
    '  9 Power_On_Minutes        0x0032   094   094   000    Old_age   Always       -       600',
    '194 Temperature_Celsius     0x0022   036   040   000    Old_age   Always       -       36 (0 18 0 0 0)',
    '197 Current_Pending_Sector  0x0012   100   100   000    Old_age   Always   In_the_past 3',
    '',
  ].join('\n');
  const d = parseSmartctlText(old);
  t.hasStrict(d, { type: 'ata', reallocatedSectors: 12, pendingSectors: 3, temperatureCelsius: 36, powerOnSeconds: 600 * 60 });
  t.same(
    d.ataAttributes.map((a) => a.failed),
    ['now', null, null, 'past'],
  );
  const healthOnly = parseSmartctlText(
    'smartctl 6.5\n=== START OF READ SMART DATA SECTION ===\nSMART Health Status: LOGICAL UNIT FAILURE PREDICTION THRESHOLD EXCEEDED\n',
  );
  t.hasStrict(healthOnly, { healthy: false, error: null });
});
