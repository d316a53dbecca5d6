// The XCP-ng 8.3 hardware plugins, simulated: `ipmitool.py` and `smartctl.py` answering host.call_plugin like
// the real ones (xcp-ng/xcp-ng-xapi-plugins), from the project's saved real outputs (simulator/hardware/data, copied from test/fixtures/ipmi, smart).
//
//   ipmitool.py is_ipmi_device_available → "true" / "false" (json.dumps of a bool)
//   ipmitool.py get_all_sensors          → JSON [{name, value, event}], `ipmitool sdr list` split on "|";
//                                          without a BMC: plugin failure "1" ["IPMI not available"]
//   smartctl.py information              → JSON {"<device>:<type>": <smartctl -j -a document>}
//   smartctl.py health                   → JSON {"<device>:<type>": "PASSED" | "FAILED"}; like the real plugin it
//                                          fails as a whole ("-1") when one document has no smart_status
//   anything else                        → UNKNOWN_XENAPI_PLUGIN_FUNCTION [fn]
//
// Each host gets one of three hardware profiles by its index (0, 1, 2, 0, …), so a pool's answers are fixed:
// 0 a Dell with a MegaRAID SATA SSD and an Intel NVMe (the plugin's own test data), 1 an IBM System x with two
// SATA disks and a worn-in NVMe, 2 a Supermicro with failed fans, a USB disk that FAILS its SMART check with
// reallocated sectors and an NVMe in critical warning. HARDWARE_FAULTS give a host profile 2's faulty answers at
// run time, one by one. Fixtures are read once, on first use.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XapiError } from '../../core/errors.js';
import type { HostRuntime } from '../pool.js';
import type { PluginHandler } from '../xapi/dispatch.js';

export interface SdrRow {
  name: string;
  value: string;
  event: string;
}

interface Profile {
  /** `ipmitool sdr list` text, or an `ipmitool sensor` listing converted to it. */
  ipmi: { file: string; format: 'sdr-list' | 'sensor' };
  /** "<device>:<type>" → smartctl -j -a fixture. */
  disks: Record<string, string>;
}

export const PROFILES: readonly Profile[] = [
  {
    ipmi: { file: 'ipmi/dell_ipmitool_sdr_list_xcpng_plugin_test.txt', format: 'sdr-list' },
    disks: {
      '/dev/bus/0:megaraid,0': 'smart/xcpng83_smartctl7.0_sat+megaraid0_kingston_ssd_-j-a.json',
      '/dev/nvme1:nvme': 'smart/xcpng83_smartctl7.0_nvme_-j-a.json',
    },
  },
  {
    ipmi: { file: 'ipmi/ibm_systemx_ipmitool_sdr_v1.txt', format: 'sdr-list' },
    disks: {
      '/dev/sda:sat': 'smart/smartctl_exporter_SAMSUNG_MZ7WD240HAFV-00003_21.json',
      '/dev/sdb:sat': 'smart/smartctl_exporter_WDC_WD20EFRX-68EUZN0_17.json',
      '/dev/nvme0:nvme': 'smart/telegraf_smartctl7.4_json_nvme.json',
    },
  },
  {
    ipmi: { file: 'ipmi/linuxfabrik_ipmitool_sensor_thirtyeight-sensors-with-critical.txt', format: 'sensor' },
    disks: {
      '/dev/sda:sat': 'smart/smartctl_exporter_sat-Phison_Driven_SSDs-KINGSTON_SA400M8120G-sda.json',
      '/dev/sdc:usbjmicron': 'smart/scrutiny_smart-fail2.json',
      '/dev/nvme0:nvme': 'smart/smartctl_exporter_nvme-null-SAMSUNG_MZWLL3T2HAJQ-00005-nvme0.json',
    },
  },
];

/** The saved outputs the plugins answer from: simulator/hardware/data (copied into dist/ by the build), each file
 * copied unchanged from test/fixtures, origins in data/ORIGIN.md. */
export const HARDWARE_DATA_DIR = join(dirname(fileURLToPath(import.meta.url)), 'data');

/** `ipmitool sdr list` rows as the plugin builds them: each non-empty line split on "|", trimmed. */
export function sdrRows(text: string): SdrRow[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('|').map((f) => f.trim()))
    .filter((f) => f.length >= 3)
    .map(([name, value, event]) => ({ name: name!, value: value!, event: event! }));
}

/** `ipmitool sensor` rows (name | reading | unit | status | thresholds…) in `sdr list` form: "600.000" "RPM" →
 * "600 RPM", `na` → "No Reading" / "ns", a discrete reading → "0x01" with the bitmask status → "ok". */
export function sensorRowsAsSdr(text: string): SdrRow[] {
  return text
    .split('\n')
    .map((l) => l.split('|').map((f) => f.trim()))
    .filter((f) => f.length >= 4 && f[0] !== '')
    .map(([name, reading, unit, status]) => {
      if (reading === 'na') return { name: name!, value: 'No Reading', event: 'ns' };
      if (unit === 'discrete') return { name: name!, value: `0x${parseInt(reading!, 16).toString(16).padStart(2, '0')}`, event: 'ok' };
      return { name: name!, value: `${Number(reading)} ${unit}`, event: /^0x/i.test(status!) ? 'ok' : status! };
    });
}

/** Hardware faults a host can be given at run time (`xcp-sentinel simulate hardware-fault HOST FAULT`), each from the
 * saved real outputs of profile 2: a healthy demo pool starts without them and gets them on demand. */
