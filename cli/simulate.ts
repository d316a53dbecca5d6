// `xcp-sentinel simulate`: run a simulated pool, or inject a fault into a running one through its control API.
import { readFileSync } from 'node:fs';
import { createLogger } from '../core/log.js';
import type { RrdShape } from '../simulator/rrd/render.js';
import { UsageError, parse, untilSignal } from './usage.js';

export const DEFAULT_SIM_PORT = 8180;
export const DEFAULT_CONTROL_URL = 'http://127.0.0.1:8181';

const SERVE_HELP = `Usage: xcp-sentinel simulate [options]
  --hosts N            hosts in the pool (default 3)
  --vms-per-host N     guest VMs per host (default 8)
  --disks-per-vm N     disks per VM (default 2)
  --vifs-per-vm N      network interfaces per VM (default 2)
  --vcpus-per-vm N     vCPUs per VM (default 2)
  --first-address A    the master's loopback address; members follow (default 127.0.0.2)
  --port P             XAPI port on every host (default ${DEFAULT_SIM_PORT})
  --control-port P     control API port on 127.0.0.1 (default 8181)
  --rrd-shape S        JSON generation of /rrd_updates: current, nested, legacy (default current)
  --host-dead-after S  seconds before a hung or powered-off host is not live (default 30)
  --auth-delay-ms N    delay before a failed login answers (default 5000, like XAPI)
  --username U, --password-file F   credentials the pool accepts (default root / "simulated")
  --tls-cert F --tls-key F          serve HTTPS
  --seed N             deterministic pool layout and metric curves (default 42)
  --no-hardware        no ipmitool.py / smartctl.py plugins (hosts answer XENAPI_MISSING_PLUGIN); by default
                       they answer from saved real IPMI and SMART outputs (simulator/hardware/data)

Faults (against a running simulator; --control URL, default ${DEFAULT_CONTROL_URL}):
  status | fail-host HOST | power-off HOST | power-on HOST | power-status HOST | recover-host HOST
  kill-toolstack HOST | restart-toolstack HOST | slow-host HOST [--ms N] | malform HOST [--off]
  crash-vm VM [--heartbeat] | vm-status VM | expire-sessions | truth
  suspend-fault VM KIND  make VM.suspend refuse the VM like xapi: pci (VM_HAS_PCI_ATTACHED), vgpu (VM_HAS_VGPU), none
  partition HOST       the host keeps running its VMs but nobody reaches it; heal HOST: it answers again (no reboot)
  bmc-fault HOST MODE [--delay-ms N]   the host's BMC: ok, unreachable, lying-off (always "off", power off does
                       nothing) or hang (never answers); --delay-ms delays every BMC answer
  hardware-fault HOST FAULT   what the host's ipmitool.py / smartctl.py plugins answer, from saved real outputs:
                       failed-fans (fans at 0 RPM, critical sensors), failing-disk (a disk fails its SMART check),
                       nvme-critical (the NVMe drive in critical warning); ok clears the host's faults
HOST is a name, uuid or address; VM a name or uuid.
  --ipmitool-output    power-status/power-off/power-on print what ipmitool prints ("Chassis Power is off",
                       "Chassis Power Control: Down/Off"; errors on stderr, exit 1), so the recovery hook's
                       fencing commands can use the simulator as the BMC:
                       power_status_command: xcp-sentinel simulate power-status {bmc} --control URL --ipmitool-output
                       (no time limit then, like a BMC: a hanging BMC is ended by the caller's timeout)
`;

