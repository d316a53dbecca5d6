// The data sources each simulated host holds, named as xcp-rrdd's plugins name them (reference §2.5), with
// values that move plausibly and deterministically over time: the same (object, source, t) always gives the
// same value, so consecutive polls agree and counters integrate smoothly.
import { noise } from '../model/random.js';
import type { ObjectStore } from '../model/store.js';
import { NULL_REF, type Ref, type XapiRecord } from '../model/types.js';

export type ValueFn = (t: number) => number;

export interface SourceSet {
  /** `CF:type:uuid:name` without the CF prefix: `host:<uuid>:cpu0`. */
  keys: string[];
  fns: ValueFn[];
}

const KiB = 1024;
const TWO_PI = Math.PI * 2;

function seedOf(uuid: string): number {
  let h = 2166136261;
  for (let i = 0; i < uuid.length; i++) h = Math.imul(h ^ uuid.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** A level that drifts over a day and jitters every step: base × (1 + amp·sin) + jitter. */
function wave(seed: number, salt: number, base: number, amp: number, jitter: number, period = 86_400): ValueFn {
  const phase = noise(seed, salt) * TWO_PI;
  const p = period * (0.5 + noise(seed, salt + 1));
  return (t) => Math.max(0, base * (1 + amp * Math.sin((TWO_PI * t) / p + phase)) + jitter * base * (noise(seed ^ salt, Math.floor(t / 5)) - 0.5));
}

const ratio =
  (f: ValueFn): ValueFn =>
  (t) =>
    Math.min(1, f(t));

class Builder {
  readonly keys: string[] = [];
  readonly fns: ValueFn[] = [];
  constructor(private readonly prefix: string) {}
  add(name: string, fn: ValueFn): void {
    this.keys.push(`${this.prefix}:${name}`);
    this.fns.push(fn);
  }
}

function iostat(b: Builder, prefixFor: (key: string) => string, seed: number, salt: number, scale: number): void {
  const read = wave(seed, salt, 2e6 * scale, 0.6, 0.4);
  const write = wave(seed, salt + 10, 1.2e6 * scale, 0.6, 0.4);
  const latency = wave(seed, salt + 20, 900, 0.5, 0.6);
  b.add(prefixFor('read'), read);
  b.add(prefixFor('write'), write);
  b.add(prefixFor('read_latency'), latency);
  b.add(prefixFor('write_latency'), (t) => latency(t) * 1.4);
  b.add(prefixFor('latency'), (t) => latency(t) * 1.2);
  b.add(prefixFor('io_throughput_read'), (t) => read(t) / 1048576);
  b.add(prefixFor('io_throughput_write'), (t) => write(t) / 1048576);
  b.add(prefixFor('io_throughput_total'), (t) => (read(t) + write(t)) / 1048576);
  b.add(prefixFor('iops_read'), (t) => read(t) / 16384);
  b.add(prefixFor('iops_write'), (t) => write(t) / 8192);
  b.add(prefixFor('iops_total'), (t) => read(t) / 16384 + write(t) / 8192);
  b.add(prefixFor('iowait'), ratio(wave(seed, salt + 30, 0.02 * scale, 0.8, 0.5)));
  b.add(prefixFor('inflight'), (t) => Math.round(wave(seed, salt + 40, 2 * scale, 0.8, 1)(t)));
  b.add(prefixFor('avgqu_sz'), wave(seed, salt + 50, 0.4 * scale, 0.8, 0.6));
}

/**
 * The VM's sources. `agentWrite(phase, t)`, when given, is the time of the guest agent's last data/meminfo_free write
 * at or before t (simulator/guest-agent.ts): memory_internal_free holds that write's value, as rrdd serves it.
 */
export function vmSources(store: ObjectStore, vm: XapiRecord, agentWrite?: (phase: number, tS: number) => number): SourceSet {
  const b = new Builder(`vm:${vm.uuid}`);
  const seed = seedOf(vm.uuid);
  const vcpus = Number(vm.VCPUs_at_startup) || 1;
  const cpuBase = vm.is_control_domain ? 0.08 : 0.05 + noise(seed, 1) * 0.45;
  const cores: ValueFn[] = [];
  for (let i = 0; i < vcpus; i++) {
    const f = ratio(wave(seed, 100 + i, cpuBase, 0.5, 0.4));
    cores.push(f);
    b.add(`cpu${i}`, f);
  }
  b.add('cpu_usage', (t) => cores.reduce((s, f) => s + f(t), 0) / cores.length);
  const memory = Number(vm.memory_static_max) || 0;
  b.add('memory', () => memory);
  b.add('memory_target', () => memory);
  if (!vm.is_control_domain) {
    const free = wave(seed, 3, 0.35, 0.3, 0.1);
    const phase = noise(seed, 7);
    const at = agentWrite ? (t: number) => agentWrite(phase, t) : (t: number) => t;
    // xenstore holds whole KiB.
    b.add('memory_internal_free', (t) => Math.round((memory / KiB) * Math.min(0.9, free(at(t)))));
  }
  const run = (t: number) => cores[0]!(t);
  b.add('runstate_fullrun', run);
  b.add('runstate_full_contention', (t) => run(t) * 0.02);
  b.add('runstate_partial_run', (t) => run(t) * 0.1);
  b.add('runstate_partial_contention', (t) => run(t) * 0.01);
  b.add('runstate_concurrency_hazard', () => 0);
  b.add('runstate_blocked', (t) => Math.max(0, 1 - run(t) * 1.13));
  for (const vifRef of vm.VIFs as Ref[]) {
    const vif = store.get('VIF', vifRef);
    if (!vif) continue;
    const n = vif.device as string;
    const rx = wave(seed, 200 + Number(n), 250_000, 0.7, 0.5);
    b.add(`vif_${n}_rx`, rx);
    b.add(`vif_${n}_tx`, (t) => rx(t) * 0.6);
    b.add(`vif_${n}_rx_errors`, () => 0);
    b.add(`vif_${n}_tx_errors`, () => 0);
  }
  for (const vbdRef of vm.VBDs as Ref[]) {
    const vbd = store.get('VBD', vbdRef);
    if (vbd?.type !== 'Disk') continue;
    const dev = vbd.device as string;
    iostat(b, (k) => `vbd_${dev}_${k}`, seed, 300 + dev.charCodeAt(dev.length - 1), 0.3);
  }
  return b;
}

export function hostSources(store: ObjectStore, hostRef: Ref, hostCpus: number, hasDcmi: boolean): SourceSet {
  const host = store.get('host', hostRef)!;
  const b = new Builder(`host:${host.uuid}`);
  const seed = seedOf(host.uuid);
  const guests = (host.resident_VMs as Ref[]).map((r) => store.get('VM', r)).filter((v): v is XapiRecord => Boolean(v));
  const load = 0.15 + Math.min(0.6, guests.length / 200);
  const cores: ValueFn[] = [];
  for (let i = 0; i < hostCpus; i++) {
    const f = ratio(wave(seed, 100 + i, load, 0.5, 0.3));
    cores.push(f);
    b.add(`cpu${i}`, f);
  }
  const avg = (t: number) => cores.reduce((s, f) => s + f(t), 0) / cores.length;
  b.add('cpu_avg', avg);
  b.add('loadavg', (t) => avg(t) * hostCpus * 1.1);
  b.add('hostload', (t) => avg(t) * 1.05);
  const vcpus = guests.reduce((s, v) => s + (Number(v.VCPUs_at_startup) || 0), 0);
  b.add('running_vcpus', () => vcpus);
  b.add('running_domains', () => guests.length);
  const metrics = store.get('host_metrics', host.metrics as Ref)!;
  b.add('memory_total_kib', () => Number(metrics.memory_total) / KiB);
  b.add('memory_free_kib', () => Number(metrics.memory_free) / KiB);
  b.add('memory_reclaimed', () => 0);
  b.add('memory_reclaimed_max', () => Number(metrics.memory_free) * 0.1);
  const rxs: ValueFn[] = [];
  const txs: ValueFn[] = [];
  for (const pifRef of host.PIFs as Ref[]) {
    const dev = store.get('PIF', pifRef)?.device as string;
    // Traffic does not follow residency: a row once served keeps its value (rrdd's rows never change after the
    // fact), whatever moves later. Only the count gauges (running_vcpus, running_domains) take the current residents.
    const rx = wave(seed, 200 + dev.charCodeAt(3), 2e6 + Math.floor(noise(seed, 9) * 20) * 2e5, 0.6, 0.4);
    const tx: ValueFn = (t) => rx(t) * 0.7;
    rxs.push(rx);
    txs.push(tx);
    b.add(`pif_${dev}_rx`, rx);
    b.add(`pif_${dev}_tx`, tx);
  }
  b.add('pif_aggr_rx', (t) => rxs.reduce((s, f) => s + f(t), 0));
  b.add('pif_aggr_tx', (t) => txs.reduce((s, f) => s + f(t), 0));
  for (const pbdRef of host.PBDs as Ref[]) {
    const sr = store.get('SR', store.get('PBD', pbdRef)?.SR as Ref);
    if (!sr) continue;
    const short = (sr.uuid as string).slice(0, 8);
    iostat(b, (k) => `${k}_${short}`, seed, 400 + short.charCodeAt(0), 1 + noise(seed, 10));
  }
  // The toolstack's own sources (xapi-stats plugin, reference fixture rrdd-plugin-v2 xapi-stats).
  b.add('xapi_memory_usage_kib', wave(seed, 500, 180_000, 0.1, 0.05));
  b.add('xapi_live_memory_kib', wave(seed, 501, 90_000, 0.1, 0.05));
  b.add('xapi_free_memory_kib', wave(seed, 502, 40_000, 0.2, 0.1));
  b.add('xapi_allocation_kib', wave(seed, 503, 3000, 0.3, 0.3));
  b.add('xapi_open_fds', (t) => Math.round(wave(seed, 504, 70, 0.2, 0.1)(t)));
  b.add('pool_session_count', (t) => Math.round(wave(seed, 505, 8, 0.3, 0.2)(t)));
  b.add('pool_task_count', (t) => Math.round(wave(seed, 506, 1, 1, 1)(t)));
  b.add('pool_total_session_count', wave(seed, 507, 0.05, 0.5, 0.5));
  b.add('Tapdisks_in_low_memory_mode', () => 0);
  if (hasDcmi) b.add('DCMI-power-reading', wave(seed, 508, 180 + guests.length * 2, 0.2, 0.05));
  return b;
}

export function srSources(sr: XapiRecord): SourceSet {
  const b = new Builder(`sr:${sr.uuid}`);
  iostat(b, (k) => k, seedOf(sr.uuid as string), 600, 4);
  return b;
}

export function isRunningGuestOrDom0(vm: XapiRecord | undefined): vm is XapiRecord {
  return Boolean(vm && (vm.power_state === 'Running' || vm.power_state === 'Paused') && vm.resident_on !== NULL_REF);
}
