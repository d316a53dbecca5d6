// A pool's `hardware:` settings: how IPMI sensors and SMART disk health are read (SSH to dom0, the XCP-ng XAPI
// plugins, or not at all) and how often.
import { readFileSync } from 'node:fs';
import { type Ctx, type Path, type Schema, bool, dict, num, obj, oneOf, optional, report, str, withDefault } from '../../core/config/schema.js';

export type HardwareTransport = 'ssh' | 'plugin' | 'none';
/** `sensor`, `sdr-elist`: ipmitool; `freeipmi`: FreeIPMI's ipmi-sensors, for hosts without ipmitool (no DCMI then). */
export type IpmiCommand = 'sensor' | 'sdr-elist' | 'freeipmi';

export interface HardwareSshConfig {
  user: string;
  port: number;
  privateKeyFile: string;
  knownHostsFile?: string;
  /** Host name (XAPI name_label) or address → `SHA256:…`. Wins over the known_hosts file. */
  fingerprints: Record<string, string>;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** Hosts worked on at the same time (IPMI and SMART together). */
  concurrency: number;
  /** Prefix commands with `sudo -n` (a non-root user with a sudoers rule for ipmitool and smartctl). */
  sudo: boolean;
}

export interface HardwareConfig {
  transport: HardwareTransport;
  ipmi: { enabled: boolean; intervalMs: number; command: IpmiCommand; dcmi: boolean };
  smart: { enabled: boolean; intervalMs: number };
  /** Present when transport is ssh. */
  ssh?: HardwareSshConfig;
  plugin: { callTimeoutMs: number; concurrency: number };
}

const SSH_FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

const IPMI_DEFAULTS = { enabled: true, interval_seconds: 60, command: 'sensor' as IpmiCommand, dcmi: true };
const SMART_DEFAULTS = { enabled: true, interval_seconds: 300 };
const PLUGIN_DEFAULTS = { call_timeout_seconds: 60, concurrency: 4 };

const shape = obj({
  transport: withDefault(oneOf(['ssh', 'plugin', 'none'] as const), 'none'),
  ipmi: withDefault(
    obj({
      enabled: withDefault(bool(), true),
      interval_seconds: withDefault(num({ min: 1, max: 86400 }), IPMI_DEFAULTS.interval_seconds),
      command: withDefault(oneOf(['sensor', 'sdr-elist', 'freeipmi'] as const), 'sensor'),
      dcmi: withDefault(bool(), true),
    }),
    IPMI_DEFAULTS,
  ),
  smart: withDefault(
    obj({
      enabled: withDefault(bool(), true),
      interval_seconds: withDefault(num({ min: 1, max: 86400 }), SMART_DEFAULTS.interval_seconds),
    }),
    SMART_DEFAULTS,
  ),
  ssh: optional(
    obj({
      user: withDefault(str({ minLength: 1 }), 'root'),
      port: withDefault(num({ min: 1, max: 65535, integer: true }), 22),
      private_key_file: str({ minLength: 1 }),
      known_hosts_file: optional(str({ minLength: 1 })),
      host_key_fingerprints: withDefault(
        dict(str({ pattern: SSH_FINGERPRINT, patternHint: 'an OpenSSH fingerprint like SHA256:base64 (ssh-keygen -lf)' })),
        {},
      ),
      connect_timeout_seconds: withDefault(num({ min: 1, max: 300 }), 10),
      command_timeout_seconds: withDefault(num({ min: 1, max: 3600 }), 30),
      concurrency: withDefault(num({ min: 1, max: 64, integer: true }), 4),
      sudo: withDefault(bool(), false),
    }),
  ),
  plugin: withDefault(
    obj({
      call_timeout_seconds: withDefault(num({ min: 1, max: 3600 }), PLUGIN_DEFAULTS.call_timeout_seconds),
      concurrency: withDefault(num({ min: 1, max: 64, integer: true }), PLUGIN_DEFAULTS.concurrency),
    }),
    PLUGIN_DEFAULTS,
  ),
});

