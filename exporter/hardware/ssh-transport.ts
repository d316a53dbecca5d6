// IPMI and SMART over SSH: ipmitool and smartctl run on dom0, on one reused connection per host, each under
// coreutils `timeout` (see run()).
//
// Commands: `ipmitool sensor` (or `ipmitool sdr elist`, or FreeIPMI's `ipmi-sensors --output-sensor-state` on hosts
// without ipmitool), `ipmitool dcmi power reading`, `smartctl --scan-open
// --json`, then `smartctl --json -a --nocheck=standby -d TYPE DEV` per device — `--nocheck=standby` makes smartctl
// leave a sleeping disk asleep (it answers "Device is in STANDBY mode" instead). smartctl 6.x (XCP-ng 8.2) has no
// --json: the text forms are used instead, once the host said so. Device names and types from the scan are
// allow-listed (isSafeDevice) before they reach a command line; anything else is refused, never quoted.
import { errorKind } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { HostKeyError, SshAuthError, SshClient, type SshResult, type SshTarget } from '../../core/ssh/index.js';
import type { HardwareConfig, HardwareSshConfig, IpmiCommand } from './config.js';
import {
  type DcmiPowerReading,
  type SensorListing,
  parseDcmiPowerReading,
  parseFreeIpmiSensors,
  parseIpmitoolSensor,
  parseSdrElist,
  pickHostPower,
} from './ipmi/parse.js';
import { failedDisk } from './smart/disk.js';
import { type DeviceScan, type SmartDisk, isSafeDevice, parseScanJson, parseScanText, parseSmartctlJson, parseSmartctlText } from './smart/parse.js';
import { type HardwareHost, type HardwareTransport, HardwareUnavailable, type IpmiReading, type SmartReading } from './transport.js';

/** Failures after which the other devices of the host are not tried in this cycle (the host went away). */
const GIVE_UP_AFTER = 2;
/** The host-side `timeout` fires this long after ours, so what we report is our TimeoutError. */
const REMOTE_TIMEOUT_GRACE_S = 2;

/** The sensor listing of `ipmi.command`: the command line, the tool it runs and the parser of its output. */
const SENSOR_COMMANDS: Record<IpmiCommand, { line: string; tool: string; parse: (text: string) => SensorListing }> = {
  sensor: { line: 'ipmitool sensor', tool: 'ipmitool', parse: parseIpmitoolSensor },
  'sdr-elist': { line: 'ipmitool sdr elist', tool: 'ipmitool', parse: parseSdrElist },
  // FreeIPMI's own state column (Nominal/Warning/Critical) judges its rows like ipmitool's status.
  freeipmi: { line: 'ipmi-sensors --output-sensor-state', tool: 'ipmi-sensors', parse: parseFreeIpmiSensors },
};

const firstLine = (text: string) => text.trim().split('\n')[0]?.slice(0, 200) ?? '';

/** A command that ran but failed; errorKind() reads it as `other`. */
export class CommandFailed extends Error {
  override name = 'CommandFailed';
}

/** Errors that mean "this host cannot be reached as configured": no point trying more commands on it now. */
const fatal = (err: unknown) => err instanceof HostKeyError || err instanceof SshAuthError || errorKind(err) === 'connection';

export class SshHardwareTransport implements HardwareTransport {
  readonly kind = 'ssh';
  readonly concurrency: number;
  private readonly ssh: SshClient;
  private readonly cfg: HardwareSshConfig;
  /** Hosts whose BMC has no DCMI power reading: not asked again. */
  private readonly noDcmi = new Set<string>();
  /** Hosts whose smartctl predates --json (6.x). */
  private readonly textOnly = new Set<string>();

