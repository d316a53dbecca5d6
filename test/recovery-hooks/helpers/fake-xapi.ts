// An in-memory fake of the narrow Xapi interface, for unit tests of the workflows' decision logic only (the
// end-to-end tests run against simulator/). It keeps hosts and VMs, answers the calls the workflows make with XAPI's
// error codes, and logs every state-changing call.
import { XapiError } from '../../../core/errors.js';
import type { RrdUpdate } from '../../../core/rrd/parse.js';
import type { RrdSource } from '../../../recovery-hooks/workflows/host-domains.js';
import type { PowerState, Xapi } from '../../../recovery-hooks/workflows/xapi.js';

export const NULL = 'OpaqueRef:NULL';
export const GiB = 2 ** 30;

export interface FakeHost {
  ref: string;
  uuid: string;
  name: string;
  address: string;
  enabled: boolean;
  live: boolean;
  answers: boolean;
  memoryFree: number;
}

export interface FakeVm {
  ref: string;
  uuid: string;
  name: string;
  power: PowerState;
  residentOn: string;
  priority: string;
  order: number;
  memory: number;
  /** When the guest agent last reported (ms): its memory report in the RRD changes every 5 s until then; null: no agent. */
  heartbeat: number | null;
  startTime: number;
  blockedOperations?: Record<string, string>;
}

const xapiDate = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/[-]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');

export class FakePool implements Xapi, RrdSource {
  hosts = new Map<string, FakeHost>();
  vms = new Map<string, FakeVm>();
  /** State-changing calls, as "method arg1 [arg2]". */
  actions: string[] = [];
  /** Errors to throw on the next call of a method. */
  failures = new Map<string, XapiError[]>();
  /** Run after a state-changing call succeeded (tests simulate a kill here). */
  afterAction?: (action: string) => void;

  /** The host's /rrd_updates: memory_internal_free of its running VMs with an agent, 5 s rows over the window. */
  async rrdUpdates(address: string, o: { windowSeconds: number }): Promise<RrdUpdate> {
    const host = [...this.hosts.values()].find((h) => h.address === address);
    const vms = [...this.vms.values()].filter((v) => v.residentOn === host?.ref && v.power === 'Running' && v.heartbeat !== null);
    const end = Math.floor(Date.now() / 5000) * 5;
    const rows = [];
    for (let t = end; t > end - o.windowSeconds; t -= 5)
      rows.push({ t, values: Float64Array.from(vms, (v) => Math.floor(Math.min(t, v.heartbeat! / 1000) / 5)) });
    return {
      start: end - o.windowSeconds + 5,
      end,
      step: 5,
      columns: vms.map((v) => ({ cf: 'AVERAGE', objectType: 'vm', uuid: v.uuid, name: 'memory_internal_free' })),
      rows,
    };
  }

  addHost(name: string, opts: Partial<FakeHost> = {}): FakeHost {
    const i = this.hosts.size + 1;
    const h: FakeHost = {
      ref: `OpaqueRef:host-${i}`,
      uuid: `00000000-0000-4000-8000-00000000000${i}`,
      name,
      address: `10.0.0.${i}`,
      enabled: true,
      live: true,
      answers: true,
      memoryFree: 64 * GiB,
      ...opts,
    };
    this.hosts.set(h.ref, h);
    return h;
  }

  addVm(name: string, host: FakeHost | null, opts: Partial<FakeVm> = {}): FakeVm {
    const i = this.vms.size + 1;
    const vm: FakeVm = {
      ref: `OpaqueRef:vm-${i}`,
      uuid: `11111111-0000-4000-8000-${String(i).padStart(12, '0')}`,
      name,
      power: host ? 'Running' : 'Halted',
      residentOn: host?.ref ?? NULL,
      priority: '',
      order: 0,
      memory: GiB,
      heartbeat: Date.now(),
      startTime: Date.now() - 3600_000,
      ...opts,
    };
    this.vms.set(vm.ref, vm);
    return vm;
  }

  vm(name: string): FakeVm {
    return [...this.vms.values()].find((v) => v.name === name)!;
  }

  fail(method: string, code: string, params: string[] = []): void {
    this.failures.set(method, [...(this.failures.get(method) ?? []), new XapiError(code, params, method)]);
  }

  async call<T = unknown>(method: string, ...p: unknown[]): Promise<T> {
    const queued = this.failures.get(method);
    if (queued?.length) throw queued.shift()!;
    return this.#dispatch(method, p) as T;
  }

