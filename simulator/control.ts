// The simulator's control API (loopback only): inspect the pool and inject faults. The CLI's
// `xcp-sentinel simulate fail-host|crash-vm|kill-toolstack|…` commands call it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/log.js';
import { Aborted, BMC_MODES, type BmcMode, BmcUnreachable, SimulatedBmcs } from './faults/bmc.js';
import { healHost, partitionHost } from './faults/host.js';
import { HARDWARE_FAULTS, type HardwareFault, type SimulatedHardware } from './hardware/plugins.js';
import type { Ref } from './model/types.js';
import type { HostRuntime, SimulatedPool } from './pool.js';
import type { SimServer } from './server.js';
import { SUSPEND_FAULTS, type SuspendFault, setSuspendFault } from './suspend.js';

export class ControlServer {
  private server?: http.Server;
  /** The hosts' BMCs, as `xcp-sentinel simulate power-off|power-status` (and fencing through it) reach them. */
  readonly bmc: SimulatedBmcs;

  constructor(
    private readonly pool: SimulatedPool,
    private readonly sim: SimServer,
    private readonly logger: Logger,
    /** The hardware plugins, when the simulation has them (hardware faults). */
    private readonly hardware?: SimulatedHardware,
  ) {
    this.bmc = new SimulatedBmcs(pool);
  }

  async start(port: number, host = '127.0.0.1'): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, resolve);
    });
    const addr = this.server.address() as AddressInfo;
    return `http://${host}:${addr.port}`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((r) => this.server!.close(r));
  }

  status() {
    const { store } = this.pool;
    const hosts = this.pool.hosts.map((h) => {
      const rec = store.get('host', h.ref)!;
      return {
        name: rec.name_label,
        uuid: rec.uuid,
        address: h.address,
        url: this.sim.urlOf(h),
        master: h.ref === this.pool.master.ref,
        // pool.conf: what the host itself believes (two "master" roles = two masters).
        role: ((r) => (r.kind === 'master' ? 'master' : `slave of ${r.master}`))(this.pool.roles.roleOf(h)),
        emergency_mode: this.pool.roles.inEmergencyMode(h),
        power: h.powered ? 'on' : 'off',
        crashed: h.crashed,
        partitioned: h.partitioned,
        bmc: this.bmc.state(h).mode,
        toolstack: h.toolstackUp ? 'up' : 'down',
        live: this.pool.isLive(h.ref),
        enabled: rec.enabled,
        slow_ms: h.slowMs,
        malformed: h.malformed,
        hardware_faults: this.hardware ? [...this.hardware.faultsOf(h.index)] : null,
        resident_vms: (rec.resident_VMs as Ref[]).filter((r) => !store.get('VM', r)?.is_control_domain).length,
      };
    });
    const vms: Record<string, number> = {};
    for (const [, vm] of store.table('VM'))
      if (!vm.is_a_template && !vm.is_control_domain) vms[vm.power_state as string] = (vms[vm.power_state as string] ?? 0) + 1;
    const masters = this.pool.roles.masters().map((h) => h.address);
    return { pool: this.pool.options.name, url: this.sim.url, username: this.pool.options.username, masters, hosts, vms };
  }

  vmStatus(ref: Ref) {
    const { store } = this.pool;
    const vm = store.get('VM', ref)!;
    const host = store.get('host', vm.resident_on as Ref);
    return {
      name: vm.name_label,
      uuid: vm.uuid,
      power_state: vm.power_state,
      resident_on: host?.name_label ?? null,
      heartbeat_frozen: this.pool.frozenHeartbeats.has(ref),
      guest_last_updated: store.get('VM_guest_metrics', vm.guest_metrics as Ref)?.last_updated ?? null,
      ha_restart_priority: vm.ha_restart_priority,
      guest_run: this.pool.truth.guestRun(ref) ?? null,
    };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const reply = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const url = new URL(req.url ?? '/', 'http://x');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    let body: Record<string, unknown> = {};
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      if (text) {
        try {
          body = JSON.parse(text);
        } catch {
          return reply(400, { error: 'body must be JSON' });
        }
      }
    }
    try {
      if (parts[0] !== 'sim') return reply(404, { error: 'not found' });
      if (req.method === 'GET' && parts.length === 1) return reply(200, this.status());
      if (req.method === 'GET' && parts[1] === 'truth' && parts.length === 2) return reply(200, truthView(this.pool));
      if (parts[1] === 'sessions' && parts[2] === 'expire' && req.method === 'POST') return reply(200, { expired: this.pool.expireSessions() });
      if (parts[1] === 'hosts' && parts[2]) {
        const h = this.pool.findHost(parts[2]);
        if (!h) return reply(404, { error: `no host ${parts[2]}` });
        if (req.method === 'GET' && !parts[3])
          return reply(
            200,
            this.status().hosts.find((x) => x.address === h.address),
          );
        if (req.method === 'POST' && (parts[3] === 'power-off' || parts[3] === 'power-status')) {
          // The BMC: may fail like ipmitool (502), or hang until the caller goes away.
          const gone = new AbortController();
          res.once('close', () => gone.abort());
          try {
            if (parts[3] === 'power-status') return reply(200, { power: await this.bmc.powerStatus(h, gone.signal) });
            await this.bmc.powerOff(h, gone.signal);
            await this.sim.sync();
            return reply(
              200,
              this.status().hosts.find((x) => x.address === h.address),
            );
          } catch (err) {
            if (err instanceof Aborted) return;
            if (err instanceof BmcUnreachable) return reply(502, { error: err.message, bmc: 'unreachable' });
            throw err;
          }
        }
        if (parts[3] === 'bmc' && !BMC_MODES.includes(body.mode as BmcMode))
          return reply(400, { error: `mode must be one of ${BMC_MODES.join(', ')}`, field: 'mode' });
        if (req.method === 'POST' && parts[3] === 'hardware') {
          const faults = ['ok', ...Object.keys(HARDWARE_FAULTS)];
          if (!faults.includes(body.fault as string)) return reply(400, { error: `fault must be one of ${faults.join(', ')}`, field: 'fault' });
          if (!this.hardware) return reply(409, { error: 'the simulation runs without hardware plugins (--no-hardware)' });
          this.hardware.setFault(h.index, body.fault as HardwareFault | 'ok');
          this.logger.info('simulator: hardware fault', { host: h.address, fault: body.fault });
          return reply(
            200,
            this.status().hosts.find((x) => x.address === h.address),
          );
        }
        if (req.method === 'POST' && parts[3]) return reply(200, await this.hostAction(h, parts[3], body));
      }
      if (parts[1] === 'vms' && parts[2]) {
        const ref = this.pool.findVm(parts[2]);
        if (!ref) return reply(404, { error: `no VM ${parts[2]}` });
        if (req.method === 'GET' && !parts[3]) return reply(200, this.vmStatus(ref));
        if (req.method === 'POST' && parts[3] === 'crash') {
          const mode = body.mode ?? 'halt';
          if (mode !== 'halt' && mode !== 'heartbeat') return reply(400, { error: 'mode must be halt or heartbeat' });
          this.pool.crashVm(ref, mode);
          this.logger.info('simulator: VM crashed', { vm: parts[2], mode });
          return reply(200, this.vmStatus(ref));
        }
        if (req.method === 'POST' && parts[3] === 'suspend-fault') {
          const kind = body.kind as SuspendFault;
          if (!SUSPEND_FAULTS.includes(kind)) return reply(400, { error: `kind must be one of ${SUSPEND_FAULTS.join(', ')}`, field: 'kind' });
          setSuspendFault(this.pool, ref, kind);
          return reply(200, this.vmStatus(ref));
        }
      }
      return reply(404, { error: 'not found' });
    } catch (err) {
      return reply(409, { error: (err as Error).message });
    }
  }

  private async hostAction(h: HostRuntime, action: string, body: Record<string, unknown>) {
    const pool = this.pool;
    switch (action) {
      case 'fail':
        pool.failHost(h);
        break;
      case 'partition':
        partitionHost(pool, h);
        break;
      case 'heal':
        healHost(pool, h);
        break;
      case 'bmc':
        this.bmc.set(h, String(body.mode ?? 'ok') as BmcMode, Number(body.delay_ms ?? 0));
        break;
      case 'power-on':
      case 'recover':
        h.slowMs = 0;
        h.malformed = false;
        pool.powerOn(h);
        break;
      case 'kill-toolstack':
        pool.killToolstack(h);
        break;
      case 'restart-toolstack':
        pool.restartToolstack(h);
        break;
      case 'slow': {
        const ms = Number(body.ms ?? 5000);
        if (!Number.isFinite(ms) || ms < 0) throw new Error('ms must be a non-negative number');
        h.slowMs = ms;
        break;
      }
      case 'malformed':
        h.malformed = body.on !== false;
        break;
      default:
        throw new Error(`unknown host action ${action}`);
    }
    this.logger.info('simulator: host fault', { host: h.address, action });
    await this.sim.sync();
    return this.status().hosts.find((x) => x.address === h.address);
  }
}

