// The IPMI parsers against every saved sample in test/fixtures/ipmi (origins in SOURCES.md there). Every value
// asserted below was read from the fixture by hand.

import { readFileSync, readdirSync } from 'node:fs';
import t, { type Test } from 'tap';
import {
  type IpmiSensor,
  type SensorListing,
  parseDcmiPowerReading,
  parseFreeIpmiSensors,
  parseIpmitoolSensor,
  parseSdrElist,
  parseSdrList,
  pickHostPower,
  sensorsFromSdrRows,
} from '../../exporter/hardware/ipmi/parse.js';
import { uniqueSensors } from '../../exporter/hardware/ipmi/listing.js';
import { statusState } from '../../exporter/hardware/ipmi/state.js';

const DIR = new URL('../fixtures/ipmi/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, DIR), 'utf8');

function sensor(l: SensorListing, key: string): IpmiSensor {
  const s = l.sensors.find((x) => x.sensor === key);
  if (!s) throw new Error(`no sensor ${key} in ${l.sensors.map((x) => x.sensor).join(', ')}`);
  return s;
}

function counts(l: SensorListing, field: 'kind' | 'state'): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of l.sensors) out[s[field]] = (out[s[field]] ?? 0) + 1;
  return out;
}

const FIXTURES: Record<string, (t: Test, text: string) => void> = {
  'dell_ipmitool_sdr_list_xcpng_plugin_test.txt': (t, text) => {
    const l = parseSdrList(text);
    t.equal(l.sensors.length, 12);
    t.same(l.warnings, []);
    t.hasStrict(sensor(l, 'SEL'), { kind: 'other', value: null, unit: null, status: 'ns', state: 'unknown' });
    t.hasStrict(sensor(l, 'Intrusion'), { kind: 'discrete', value: 0, unit: null, status: 'ok', state: 'ok' });
    t.hasStrict(sensor(l, 'Fan4A'), { kind: 'fan', value: 4680, unit: 'rpm', state: 'ok' });
    t.hasStrict(sensor(l, 'Inlet Temp'), { kind: 'temperature', value: 24, unit: 'celsius' });
    t.hasStrict(sensor(l, 'Exhaust Temp'), { kind: 'temperature', value: 35 });
    // Dell lists one `Temp` per CPU: both kept, the second made unique.
    t.hasStrict(sensor(l, 'Temp'), { name: 'Temp', value: 45 });
    t.hasStrict(sensor(l, 'Temp #2'), { name: 'Temp', value: 42 });
    t.same(counts(l, 'kind'), { other: 1, discrete: 1, fan: 6, temperature: 4 });
    t.equal(pickHostPower(l.sensors), null, 'no power sensor in this listing');
  },

  'hp_proliant_ilo2_ipmitool_sdr_elist_full.txt': (t, text) => {
    const l = parseSdrElist(text);
    t.equal(l.sensors.length, 43);
    t.same(l.warnings, []);
    // status column says ok, the states say the supply failed
    t.hasStrict(sensor(l, 'Power Supply 1'), {
      kind: 'power',
      value: 0,
      unit: 'watts',
      status: 'ok',
      state: 'critical',
      entityId: '10.1',
      recordId: '06h',
      events: ['Presence detected', 'Failure detected'],
    });
    t.hasStrict(sensor(l, 'Power Supply 2'), { kind: 'power', value: 95, state: 'ok', events: ['Presence detected'] });
    t.hasStrict(sensor(l, 'Power Supplies'), { kind: 'discrete', value: null, state: 'warning', events: ['Non-Redundant: Sufficient from Redundant'] });
    t.hasStrict(sensor(l, 'Fan Block 1'), { kind: 'fan', value: 21.56, unit: 'percent', state: 'ok', events: ['Transition to Running'] });
    t.hasStrict(sensor(l, 'Temp 4'), { kind: 'temperature', value: null, status: 'ns', state: 'unknown', events: [] });
    t.hasStrict(sensor(l, 'Temp 17'), { value: 30, unit: 'celsius', entityId: '8.10', recordId: '1Eh' });
    t.hasStrict(sensor(l, 'Temp 28'), { value: 73, entityId: '66.1' });
    t.hasStrict(sensor(l, 'Power Meter'), { kind: 'power', value: 100, unit: 'watts', events: ['Device Enabled'] });
    t.hasStrict(sensor(l, 'Memory'), {
      kind: 'discrete',
      state: 'warning',
      events: ['Correctable ECC', 'Correctable ECC logging limit reached', 'Presence Detected'],
    });
    t.hasStrict(sensor(l, 'VRM 1'), { kind: 'discrete', state: 'ok', events: ['Device Present'] });
    t.hasStrict(sensor(l, 'UID Light'), { kind: 'discrete', value: null, state: 'ok', events: [] });
    t.same(counts(l, 'kind'), { discrete: 7, power: 3, fan: 5, temperature: 28 });
    t.same(counts(l, 'state'), { ok: 39, critical: 1, warning: 2, unknown: 1 });
    t.same(pickHostPower(l.sensors), { watts: 100, source: 'psu' }, 'Power Meter');
  },

  'hpe_ilo4_freeipmi_ipmimonitoring_annotated.txt': (t, text) => {
    const l = parseFreeIpmiSensors(text);
    t.equal(l.format, 'freeipmi');
    t.equal(l.sensors.length, 63, 'header skipped (after its byte-order mark)');
    // The saved listing wrapped one event field onto its own line: reported, not guessed at.
    t.same(l.warnings, ["line 58: not a sensor row: Failure detected' 'Power Supply input lost (AC/DC)'"]);
    t.hasStrict(sensor(l, '01-Inlet Ambient'), {
      kind: 'temperature',
      value: 19,
      unit: 'celsius',
      status: 'Nominal',
      state: 'ok',
      recordId: '2',
      events: ['OK'],
    });
    t.hasStrict(sensor(l, '19-PCI 1'), { value: 72, recordId: '20' });
    t.hasStrict(sensor(l, 'Fan 1 DutyCycle'), { kind: 'fan', value: 26.66, unit: 'percent', state: 'ok', events: ['OK'] });
    t.hasStrict(sensor(l, 'Fan 1'), { kind: 'discrete', value: null, state: 'ok', events: ['transition to Running'] });
    t.hasStrict(sensor(l, 'Power Supply 2'), { kind: 'discrete', status: 'Critical', state: 'critical', recordId: '62', events: ['Presence detected'] });
    t.hasStrict(sensor(l, 'PS 1 Output'), { kind: 'power', value: 1275, unit: 'watts', state: 'ok' });
    t.hasStrict(sensor(l, 'PS 1 Presence'), { kind: 'discrete', status: 'N/A', state: 'unknown', events: ['Device Inserted/Device Present'] });
    t.hasStrict(sensor(l, 'UID'), { kind: 'discrete', state: 'unknown', recordId: '0', events: ['OEM Event = 0002h'] });
    t.same(counts(l, 'state'), { unknown: 4, ok: 58, critical: 1 });
    t.same(counts(l, 'kind'), { discrete: 27, temperature: 26, fan: 8, power: 2 });
    t.same(pickHostPower(l.sensors), { watts: 2550, source: 'psu' }, 'no system sensor: the sum of the supply outputs');
  },

  'huawei_2288hv5_ipmimonitoring_csv_partial.txt': (t, text) => {
    const l = parseFreeIpmiSensors(text);
    t.equal(l.sensors.length, 23);
    t.same(l.warnings, []);
    t.hasStrict(sensor(l, 'Inlet Temp'), { kind: 'temperature', value: 27, unit: 'celsius', status: 'Nominal', state: 'ok', recordId: '1', events: [] });
    // DTS / margin readings are offsets below Tjmax in "unspecified" units: not temperatures in °C.
    t.hasStrict(sensor(l, 'CPU1 DTS'), { kind: 'other', value: -60, unit: 'unspecified' });
    t.hasStrict(sensor(l, 'Cpu2 Margin'), { kind: 'other', value: -50 });
    t.hasStrict(sensor(l, 'SYS 12V_1'), { kind: 'voltage', value: 12.18, unit: 'volts' });
    t.hasStrict(sensor(l, 'FAN4 Speed'), { kind: 'fan', value: 5760, unit: 'rpm' });
    t.same(counts(l, 'kind'), { temperature: 7, other: 4, voltage: 8, fan: 4 });
    t.same(counts(l, 'state'), { ok: 23 });
  },

  'ibm_systemx_ipmitool_sdr_v1.txt': (t, text) => {
    const l = parseSdrList(text);
    t.equal(l.sensors.length, 133);
    t.same(l.warnings, []);
    t.hasStrict(sensor(l, 'Ambient Temp'), { kind: 'temperature', value: 20, unit: 'celsius' });
    t.hasStrict(sensor(l, 'Altitude'), { kind: 'other', value: 80, unit: 'feet' });
    t.hasStrict(sensor(l, 'Avg Power'), { kind: 'power', value: 210, unit: 'watts' });
    t.hasStrict(sensor(l, 'Planar VBAT'), { kind: 'voltage', value: 3.05, unit: 'volts' });
    t.hasStrict(sensor(l, 'Fan 1A Tach'), { kind: 'fan', value: 2610, unit: 'rpm' });
    t.hasStrict(sensor(l, 'Fan 1'), { kind: 'discrete', value: 0, state: 'ok' });
    t.hasStrict(sensor(l, 'DIMM 18 Temp'), { kind: 'discrete', value: 0 });
    t.hasStrict(sensor(l, 'DASD Backplane 3'), { kind: 'other', value: null, status: 'ns', state: 'unknown' });
    t.same(counts(l, 'kind'), { temperature: 1, other: 3, power: 1, voltage: 4, fan: 6, discrete: 118 });
    t.same(counts(l, 'state'), { ok: 131, unknown: 2 });
    t.same(pickHostPower(l.sensors), { watts: 210, source: 'psu' });
  },

  'ipmitool_dcmi_power_reading.txt': (t, text) => {
    const dcmi = parseDcmiPowerReading(text);
    t.same(dcmi, { currentWatts: 167, minimumWatts: 124, maximumWatts: 422, averageWatts: 156, samplingPeriodSeconds: 699043, active: true });
    t.same(pickHostPower([], dcmi), { watts: 167, source: 'dcmi' });
    const meter = parseIpmitoolSensor('Power Meter      | 160.000    | Watts      | ok    | na | na | na | na | na | na');
    t.same(pickHostPower(meter.sensors, dcmi), { watts: 167, source: 'dcmi' }, 'DCMI first');
    t.same(pickHostPower(meter.sensors, { ...dcmi, active: false }), { watts: 160, source: 'psu' }, 'deactivated DCMI is skipped');
    t.same(pickHostPower(meter.sensors, { ...dcmi, currentWatts: 0 }), { watts: 160, source: 'psu' }, '0 W is not a measurement');
    t.same(parseDcmiPowerReading(text.replace(/^/gm, '    ')), dcmi, 'Dell indents every line');
  },

  'ipmitool_sdr_with_unable_to_send_errors.txt': (t, text) => {
    const l = parseSdrList(text);
    t.equal(l.sensors.length, 9);
    t.same(
      l.warnings,
      [8, 10, 12].map((n) => `line ${n}: not a sensor row: Unable to send command: Invalid argument`),
    );
    t.hasStrict(sensor(l, 'B'), { kind: 'discrete', value: 0, state: 'ok' });
    t.hasStrict(sensor(l, 'ECC Corr Err'), { value: null, status: 'ns', state: 'unknown' });
    t.hasStrict(sensor(l, 'Planar 12V'), { kind: 'voltage', value: 12.04 });
  },

  'linuxfabrik_ipmitool_sensor_thirtyeight-sensors-ok.txt': (t, text) => {
    const l = parseIpmitoolSensor(text);
    t.equal(l.sensors.length, 141, 'the name says 38; the file (HPE iLO) has 141 rows');
    t.same(l.warnings, []);
    const inlet = sensor(l, '01-Inlet Ambient');
    t.hasStrict(inlet, { kind: 'temperature', value: 23, unit: 'celsius', status: 'ok', state: 'ok' });
    t.same(inlet.thresholds, { upperCritical: 42, upperNonRecoverable: 47 });
    // absent CPU: no reading, no unit; still a temperature (HPE numbers its temperature sensors)
    t.hasStrict(sensor(l, '03-CPU 2'), { kind: 'temperature', value: null, unit: null, status: 'na', state: 'unknown' });
    t.same(sensor(l, '03-CPU 2').thresholds, { upperCritical: 70 });
    t.hasStrict(sensor(l, '34-PCI 3'), { value: 85 });
    t.hasStrict(sensor(l, 'Fan 3 DutyCycle'), { kind: 'fan', value: 11.76, unit: 'percent', state: 'ok' });
    t.hasStrict(sensor(l, 'Fan 1 DutyCycle'), { kind: 'fan', value: null, state: 'unknown' });
    // discrete bitmasks: 0x0280 = state 1 "device present"; 0x8080 = processor presence; 0x4080 = memory presence
    t.hasStrict(sensor(l, 'Fan 3 Presence'), { kind: 'discrete', value: 0, status: '0x0280', state: 'ok' });
    t.hasStrict(sensor(l, 'CPU_Stat_C1'), { status: '0x8080', state: 'ok' });
    t.hasStrict(sensor(l, 'Mem_Stat_C01S01'), { status: '0x4080', state: 'ok' });
    t.hasStrict(sensor(l, 'Megacell Status'), { status: '0x0480', state: 'ok' });
    t.hasStrict(sensor(l, 'Power Supplies'), { status: '0x0180', state: 'ok' });
    t.hasStrict(sensor(l, 'LOM_Link_P1'), { status: '0x0280', state: 'unknown' }, 'sensor type not recognisable from the name');
    t.hasStrict(sensor(l, 'CPU Utilization'), { kind: 'other', value: 0, unit: 'unspecified' });
    t.hasStrict(sensor(l, 'PS 2 Output'), { kind: 'power', value: 85, unit: 'watts' });
    t.same(counts(l, 'state'), { unknown: 53, ok: 88 });
    t.same(counts(l, 'kind'), { discrete: 67, temperature: 64, fan: 6, power: 3, other: 1 });
    t.same(pickHostPower(l.sensors), { watts: 160, source: 'psu' }, 'Power Meter before the sum of PS outputs');
  },

  'linuxfabrik_ipmitool_sensor_thirtyeight-sensors-with-critical.txt': (t, text) => {
    const l = parseIpmitoolSensor(text);
    t.equal(l.sensors.length, 42);
    t.same(l.warnings, []);
    t.hasStrict(sensor(l, 'FAN 1'), { kind: 'fan', value: 600, status: 'nc', state: 'warning' });
    t.hasStrict(sensor(l, 'FAN1'), { value: 0, status: 'nr', state: 'critical' });
    t.hasStrict(sensor(l, 'FAN3'), { value: 0, state: 'critical' });
    t.hasStrict(sensor(l, 'FAN3 #2'), { name: 'FAN3', value: 1700, state: 'critical' });
    t.hasStrict(sensor(l, 'FAN4 #2'), { name: 'FAN4', value: null, status: 'na', state: 'unknown' });
    t.hasStrict(sensor(l, 'Chassis Intru'), { kind: 'discrete', value: 0, status: '0x0000', state: 'ok' });
    t.hasStrict(sensor(l, 'Chassis Intru #2'), { value: 1, status: '0x0100', state: 'warning' }, 'general chassis intrusion asserted');
    t.hasStrict(sensor(l, 'CPU Temp'), { kind: 'discrete', state: 'ok' });
    t.hasStrict(sensor(l, 'CPU Temp #2'), { kind: 'temperature', value: 25 });
    t.same(sensor(l, 'Ambient Temp').thresholds, { upperNonCritical: 38, upperCritical: 41, upperNonRecoverable: 45 });
    t.same(sensor(l, 'Fan 1 Tach').thresholds, { lowerCritical: 750 });
    t.same(counts(l, 'state'), { ok: 33, warning: 2, critical: 6, unknown: 1 });
    t.same(pickHostPower(l.sensors), { watts: 300, source: 'psu' }, 'AVG Power');
  },

  'linuxfabrik_ipmitool_sensor_thirtyone-sensors-ok.txt': (t, text) => {
    const l = parseIpmitoolSensor(text);
    t.equal(l.sensors.length, 35);
    t.same(l.warnings, []);
    t.hasStrict(sensor(l, 'CPU Temp'), { kind: 'temperature', value: 77, state: 'ok' });
    t.hasStrict(sensor(l, 'FAN1'), { kind: 'fan', value: 13200 });
    t.hasStrict(sensor(l, 'VBAT'), { kind: 'voltage', value: 3.131 });
    t.hasStrict(sensor(l, 'PS1 Status'), { kind: 'discrete', value: 1, status: '0x0100', state: 'ok' }, 'power supply presence');
    t.same(counts(l, 'state'), { ok: 33, unknown: 2 });
    t.equal(pickHostPower(l.sensors), null);
  },

  'linuxfabrik_ipmitool_sensor_twentyfive-sensors-ok.txt': (t, text) => {
    const l = parseIpmitoolSensor(text);
    t.equal(l.sensors.length, 36);
    t.same(l.warnings, []);
    t.same(sensor(l, 'System Temp').thresholds, {
      lowerNonRecoverable: -10,
      lowerCritical: -5,
      lowerNonCritical: 0,
      upperNonCritical: 80,
      upperCritical: 85,
      upperNonRecoverable: 90,
    });
    t.hasStrict(sensor(l, 'DIMMA2 Temp'), { kind: 'temperature', value: null, state: 'unknown' });
    t.equal(sensor(l, 'DIMMA2 Temp').thresholds, null);
    t.hasStrict(sensor(l, 'FAN5'), { kind: 'fan', value: null });
    t.hasStrict(sensor(l, '1.05V PCH'), { kind: 'voltage', value: 1.059 });
    t.hasStrict(sensor(l, 'PS2 Status'), { status: '0x0100', state: 'ok' });
    t.same(counts(l, 'kind'), { temperature: 15, fan: 6, voltage: 12, discrete: 3 });
  },

  'supermicro_x9_ipmitool_sensor.txt': (t, text) => {
    const l = parseIpmitoolSensor(text);
    t.equal(l.sensors.length, 66);
    t.same(l.warnings, []);
    t.hasStrict(sensor(l, 'CPU1 Temp'), { kind: 'temperature', value: 33, unit: 'celsius', state: 'ok' });
    t.same(sensor(l, 'PCH Temp').thresholds, {
      lowerNonRecoverable: -11,
      lowerCritical: -8,
      lowerNonCritical: -5,
      upperNonCritical: 90,
      upperCritical: 95,
      upperNonRecoverable: 100,
    });
    t.hasStrict(sensor(l, 'P1-DIMMA3 TEMP'), { kind: 'temperature', value: null, state: 'unknown' });
    t.hasStrict(sensor(l, 'HDD Status'), { kind: 'discrete', status: 'na', state: 'unknown' });
    t.hasStrict(sensor(l, 'HDD Status #2'), { name: 'HDD Status', kind: 'discrete' }, 'listed twice by the BMC');
    t.hasStrict(sensor(l, 'FAN2'), { kind: 'fan', value: 3000 });
    t.hasStrict(sensor(l, 'FANA'), { kind: 'fan', value: null });
    t.hasStrict(sensor(l, '+1.1 V'), { kind: 'voltage', value: 1.104 });
    t.hasStrict(sensor(l, '12V'), { kind: 'voltage', value: 12.084 });
    t.hasStrict(sensor(l, 'PS1 Status'), { value: 1, state: 'ok' });
    t.hasStrict(sensor(l, 'I/O Board VRD'), { status: '0x0100', state: 'unknown' });
    t.same(counts(l, 'kind'), { temperature: 37, discrete: 6, fan: 8, voltage: 15 });
    t.same(counts(l, 'state'), { ok: 30, unknown: 36 });
    t.equal(pickHostPower(l.sensors), null);
  },

  'telegraf_curated_ipmitool_sdr_elist_v2.txt': (t, text) => {
    const l = parseSdrElist(text);
    t.equal(l.sensors.length, 7);
    t.same(l.warnings, []);
    t.hasStrict(sensor(l, 'SEL'), { kind: 'other', value: null, status: 'ns', state: 'unknown', entityId: '7.1', recordId: '72h' });
    t.hasStrict(sensor(l, 'Intrusion'), { kind: 'discrete', state: 'ok', events: [] });
    t.hasStrict(sensor(l, 'Fan1'), { kind: 'fan', value: 5040, unit: 'rpm' });
    t.hasStrict(sensor(l, 'USB Cable Pres'), { kind: 'discrete', state: 'ok', events: ['Connected'] });
    t.hasStrict(sensor(l, 'Current 1'), { kind: 'current', value: 7.2, unit: 'amperes', entityId: '10.1' });
    t.hasStrict(sensor(l, 'Power Supply 1'), { kind: 'power', value: 110, unit: 'watts', state: 'ok', events: ['Presence detected'] });
  },
};