export const HARDWARE_FAULTS = {
  'failed-fans': 'the BMC reads like the captured Supermicro: fans at 0 RPM, sensors non-recoverable or critical',
  'failing-disk': 'a USB disk (/dev/sdc) that fails its SMART check, reallocated sectors failing now',
  'nvme-critical': 'the NVMe drive reports a critical warning (volatile memory backup failed) and fails its SMART check',
} as const;
export type HardwareFault = keyof typeof HARDWARE_FAULTS;
const FAULTY = PROFILES[2]!;
const FAILING_DISK = '/dev/sdc:usbjmicron';
const CRITICAL_NVME = FAULTY.disks['/dev/nvme0:nvme']!;

export interface HardwareSimOptions {
  /** Indexes of hosts without a BMC (is_ipmi_device_available → false). */
  withoutIpmi?: number[];
  /** Where the saved outputs are (default HARDWARE_DATA_DIR). */
  dataDir?: string;
  /** Indexes into PROFILES, given to the hosts in turn (default 0, 1, 2; the demo's healthy pool: 0, 1). */
  profiles?: number[];
}

/** The answers of every host, changeable at run time (a disk pulled, a BMC gone). */
export class SimulatedHardware {
  readonly withoutIpmi: Set<number>;
  /** Per host index: disks removed from its answers. */
  readonly removedDisks = new Map<number, Set<string>>();
  /** Per host index: the faults injected (HARDWARE_FAULTS). */
  private readonly faults = new Map<number, Set<HardwareFault>>();
  private readonly dir: string;
  private readonly profiles: number[];
  private readonly cache = new Map<string, string>();

  constructor(o: HardwareSimOptions = {}) {
    this.dir = o.dataDir ?? HARDWARE_DATA_DIR;
    this.withoutIpmi = new Set(o.withoutIpmi ?? []);
    this.profiles = o.profiles?.length ? o.profiles : PROFILES.map((_, i) => i);
  }

  private read(file: string): string {
    let text = this.cache.get(file);
    if (text === undefined) {
      text = readFileSync(join(this.dir, file), 'utf8');
      this.cache.set(file, text);
    }
    return text;
  }

  profile(host: HostRuntime): Profile {
    return PROFILES[this.profiles[host.index % this.profiles.length]!]!;
  }

  sensors(host: HostRuntime): SdrRow[] {
    const { file, format } = (this.faultsOf(host.index).has('failed-fans') ? FAULTY : this.profile(host)).ipmi;
    const text = this.read(file);
    return format === 'sdr-list' ? sdrRows(text) : sensorRowsAsSdr(text);
  }

  /** "<device>:<type>" → parsed smartctl document, without removed disks. */
  disks(host: HostRuntime): Record<string, Record<string, unknown>> {
    const removed = this.removedDisks.get(host.index) ?? new Set();
    const out: Record<string, Record<string, unknown>> = {};
    const faults = this.faultsOf(host.index);
    const disks = { ...this.profile(host).disks };
    if (faults.has('failing-disk')) disks[FAILING_DISK] = FAULTY.disks[FAILING_DISK]!;
    if (faults.has('nvme-critical')) {
      // The host's own NVMe drive degrades (the first one; a host without one gets the faulty drive as nvme0).
      const nvme = Object.keys(disks).find((k) => k.endsWith(':nvme')) ?? '/dev/nvme0:nvme';
      disks[nvme] = CRITICAL_NVME;
    }
    for (const [key, file] of Object.entries(disks)) if (!removed.has(key)) out[key] = JSON.parse(this.read(file));
    return out;
  }

  faultsOf(hostIndex: number): ReadonlySet<HardwareFault> {
    return this.faults.get(hostIndex) ?? new Set();
  }

  /** Inject a fault, or clear every fault of the host with "ok". */
  setFault(hostIndex: number, fault: HardwareFault | 'ok'): void {
    if (fault === 'ok') this.faults.delete(hostIndex);
    else this.faults.set(hostIndex, new Set(this.faultsOf(hostIndex)).add(fault));
  }

  removeDisk(hostIndex: number, key: string): void {
    this.removedDisks.set(hostIndex, (this.removedDisks.get(hostIndex) ?? new Set()).add(key));
  }

  private ipmitool: PluginHandler = (host, fn) => {
    const present = !this.withoutIpmi.has(host.index);
    switch (fn) {
      case 'is_ipmi_device_available':
        return JSON.stringify(present);
      case 'get_all_sensors':
        // raise_plugin_error(1, "IPMI not available"): the plugin's Failure code becomes the XAPI error code.
        if (!present) throw new XapiError('1', ['IPMI not available', '', ''], 'host.call_plugin');
        return JSON.stringify(this.sensors(host));
      default:
        throw new XapiError('UNKNOWN_XENAPI_PLUGIN_FUNCTION', [fn], 'host.call_plugin');
    }
  };

  private smartctl: PluginHandler = (host, fn) => {
    switch (fn) {
      case 'information':
        return JSON.stringify(this.disks(host));
      case 'health': {
        const out: Record<string, string> = {};
        for (const [key, doc] of Object.entries(this.disks(host))) {
          const status = doc.smart_status as { passed?: boolean } | undefined;
          if (!status) throw new XapiError('-1', ["'smart_status'", '', 'Traceback (most recent call last): KeyError'], 'host.call_plugin');
          out[key] = status.passed ? 'PASSED' : 'FAILED';
        }
        return JSON.stringify(out);
      }
      default:
        throw new XapiError('UNKNOWN_XENAPI_PLUGIN_FUNCTION', [fn], 'host.call_plugin');
    }
  };

  /** The handlers for startSimulation's `plugins`. */
  plugins(): Map<string, PluginHandler> {
    return new Map([
      ['ipmitool.py', this.ipmitool],
      ['smartctl.py', this.smartctl],
    ]);
  }
}
