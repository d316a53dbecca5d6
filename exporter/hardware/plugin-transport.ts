// IPMI and SMART through the XCP-ng XAPI plugins (host.call_plugin on the pool master, no SSH):
// `ipmitool.py` (is_ipmi_device_available, get_all_sensors = `ipmitool sdr list` as JSON rows) and `smartctl.py`
// (information = `smartctl -j -a` per device, keyed "<device>:<type>"), as XCP-ng 8.3 ships them.
//
// Limits of the plugins, not ours: no thresholds, no DCMI (host power comes from the power sensors), and
// smartctl.py runs smartctl without --nocheck, so it wakes disks in standby — keep smart.interval_seconds long
// on hosts whose disks spin down, or use transport ssh. `health` is not used: one device without a
// `smart_status` makes the whole call fail; `information` carries the same verdict per disk.
import { ProtocolError, XapiError } from '../../core/errors.js';
import type { XapiClient } from '../../core/xapi/client.js';
import type { HardwareConfig } from './config.js';
import { type SdrListRow, pickHostPower, sensorsFromSdrRows } from './ipmi/parse.js';
import { parsePluginInformation } from './smart/parse.js';
import { type HardwareHost, type HardwareTransport, HardwareUnavailable, type IpmiReading, type SmartReading } from './transport.js';

export type PluginCaller = Pick<XapiClient, 'callWithTimeout'>;

/** XAPI's answers for a plugin (or a function of it) that the host does not have. */
const MISSING = new Set(['XENAPI_MISSING_PLUGIN', 'UNKNOWN_XENAPI_PLUGIN_FUNCTION']);

function rowsOf(answer: string): SdrListRow[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer);
  } catch (err) {
    throw new ProtocolError(`ipmitool.py get_all_sensors: invalid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new ProtocolError('ipmitool.py get_all_sensors: not a JSON list');
  return parsed.flatMap((r: unknown) => {
    const row = r as Partial<Record<keyof SdrListRow, unknown>> | null;
    return row && typeof row.name === 'string' && typeof row.value === 'string' && typeof row.event === 'string'
      ? [{ name: row.name, value: row.value, event: row.event }]
      : [];
  });
}

export class PluginHardwareTransport implements HardwareTransport {
  readonly kind = 'plugin';
  readonly concurrency: number;
  private readonly timeoutMs: number;
  /** Hosts whose BMC answered: not probed again until get_all_sensors says otherwise. */
  private readonly hasIpmi = new Set<string>();

  constructor(
    private readonly xapi: PluginCaller,
    hw: HardwareConfig,
  ) {
    this.concurrency = hw.plugin.concurrency;
    this.timeoutMs = hw.plugin.callTimeoutMs;
  }

  private async call(host: HardwareHost, plugin: string, fn: string): Promise<string> {
    try {
      const answer = await this.xapi.callWithTimeout<unknown>(this.timeoutMs, 'host.call_plugin', host.ref, plugin, fn, {});
      if (typeof answer !== 'string') throw new ProtocolError(`${plugin} ${fn}: answer is not a string`);
      return answer;
    } catch (err) {
      if (err instanceof XapiError && MISSING.has(err.code)) throw new HardwareUnavailable(`the host has no XAPI plugin ${plugin} (${fn}): ${err.code}`);
      throw err;
    }
  }

  async ipmi(host: HardwareHost): Promise<IpmiReading> {
    if (!this.hasIpmi.has(host.uuid)) {
      const available = (await this.call(host, 'ipmitool.py', 'is_ipmi_device_available')).trim();
      if (available !== 'true') throw new HardwareUnavailable(`no IPMI device on the host (ipmitool.py is_ipmi_device_available: ${available})`);
      this.hasIpmi.add(host.uuid);
    }
    let answer: string;
    try {
      answer = await this.call(host, 'ipmitool.py', 'get_all_sensors');
    } catch (err) {
      // The plugin's own probe failed ("IPMI not available"): the BMC went away; probe again next time.
      if (err instanceof XapiError && err.params.some((p) => /IPMI not available/i.test(p))) {
        this.hasIpmi.delete(host.uuid);
        throw new HardwareUnavailable('no IPMI device on the host (ipmitool.py: IPMI not available)');
      }
      throw err;
    }
    const listing = sensorsFromSdrRows(rowsOf(answer));
    if (listing.sensors.length === 0) throw new ProtocolError('ipmitool.py get_all_sensors returned no sensor');
    return { sensors: listing.sensors, power: pickHostPower(listing.sensors, null), warnings: listing.warnings, errors: [] };
  }

  async smart(host: HardwareHost): Promise<SmartReading> {
    const disks = parsePluginInformation(await this.call(host, 'smartctl.py', 'information'));
    return { disks, warnings: [], errors: [] };
  }

  async retain(hosts: readonly HardwareHost[]): Promise<void> {
    const uuids = new Set(hosts.map((h) => h.uuid));
    for (const uuid of this.hasIpmi) if (!uuids.has(uuid)) this.hasIpmi.delete(uuid);
  }

  async close(): Promise<void> {}
}