t.test('every fixture file has a named test, and every named test a file', async (t) => {
  const files = readdirSync(DIR).filter((f) => f !== 'SOURCES.md');
  t.same(files.sort(), Object.keys(FIXTURES).sort());
});

for (const [name, check] of Object.entries(FIXTURES)) {
  t.test(name, async (t) => check(t, read(name)));
}

t.test('rows as the XCP-ng plugin returns them (get_all_sensors) read like sdr list', async (t) => {
  // Shape from xcp-ng-xapi-plugins tests/test_ipmitool.py
  const rows = [
    { name: 'SEL', value: 'Not Readable', event: 'ns' },
    { name: 'Temp', value: '45 degrees C', event: 'ok' },
    { name: 'Temp', value: '42 degrees C', event: 'ok' },
  ];
  const l = sensorsFromSdrRows(rows);
  t.same(l, parseSdrList('SEL | Not Readable | ns\nTemp | 45 degrees C | ok\nTemp | 42 degrees C | ok\n'));
  t.same(
    l.sensors.map((s) => s.sensor),
    ['SEL', 'Temp', 'Temp #2'],
  );
});

t.test('status codes', async (t) => {
  const cases: [string, string, string][] = [
    ['ok', 'X', 'ok'],
    ['lnc', 'X', 'warning'],
    ['unc', 'X', 'warning'],
    ['lcr', 'X', 'critical'],
    ['ucr', 'X', 'critical'],
    ['lnr', 'X', 'critical'],
    ['ns', 'X', 'unknown'],
    ['Warning', 'X', 'warning'],
    ['0x0280', 'PS1 Status', 'critical'], // power supply failure detected
    ['0x0480', 'PS1 Status', 'warning'], // predictive failure
    ['0x0980', 'Power Supply 2', 'critical'], // present, AC lost
    ['0x0280', 'Mem_Stat_C01S01', 'critical'], // uncorrectable ECC
    ['0x0280', 'Dr_Stat_1I3_B004', 'critical'], // drive fault
    ['0x0280', 'Fans', 'warning'], // redundancy lost
    ['0x0180', 'CPU_Stat_C1', 'critical'], // IERR
    ['0x0081', 'CPU_Stat_C1', 'warning'], // state 8: processor disabled (second byte)
    ['0x0200', 'Megacell Status', 'critical'], // battery failed
    ['0x0100', 'Something OEM', 'unknown'],
    ['0x0080', 'Something OEM', 'ok'], // only the reserved bit
  ];
  for (const [status, name, want] of cases) t.equal(statusState(status, name), want, `${status} on ${name}`);
});