  constructor(
    private readonly hw: HardwareConfig,
    private readonly logger: Logger,
  ) {
    if (!hw.ssh) throw new Error('transport ssh needs ssh settings');
    this.cfg = hw.ssh;
    this.concurrency = hw.ssh.concurrency;
    const intervals = [hw.ipmi, hw.smart].filter((c) => c.enabled).map((c) => c.intervalMs);
    this.ssh = new SshClient({
      user: this.cfg.user,
      port: this.cfg.port,
      privateKeyFile: this.cfg.privateKeyFile,
      hostKeys: { fingerprints: this.cfg.fingerprints, knownHostsFile: this.cfg.knownHostsFile },
      connectTimeoutMs: this.cfg.connectTimeoutMs,
      // Kept open across one interval of the most frequent collector, closed when no longer used.
      idleTimeoutMs: 2 * Math.min(...intervals, 300_000) + 10_000,
    });
  }

  /**
   * Run `command` under coreutils `timeout` on the host too, a little after our own deadline: OpenSSH ignores
   * signal requests on root sessions, so without it a hung ipmitool would run on dom0 until it exits by itself,
   * and one more would pile up every cycle. sudo goes inside, so sudoers rules name ipmitool and smartctl.
   */
  private run(host: HardwareHost, command: string): Promise<SshResult> {
    const target: SshTarget = { name: host.name, address: host.address };
    const remoteSeconds = Math.ceil(this.cfg.commandTimeoutMs / 1000) + REMOTE_TIMEOUT_GRACE_S;
    const line = `timeout -k 5 ${remoteSeconds} ${this.cfg.sudo ? 'sudo -n ' : ''}${command}`;
    return this.ssh.exec(target, line, this.cfg.commandTimeoutMs);
  }

  /** Why a command printed nothing usable: the tool is missing, sudo refused, or the command failed. */
  private failure(result: SshResult, tool: string, command: string): Error {
    const err = firstLine(result.stderr) || firstLine(result.stdout);
    // bash: "bash: line 1: ipmitool: command not found", dash: "sh: 1: ipmitool: not found",
    // coreutils: "timeout: failed to run command 'ipmitool': No such file or directory"
    const missing =
      /(?:^|: )([\w.-]+): (?:command )?not found/m.exec(result.stderr)?.[1] ?? /failed to run command ['‘]([^'’]+)['’]: No such file/.exec(result.stderr)?.[1];
    if (missing === 'sudo') return new CommandFailed(`sudo is not installed on the host, but ssh.sudo is true (${err})`);
    if (missing && missing !== tool) return new CommandFailed(`${missing} is not installed on the host (${err})`);
    if (missing || result.code === 127) return new HardwareUnavailable(`${tool} is not installed on the host (${err || `exit ${result.code}`})`);
    if (/^sudo: /m.test(result.stderr)) return new CommandFailed(`sudo refused "${command}": ${err}`);
    return new CommandFailed(`"${command}" failed (exit ${result.code ?? result.signal}): ${err || 'no output'}`);
  }

  async ipmi(host: HardwareHost): Promise<IpmiReading> {
    const sensors = SENSOR_COMMANDS[this.hw.ipmi.command];
    const result = await this.run(host, sensors.line);
    const listing = sensors.parse(result.stdout);
    if (listing.sensors.length === 0) {
      // ipmitool: "Could not open device at /dev/ipmi0"; FreeIPMI: "could not find inband device".
      if (/Could not open device|could not find inband device/i.test(result.stderr)) {
        throw new HardwareUnavailable(`no IPMI device on the host (${firstLine(result.stderr)})`);
      }
      throw result.code === 0
        ? new CommandFailed(`"${sensors.line}" listed no sensor: ${firstLine(result.stdout) || 'empty output'}`)
        : this.failure(result, sensors.tool, sensors.line);
    }
    const errors: unknown[] = [];
    let dcmi: DcmiPowerReading | null = null;
    // DCMI is read with ipmitool: a FreeIPMI host takes its power from its power sensors.
    if (this.hw.ipmi.dcmi && sensors.tool === 'ipmitool' && !this.noDcmi.has(host.uuid)) {
      try {
        dcmi = await this.dcmi(host);
      } catch (err) {
        if (fatal(err)) throw err;
        errors.push(err);
      }
    }
    return { sensors: listing.sensors, power: pickHostPower(listing.sensors, dcmi), warnings: listing.warnings, errors };
  }

