// The simulator's control API (loopback only): inspect the pool and inject faults. The CLI's
// `xcp-sentinel simulate fail-host|crash-vm|kill-toolstack|…` commands call it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/log.js';
import type { Ref } from './model/types.js';
import type { HostRuntime, SimulatedPool } from './pool.js';
import type { SimServer } from './server.js';

export class ControlServer {
  private server?: http.Server;

  constructor(
    private readonly pool: SimulatedPool,
    private readonly sim: SimServer,
    private readonly logger: Logger,
  ) {}

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
        toolstack: h.toolstackUp ? 'up' : 'down',
        live: this.pool.isLive(h.ref),
        enabled: rec.enabled,
        slow_ms: h.slowMs,
        malformed: h.malformed,
        resident_vms: (rec.resident_VMs as Ref[]).filter((r) => !store.get('VM', r)?.is_control_domain).length,
      };
    });
    const vms: Record<string, number> = {};
    for (const [, vm] of store.table('VM')) if (!vm.is_a_template && !vm.is_control_domain) vms[vm.power_state as string] = (vms[vm.power_state as string] ?? 0) + 1;
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
      if (parts[1] === 'sessions' && parts[2] === 'expire' && req.method === 'POST') return reply(200, { expired: this.pool.expireSessions() });
      if (parts[1] === 'hosts' && parts[2]) {
        const h = this.pool.findHost(parts[2]);
        if (!h) return reply(404, { error: `no host ${parts[2]}` });
        if (req.method === 'GET' && !parts[3]) return reply(200, this.status().hosts.find((x) => x.address === h.address));
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
      case 'power-off':
        pool.powerOff(h);
        break;
      case 'power-on':
      case 'recover':
        h.slowMs = 0;
        h.malformed = false;
        pool.powerOn(h);
        break;
      case 'power-status':
        return { power: h.powered ? 'on' : 'off' };
      case 'resume':
        pool.roles.resume(h);
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