t.test('FreeIPMI ipmi-sensors without a state column judges by its events', async (t) => {
  const l = parseFreeIpmiSensors(
    [
      'ID | Name | Type | Reading | Units | Event',
      "5 | PS 1 | Power Supply | N/A | N/A | 'Presence detected' 'Power Supply Failure detected'",
      "6 | Temp | Temperature | 104.00 | F | 'OK'",
    ].join('\n'),
  );
  t.hasStrict(l.sensors[0], { kind: 'discrete', status: '', state: 'critical' });
  t.hasStrict(l.sensors[1], { kind: 'temperature', value: 40, unit: 'celsius', state: 'ok' }, 'converted from °F');
});

t.test('lines that are not rows are warnings, the rows around them are kept', async (t) => {
  const sensor = parseIpmitoolSensor('Unable to send command: Invalid argument\nCPU Temp | 40.000 | degrees C | ok | na | na | na | 90.000 | 95.000 | na\n');
  t.same(
    sensor.sensors.map((s) => [s.sensor, s.value]),
    [['CPU Temp', 40]],
  );
  t.same(sensor.warnings, ['line 1: not a sensor row: Unable to send command: Invalid argument']);
  const elist = parseSdrElist('Fan1 | 30h | ok | 7.1 | 5040 RPM\nGet SDR 0042 command failed\n');
  t.same(
    elist.sensors.map((s) => [s.sensor, s.value]),
    [['Fan1', 5040]],
  );
  t.same(elist.warnings, ['line 2: not a sensor row: Get SDR 0042 command failed']);
});