  /** Null when the BMC has no DCMI (remembered: not asked again); throws on transport failures. */
  private async dcmi(host: HardwareHost): Promise<DcmiPowerReading | null> {
    const result = await this.run(host, 'ipmitool dcmi power reading');
    try {
      return parseDcmiPowerReading(result.stdout);
    } catch {
      this.noDcmi.add(host.uuid);
      this.logger.info('BMC has no DCMI power reading; host power comes from its power sensors', {
        host: host.name,
        output: firstLine(result.stderr) || firstLine(result.stdout),
      });
      return null;
    }
  }

  async smart(host: HardwareHost): Promise<SmartReading> {
    const { scan, json } = await this.scan(host);
    if (scan.error) throw new CommandFailed(`"smartctl --scan-open" output unusable: ${scan.error}`);
    const disks: SmartDisk[] = [];
    const errors: unknown[] = [];
    let failures = 0;
    for (const device of scan.devices) {
      const hint = { device: device.name, deviceType: device.type };
      if (device.openError) {
        disks.push(failedDisk(hint, `smartctl cannot open the device: ${device.openError}`));
        continue;
      }
      // parseScan* already refused unsafe names; checked again right where the command line is built.
      if (!isSafeDevice(device.name, device.type)) continue;
      if (failures >= GIVE_UP_AFTER) {
        disks.push(failedDisk(hint, 'not read: the host stopped answering earlier in this cycle'));
        continue;
      }
      const command = json
        ? `smartctl --json -a --nocheck=standby -d ${device.type} ${device.name}`
        : `smartctl -a --nocheck=standby -d ${device.type} ${device.name}`;
      try {
        const result = await this.run(host, command);
        disks.push(json ? parseSmartctlJson(result.stdout, hint) : parseSmartctlText(result.stdout, { ...hint, exitStatus: result.code ?? undefined }));
        failures = 0;
      } catch (err) {
        if (err instanceof HostKeyError || err instanceof SshAuthError) throw err;
        failures++;
        errors.push(err);
        disks.push(failedDisk(hint, (err as Error).message));
      }
    }
    return { disks, warnings: scan.warnings, errors };
  }

  private async scan(host: HardwareHost): Promise<{ scan: DeviceScan; json: boolean }> {
    if (!this.textOnly.has(host.uuid)) {
      const result = await this.run(host, 'smartctl --scan-open --json');
      const scan = parseScanJson(result.stdout);
      if (!scan.error) return { scan, json: true };
      // smartctl 6.x: "=======> UNRECOGNIZED OPTION: json"
      if (!/UNRECOGNIZED OPTION/i.test(result.stdout + result.stderr)) {
        throw result.code === 0
          ? new CommandFailed(`"smartctl --scan-open --json": ${scan.error}`)
          : this.failure(result, 'smartctl', 'smartctl --scan-open --json');
      }
      this.textOnly.add(host.uuid);
      this.logger.info('smartctl on the host has no --json (smartctl 6.x): reading its text output', { host: host.name });
    }
    const result = await this.run(host, 'smartctl --scan-open');
    if (result.code !== 0 && result.stdout.trim() === '') throw this.failure(result, 'smartctl', 'smartctl --scan-open');
    return { scan: parseScanText(result.stdout), json: false };
  }

  async retain(hosts: readonly HardwareHost[]): Promise<void> {
    const uuids = new Set(hosts.map((h) => h.uuid));
    for (const set of [this.noDcmi, this.textOnly]) for (const uuid of set) if (!uuids.has(uuid)) set.delete(uuid);
    await this.ssh.retain(hosts.map((h) => ({ name: h.name, address: h.address })));
  }

  close(): Promise<void> {
    return this.ssh.close();
  }
}