const FAULTS: Record<string, (target: string, v: Record<string, unknown>) => { path: string; body?: unknown; method?: string }> = {
  status: () => ({ path: '/sim', method: 'GET' }),
  'fail-host': (h) => ({ path: `/sim/hosts/${h}/fail` }),
  'power-off': (h) => ({ path: `/sim/hosts/${h}/power-off` }),
  'power-on': (h) => ({ path: `/sim/hosts/${h}/power-on` }),
  'power-status': (h) => ({ path: `/sim/hosts/${h}/power-status` }),
  'recover-host': (h) => ({ path: `/sim/hosts/${h}/recover` }),
  'kill-toolstack': (h) => ({ path: `/sim/hosts/${h}/kill-toolstack` }),
  'restart-toolstack': (h) => ({ path: `/sim/hosts/${h}/restart-toolstack` }),
  'slow-host': (h, v) => ({ path: `/sim/hosts/${h}/slow`, body: { ms: Number(v.ms ?? 5000) } }),
  malform: (h, v) => ({ path: `/sim/hosts/${h}/malformed`, body: { on: !v.off } }),
  'crash-vm': (vm, v) => ({ path: `/sim/vms/${vm}/crash`, body: { mode: v.heartbeat ? 'heartbeat' : 'halt' } }),
  'vm-status': (vm) => ({ path: `/sim/vms/${vm}`, method: 'GET' }),
  'suspend-fault': (vm, v) => ({ path: `/sim/vms/${vm}/suspend-fault`, body: { kind: v.mode } }),
  'expire-sessions': () => ({ path: '/sim/sessions/expire' }),
  truth: () => ({ path: '/sim/truth', method: 'GET' }),
  partition: (h) => ({ path: `/sim/hosts/${h}/partition` }),
  heal: (h) => ({ path: `/sim/hosts/${h}/heal` }),
  'bmc-fault': (h, v) => ({ path: `/sim/hosts/${h}/bmc`, body: { mode: v.mode, delay_ms: Number(v['delay-ms'] ?? 0) } }),
  'hardware-fault': (h, v) => ({ path: `/sim/hosts/${h}/hardware`, body: { fault: v.mode } }),
};

/** `ipmitool chassis power …` wording for the BMC faults (--ipmitool-output). */
const IPMITOOL_OUTPUT: Record<string, (answer: { power?: string }) => string> = {
  'power-status': (a) => `Chassis Power is ${a.power}`,
  'power-off': () => 'Chassis Power Control: Down/Off',
  'power-on': () => 'Chassis Power Control: Up/On',
};

export async function simulateCommand(args: string[]): Promise<number> {
  const first = args[0];
  if (first && !first.startsWith('-')) return faultCommand(first, args.slice(1));
  const { values: v } = parse(
    args,
    {
      hosts: { type: 'string' },
      'vms-per-host': { type: 'string' },
      'disks-per-vm': { type: 'string' },
      'vifs-per-vm': { type: 'string' },
      'vcpus-per-vm': { type: 'string' },
      'first-address': { type: 'string' },
      port: { type: 'string' },
      'control-port': { type: 'string' },
      'rrd-shape': { type: 'string' },
      'host-dead-after': { type: 'string' },
      'auth-delay-ms': { type: 'string' },
      username: { type: 'string' },
      'password-file': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      seed: { type: 'string' },
      'no-hardware': { type: 'boolean' },
    },
    SERVE_HELP,
  );
  const int = (name: string, value: string | undefined, def: number, min = 0, max = 1e9) => {
    if (value === undefined) return def;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${value}"`);
    return n;
  };
  const shape = (v['rrd-shape'] ?? 'current') as RrdShape;
  if (!['current', 'nested', 'legacy'].includes(shape)) throw new UsageError('--rrd-shape must be current, nested or legacy');
  if (Boolean(v['tls-cert']) !== Boolean(v['tls-key'])) throw new UsageError('--tls-cert and --tls-key go together');
  const first4 = v['first-address'] ?? '127.0.0.2';
  if (!/^127\.\d+\.\d+\.\d+$/.test(first4)) throw new UsageError('--first-address must be a loopback address (127.x.y.z)');
  const logger = createLogger();
  // Loaded here, not at the top: fault commands (run once per BMC call when the simulator is the BMC) stay light.
  const { startSimulation } = await import('../simulator/run.js');
  const sim = await startSimulation({
    logger,
    port: int('port', v.port, DEFAULT_SIM_PORT, 0, 65535),
    controlPort: int('control-port', v['control-port'], 8181, 0, 65535),
    firstAddress: first4,
    seed: int('seed', v.seed, 42),
    rrdShape: shape,
    hostDeadAfterMs: int('host-dead-after', v['host-dead-after'], 30, 0, 86400) * 1000,
    authFailureDelayMs: int('auth-delay-ms', v['auth-delay-ms'], 5000, 0, 60000),
    username: v.username ?? 'root',
    password: v['password-file'] ? readFileSync(v['password-file'], 'utf8').trim() : 'simulated',
    hardware: v['no-hardware'] ? false : undefined,
    tls: v['tls-cert'] ? { cert: readFileSync(v['tls-cert'], 'utf8'), key: readFileSync(v['tls-key']!, 'utf8') } : undefined,
    size: {
      hosts: int('hosts', v.hosts, 3, 1, 250),
      vmsPerHost: int('vms-per-host', v['vms-per-host'], 8, 0, 1000),
      disksPerVm: int('disks-per-vm', v['disks-per-vm'], 2, 0, 16),
      vifsPerVm: int('vifs-per-vm', v['vifs-per-vm'], 2, 0, 8),
      vcpusPerVm: int('vcpus-per-vm', v['vcpus-per-vm'], 2, 1, 64),
      hostCpus: 16,
    },
  });
  const status = sim.control.status();
  logger.info('simulated pool running', { pool: status.pool, url: sim.url, control: sim.controlUrl, hosts: status.hosts.length, vms: status.vms });
  await untilSignal();
  await sim.stop();
  return 0;
}