t.test('unique keys never collide with a real name', async (t) => {
  const base = parseSdrList('Temp | 1 degrees C | ok\nTemp | 2 degrees C | ok\nTemp #2 | 3 degrees C | ok').sensors;
  t.same(
    uniqueSensors(base).map((s) => s.sensor),
    ['Temp', 'Temp #2', 'Temp #2 #2'],
  );
});

t.test('a DCMI failure is rejected with the reason', async (t) => {
  t.throws(() => parseDcmiPowerReading('DCMI request failed because: Invalid command (c1)'), { name: 'ProtocolError', message: /not a DCMI power reading/ });
});

t.test('temperatures in degrees F and K are read in Celsius, thresholds too', async (t) => {
  // ipmitool's `sensor` columns: name | reading | unit | status | lnr | lcr | lnc | unc | ucr | unr (ipmitool's
  // unit names, lib/ipmi_sdr.c unit_desc: "degrees C", "degrees F", "degrees K").
  const { sensors } = parseIpmitoolSensor(
    [
      'Inlet F | 77.000 | degrees F | ok | na | na | na | 104.000 | 113.000 | na',
      'Inlet K | 300.150 | degrees K | ok | na | na | na | 313.150 | 318.150 | na',
    ].join('\n'),
  );
  const round = (v: number | null | undefined) => (v == null ? v : Math.round(v * 1000) / 1000);
  t.same(
    sensors.map((s) => [s.sensor, s.kind, s.unit, round(s.value), round(s.thresholds?.upperNonCritical), round(s.thresholds?.upperCritical)]),
    [
      ['Inlet F', 'temperature', 'celsius', 25, 40, 45],
      ['Inlet K', 'temperature', 'celsius', 27, 40, 45],
    ],
  );
});