/** GET /sim/truth: per host, what physically runs and how the host stands (truth.ts), plus the power-offs, double
 * starts and BMC commands seen so far. */
export function truthView(pool: SimulatedPool) {
  const { store, truth } = pool;
  const name = (cls: 'host' | 'VM', ref: Ref) => String(store.get(cls, ref)?.name_label ?? ref);
  const uuid = (cls: 'host' | 'VM', ref: Ref) => String(store.get(cls, ref)?.uuid ?? ref);
  return {
    at: new Date().toISOString(),
    hosts: pool.hosts.map((h) => ({
      name: name('host', h.ref),
      uuid: uuid('host', h.ref),
      powered: h.powered,
      hung: h.crashed,
      partitioned: h.partitioned,
      answering: pool.answers(h),
      live: pool.isLive(h.ref),
      domains: truth.domainsOn(h.ref).map((vm) => ({ uuid: uuid('VM', vm), name: name('VM', vm) })),
    })),
    power_offs: truth.powerOffs.map((p) => ({
      ...p,
      host: name('host', p.host),
      requestedAt: new Date(p.requestedAt).toISOString(),
      landedAt: new Date(p.landedAt).toISOString(),
    })),
    overlaps: truth.overlaps.map((o) => ({ vm: name('VM', o.vm), hosts: o.hosts.map((r) => name('host', r)), at: new Date(o.at).toISOString() })),
    bmc_calls: truth.bmcCalls.map((c) => ({ host: name('host', c.host), command: c.command, at: new Date(c.at).toISOString() })),
  };
}