export const HARDWARE_NONE: HardwareConfig = {
  transport: 'none',
  ipmi: { enabled: false, intervalMs: IPMI_DEFAULTS.interval_seconds * 1000, command: 'sensor', dcmi: true },
  smart: { enabled: false, intervalMs: SMART_DEFAULTS.interval_seconds * 1000 },
  plugin: { callTimeoutMs: PLUGIN_DEFAULTS.call_timeout_seconds * 1000, concurrency: PLUGIN_DEFAULTS.concurrency },
};

/** A file that must be readable now, so a bad path fails at start and names its key. */
function readable(file: string, path: Path, ctx: Ctx, baseDir: string): string {
  const full = file.startsWith('/') ? file : `${baseDir}/${file}`;
  try {
    readFileSync(full);
  } catch (err) {
    report(ctx, path, `cannot read ${full}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return full;
}

export function hardwareSchema(sc: { baseDir: string }): Schema<HardwareConfig> {
  return {
    describe: 'the hardware (IPMI, SMART) settings',
    defaultValue: () => structuredClone(HARDWARE_NONE),
    parse(value, path, ctx) {
      const raw = shape.parse(value, path, ctx);
      if (!raw) return undefined;
      const before = ctx.problems.length;
      const out: HardwareConfig = {
        transport: raw.transport,
        ipmi: { enabled: raw.ipmi.enabled, intervalMs: raw.ipmi.interval_seconds * 1000, command: raw.ipmi.command, dcmi: raw.ipmi.dcmi },
        smart: { enabled: raw.smart.enabled, intervalMs: raw.smart.interval_seconds * 1000 },
        plugin: { callTimeoutMs: raw.plugin.call_timeout_seconds * 1000, concurrency: raw.plugin.concurrency },
      };
      if (raw.transport === 'none') {
        out.ipmi.enabled = false;
        out.smart.enabled = false;
      }
      if (raw.transport === 'plugin' && raw.ipmi.command !== 'sensor') {
        report(ctx, [...path, 'ipmi', 'command'], 'only applies to transport: ssh (the ipmitool.py plugin always reads `sdr list`)');
      }
      const s = raw.ssh;
      if (raw.transport === 'ssh' && !s)
        report(ctx, [...path, 'ssh'], 'is required with transport: ssh (private_key_file, and known_hosts_file or host_key_fingerprints)');
      if (raw.transport === 'ssh' && s) {
        const sshPath = [...path, 'ssh'];
        if (!s.known_hosts_file && Object.keys(s.host_key_fingerprints).length === 0) {
          report(ctx, sshPath, 'needs known_hosts_file or host_key_fingerprints: host keys are always pinned');
        }
        const shortest = Math.min(...[raw.ipmi, raw.smart].filter((c) => c.enabled).map((c) => c.interval_seconds));
        if (s.command_timeout_seconds >= shortest) {
          report(ctx, [...sshPath, 'command_timeout_seconds'], `must be shorter than the shortest enabled interval_seconds (${shortest})`);
        }
        out.ssh = {
          user: s.user,
          port: s.port,
          privateKeyFile: readable(s.private_key_file, [...sshPath, 'private_key_file'], ctx, sc.baseDir),
          knownHostsFile: s.known_hosts_file ? readable(s.known_hosts_file, [...sshPath, 'known_hosts_file'], ctx, sc.baseDir) : undefined,
          fingerprints: s.host_key_fingerprints,
          connectTimeoutMs: s.connect_timeout_seconds * 1000,
          commandTimeoutMs: s.command_timeout_seconds * 1000,
          concurrency: s.concurrency,
          sudo: s.sudo,
        };
      }
      return ctx.problems.length > before ? undefined : out;
    },
  };
}

/** Whether anything is collected. */
export function hardwareEnabled(h: HardwareConfig | undefined): h is HardwareConfig {
  return Boolean(h && h.transport !== 'none' && (h.ipmi.enabled || h.smart.enabled));
}