  #host(ref: unknown, method: string): FakeHost {
    const h = this.hosts.get(String(ref)) ?? [...this.hosts.values()].find((x) => `${x.ref}/metrics` === ref);
    if (!h) throw new XapiError('HANDLE_INVALID', ['host', String(ref)], method);
    return h;
  }

  #vm(ref: unknown, method: string): FakeVm {
    const vm = this.vms.get(String(ref));
    if (!vm) throw new XapiError('HANDLE_INVALID', ['VM', String(ref)], method);
    return vm;
  }

  #action(text: string): void {
    this.actions.push(text);
    this.afterAction?.(text);
  }

  #hostRecord(h: FakeHost) {
    const resident = [...this.vms.values()].filter((v) => v.residentOn === h.ref && v.power !== 'Halted').map((v) => v.ref);
    return { uuid: h.uuid, name_label: h.name, address: h.address, enabled: h.enabled, metrics: `${h.ref}/metrics`, resident_VMs: resident };
  }

  #vmRecord(v: FakeVm) {
    return {
      uuid: v.uuid,
      name_label: v.name,
      power_state: v.power,
      resident_on: v.residentOn,
      ha_restart_priority: v.priority,
      order: String(v.order),
      memory_static_max: String(v.memory),
      is_control_domain: false,
      is_a_template: false,
      is_a_snapshot: false,
      guest_metrics: v.heartbeat === null ? NULL : `${v.ref}/guest`,
      metrics: `${v.ref}/metrics`,
      blocked_operations: v.blockedOperations ?? {},
    };
  }

  #start(vm: FakeVm, target: FakeHost, method: string): void {
    if (vm.power !== 'Halted') throw new XapiError('VM_BAD_POWER_STATE', [vm.ref, 'halted', vm.power.toLowerCase()], method);
    if (!target.live || !target.answers) throw new XapiError('HOST_OFFLINE', [target.ref], method);
    if (!target.enabled) throw new XapiError('HOST_DISABLED', [target.ref], method);
    if (target.memoryFree < vm.memory) throw new XapiError('HOST_NOT_ENOUGH_FREE_MEMORY', [String(vm.memory), String(target.memoryFree)], method);
    target.memoryFree -= vm.memory;
    Object.assign(vm, { power: 'Running', residentOn: target.ref, startTime: Date.now(), heartbeat: vm.heartbeat === null ? null : Date.now() });
  }

  #dispatch(method: string, p: unknown[]): unknown {
    switch (method) {
      case 'host.get_by_uuid': {
        const h = [...this.hosts.values()].find((x) => x.uuid === p[0]);
        if (!h) throw new XapiError('UUID_INVALID', ['host', String(p[0])], method);
        return h.ref;
      }
      case 'host.get_record':
        return this.#hostRecord(this.#host(p[0], method));
      case 'host.get_all_records':
        return Object.fromEntries([...this.hosts.values()].map((h) => [h.ref, this.#hostRecord(h)]));
      case 'host.get_name_label':
        return this.#host(p[0], method).name;
      case 'host_metrics.get_live':
        return this.#host(p[0], method).live;
      case 'host_metrics.get_record': {
        const h = this.#host(p[0], method);
        return { live: h.live, memory_free: String(h.memoryFree) };
      }
      case 'host.call_plugin': {
        const h = this.#host(p[0], method);
        if (!h.answers) throw new XapiError('HOST_OFFLINE', [h.ref], method);
        return 'args were: {}';
      }
      case 'host.disable': {
        const h = this.#host(p[0], method);
        if (!h.answers) throw new XapiError('HOST_OFFLINE', [h.ref], method);
        h.enabled = false;
        this.#action(`host.disable ${h.name}`);
        return '';
      }
      case 'VM.get_by_uuid': {
        const vm = [...this.vms.values()].find((x) => x.uuid === p[0]);
        if (!vm) throw new XapiError('UUID_INVALID', ['VM', String(p[0])], method);
        return vm.ref;
      }
      case 'VM.get_record':
        return this.#vmRecord(this.#vm(p[0], method));
      case 'VM.get_all_records':
        return Object.fromEntries([...this.vms.values()].map((v) => [v.ref, this.#vmRecord(v)]));
      case 'VM.get_power_state':
        return this.#vm(p[0], method).power;
      case 'VM.get_resident_on':
        return this.#vm(p[0], method).residentOn;
      case 'VM_guest_metrics.get_last_updated': {
        const vm = this.#vm(String(p[0]).replace('/guest', ''), method);
        return xapiDate(vm.heartbeat ?? 0);
      }
      case 'VM_metrics.get_start_time':
        return xapiDate(this.#vm(String(p[0]).replace('/metrics', ''), method).startTime);
      case 'VM.power_state_reset': {
        const vm = this.#vm(p[0], method);
        const host = this.hosts.get(vm.residentOn);
        if (host?.live && host.answers && vm.power !== 'Halted') throw new XapiError('HOST_IS_LIVE', [vm.residentOn], method);
        Object.assign(vm, { power: 'Halted', residentOn: NULL });
        this.#action(`VM.power_state_reset ${vm.name}`);
        return '';
      }
      case 'VM.start_on': {
        const vm = this.#vm(p[0], method);
        this.#start(vm, this.#host(p[1], method), method);
        this.#action(`VM.start_on ${vm.name} ${this.#host(p[1], method).name}`);
        return '';
      }
      case 'VM.start': {
        const vm = this.#vm(p[0], method);
        const target = [...this.hosts.values()].find((h) => h.live && h.answers && h.enabled && h.memoryFree >= vm.memory);
        if (!target) throw new XapiError(vm.power === 'Halted' ? 'NO_HOSTS_AVAILABLE' : 'VM_BAD_POWER_STATE', [], method);
        this.#start(vm, target, method);
        this.#action(`VM.start ${vm.name}`);
        return '';
      }
      case 'VM.hard_reboot': {
        const vm = this.#vm(p[0], method);
        if (vm.power !== 'Running' && vm.power !== 'Paused') throw new XapiError('VM_BAD_POWER_STATE', [vm.ref, 'running', vm.power.toLowerCase()], method);
        Object.assign(vm, { power: 'Running', startTime: Date.now(), heartbeat: Date.now() });
        this.#action(`VM.hard_reboot ${vm.name}`);
        return '';
      }
    }
    throw new XapiError('MESSAGE_METHOD_UNKNOWN', [method], method);
  }
}