async function faultCommand(name: string, args: string[]): Promise<number> {
  const make = FAULTS[name];
  if (!make) throw new UsageError(`unknown fault "${name}"\n\n${SERVE_HELP}`);
  const { values, positionals } = parse(
    args,
    {
      control: { type: 'string' },
      ms: { type: 'string' },
      off: { type: 'boolean' },
      heartbeat: { type: 'boolean' },
      'ipmitool-output': { type: 'boolean' },
      'delay-ms': { type: 'string' },
    },
    SERVE_HELP,
    true,
  );
  const needsTarget = !['status', 'expire-sessions', 'truth'].includes(name);
  if (name === 'bmc-fault') {
    if (positionals.length !== 2) throw new UsageError('bmc-fault takes a host and a mode (ok, unreachable, lying-off, hang)');
  } else if (name === 'suspend-fault') {
    if (positionals.length !== 2) throw new UsageError('suspend-fault takes a VM and a kind (pci, vgpu, none)');
  } else if (name === 'hardware-fault') {
    if (positionals.length !== 2) throw new UsageError('hardware-fault takes a host and a fault (failed-fans, failing-disk, nvme-critical, ok)');
  } else if (needsTarget && positionals.length !== 1) throw new UsageError(`${name} takes exactly one target`);
  const { path, body, method } = make(encodeURIComponent(positionals[0] ?? ''), { ...values, mode: positionals[1] });
  const base = values.control ?? process.env.XCP_SENTINEL_SIM_CONTROL ?? DEFAULT_CONTROL_URL;
  const ipmitool = values['ipmitool-output'] ? IPMITOOL_OUTPUT[name] : undefined;
  let res: Response;
  try {
    res = await fetch(base + path, {
      method: method ?? 'POST',
      headers: { 'content-type': 'application/json' },
      body: method === 'GET' ? undefined : JSON.stringify(body ?? {}),
      // As ipmitool: the BMC's own pace (a hanging BMC hangs the command); everything else gives up after 10 s.
      signal: ipmitool ? undefined : AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new UsageError(`cannot reach the simulator's control API at ${base}: ${(err as Error).cause ?? (err as Error).message}`);
  }
  const text = await res.text();
  if (ipmitool) {
    // Like ipmitool: the answer on stdout, an error on stderr and exit status 1 (an unreachable BMC's error is
    // already ipmitool's own wording).
    const failure = res.ok ? undefined : (JSON.parse(text) as { error?: string; bmc?: string });
    if (!failure) process.stdout.write(ipmitool(JSON.parse(text)) + '\n');
    else process.stderr.write(`${failure.bmc === 'unreachable' ? '' : 'Error: '}${failure.error ?? text}\n`);
    return res.ok ? 0 : 1;
  }
  process.stdout.write(JSON.stringify(JSON.parse(text), null, 2) + '\n');
  return res.ok ? 0 : 1;
}
