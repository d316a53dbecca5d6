// Build a pool of the requested size: hosts with their metrics, PIFs, local SR and dom0; shared SRs; guest VMs
// with disks (VBD→VDI on a shared SR), VIFs, metrics and guest metrics. Deterministic for a given seed.
import { rng, uuidFrom } from './random.js';
import { ObjectStore } from './store.js';
import { NULL_REF, type Ref, type XapiRecord, xapiDate } from './types.js';

export interface PoolSize {
  hosts: number;
  vmsPerHost: number;
  disksPerVm: number;
  vifsPerVm: number;
  vcpusPerVm: number;
  hostCpus: number;
}

export interface BuildOptions extends PoolSize {
  name: string;
  seed: number;
  /** Address of the first host (the master); members follow (127.0.0.2, 127.0.0.3, …). */
  firstAddress: string;
  now: number;
}

export const DEFAULT_SIZE: PoolSize = { hosts: 3, vmsPerHost: 8, disksPerVm: 2, vifsPerVm: 2, vcpusPerVm: 2, hostCpus: 16 };

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export function hostAddress(first: string, index: number): string {
  const parts = first.split('.').map(Number);
  let n = ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) + index;
  const out: number[] = [];
  for (let i = 0; i < 4; i++) {
    out.unshift(n & 255);
    n = n >>> 8;
  }
  return out.join('.');
}

export function buildPool(o: BuildOptions): { store: ObjectStore; poolRef: Ref } {
  const next = rng(o.seed);
  const store = new ObjectStore();
  const uuid = () => uuidFrom(next);
  const newRef = () => `OpaqueRef:${uuid()}`;
  const mac = () => Array.from({ length: 6 }, (_, i) => (i === 0 ? 0x02 : Math.floor(next() * 256)).toString(16).padStart(2, '0')).join(':');

  const poolRef = newRef();
  const hostRefs: Ref[] = Array.from({ length: o.hosts }, newRef);
  const bootTime = Math.floor(o.now / 1000) - 86400 * 12;

  const mgmtNet = newRef();
  const vmNet = newRef();
  const networks: [Ref, string, string][] = [
    [mgmtNet, 'Pool-wide network associated with eth0', 'xenbr0'],
    [vmNet, 'VM network', 'xenbr1'],
  ];
  const netPifs = new Map<Ref, Ref[]>([
    [mgmtNet, []],
    [vmNet, []],
  ]);
  const netVifs = new Map<Ref, Ref[]>([
    [mgmtNet, []],
    [vmNet, []],
  ]);

  // Shared SRs every VM disk lives on, so any host can start any VM.
  const sharedSrs: { ref: Ref; rec: XapiRecord; pbds: Ref[]; vdis: Ref[] }[] = [
    ['NFS VM store', 'nfs'],
    ['iSCSI VM store', 'lvmoiscsi'],
  ].map(([name, type]) => ({
    ref: newRef(),
    pbds: [],
    vdis: [],
    rec: {
      uuid: uuid(),
      name_label: name!,
      name_description: '',
      type: type!,
      content_type: 'user',
      shared: true,
      physical_size: 8 * 1024 * GiB,
      physical_utilisation: 0,
      virtual_allocation: 0,
      PBDs: [],
      VDIs: [],
      other_config: {},
      tags: [],
    },
  }));

  const vmPerHostMemory = 4 * GiB;
  const hostMemory = Math.max(64 * GiB, Math.ceil((o.vmsPerHost * vmPerHostMemory * 1.6) / GiB) * GiB + 8 * GiB);

  for (let h = 0; h < o.hosts; h++) {
    const hostRef = hostRefs[h]!;
    const name = `xcp-host-${String(h + 1).padStart(2, '0')}`;
    const address = hostAddress(o.firstAddress, h);
    const metricsRef = newRef();
    store.add('host_metrics', metricsRef, {
      uuid: uuid(),
      live: true,
      memory_total: hostMemory,
      memory_free: hostMemory,
      last_updated: xapiDate(o.now),
      other_config: {},
    });
    // PIFs
    const pifs: Ref[] = [];
    for (const [i, net] of [mgmtNet, vmNet].entries()) {
      const pifRef = newRef();
      pifs.push(pifRef);
      netPifs.get(net)!.push(pifRef);
      store.add('PIF', pifRef, {
        uuid: uuid(),
        device: `eth${i}`,
        host: hostRef,
        network: net,
        management: i === 0,
        IP: i === 0 ? address : '',
        MAC: mac(),
        currently_attached: true,
        MTU: 1500,
        VLAN: -1,
        other_config: {},
      });
    }
    // Local SR
    const localSr = newRef();
    const localPbd = newRef();
    store.add('SR', localSr, {
      uuid: uuid(),
      name_label: `Local storage (${name})`,
      name_description: '',
      type: 'ext',
      content_type: 'user',
      shared: false,
      physical_size: 1800 * GiB,
      physical_utilisation: Math.round(1800 * GiB * (0.1 + next() * 0.5)),
      virtual_allocation: 0,
      PBDs: [localPbd],
      VDIs: [],
      other_config: {},
      tags: [],
    });
    store.add('PBD', localPbd, {
      uuid: uuid(),
      host: hostRef,
      SR: localSr,
      currently_attached: true,
      device_config: { device: '/dev/sda3' },
      other_config: {},
    });
    const pbds = [localPbd];
    for (const sr of sharedSrs) {
      const pbd = newRef();
      sr.pbds.push(pbd);
      pbds.push(pbd);
      store.add('PBD', pbd, {
        uuid: uuid(),
        host: hostRef,
        SR: sr.ref,
        currently_attached: true,
        device_config: sr.rec.type === 'nfs' ? { server: '192.0.2.10', serverpath: '/export/vms' } : { target: '192.0.2.11' },
        other_config: {},
      });
    }
    // dom0
    const dom0 = newRef();
    const dom0Metrics = newRef();
    store.add('VM_metrics', dom0Metrics, { uuid: uuid(), start_time: xapiDate(bootTime * 1000), memory_actual: 4 * GiB, VCPUs_number: 8, other_config: {} });
    store.add('VM', dom0, {
      uuid: uuid(),
      name_label: `Control domain on host: ${name}`,
      name_description: 'The domain which manages physical devices and manages other domains',
      power_state: 'Running',
      resident_on: hostRef,
      affinity: hostRef,
      is_control_domain: true,
      is_a_template: false,
      is_a_snapshot: false,
      domid: 0,
      metrics: dom0Metrics,
      guest_metrics: NULL_REF,
      VIFs: [],
      VBDs: [],
      memory_static_max: 4 * GiB,
      memory_dynamic_max: 4 * GiB,
      memory_target: 4 * GiB,
      VCPUs_max: 8,
      VCPUs_at_startup: 8,
      ha_restart_priority: '',
      order: 0,
      start_delay: 0,
      tags: [],
      other_config: {},
    });
    store.add('host', hostRef, {
      uuid: uuid(),
      name_label: name,
      name_description: 'Simulated XCP-ng host',
      hostname: name,
      address,
      enabled: true,
      metrics: metricsRef,
      resident_VMs: [dom0],
      control_domain: dom0,
      PBDs: pbds,
      PIFs: pifs,
      API_version_major: 2,
      API_version_minor: 21,
      software_version: { product_brand: 'XCP-ng', product_version: '8.3.0', xapi: '25.6', platform_name: 'XCP' },
      cpu_info: { cpu_count: String(o.hostCpus), socket_count: '2', vendor: 'GenuineIntel', modelname: 'Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz' },
      memory_overhead: 0,
      other_config: { boot_time: String(bootTime), agent_start_time: String(bootTime + 60) },
      tags: [],
    });
  }

  // Guest VMs
  let vdiCounter = 0;
  for (let h = 0; h < o.hosts; h++) {
    const hostRef = hostRefs[h]!;
    for (let v = 0; v < o.vmsPerHost; v++) {
      const vmRef = newRef();
      const metricsRef = newRef();
      const gmRef = newRef();
      const r = next();
      const running = r > 0.05 || o.vmsPerHost < 4;
      const memory = [1, 2, 4, 4, 8][Math.floor(next() * 5)]! * GiB;
      const priority = next() < 0.5 ? 'restart' : next() < 0.5 ? 'best-effort' : '';
      const vbds: Ref[] = [];
      for (let d = 0; d < o.disksPerVm; d++) {
        const sr = sharedSrs[(vdiCounter + d) % sharedSrs.length]!;
        const vdiRef = newRef();
        const vbdRef = newRef();
        const size = (d === 0 ? 32 : 100) * GiB;
        store.add('VDI', vdiRef, {
          uuid: uuid(),
          name_label: `vm-${h + 1}-${v + 1} disk ${d}`,
          name_description: '',
          SR: sr.ref,
          virtual_size: size,
          physical_utilisation: Math.round(size * (0.2 + next() * 0.6)),
          type: 'user',
          VBDs: [vbdRef],
          sharable: false,
          read_only: false,
          other_config: {},
          tags: [],
        });
        sr.vdis.push(vdiRef);
        store.add('VBD', vbdRef, {
          uuid: uuid(),
          VM: vmRef,
          VDI: vdiRef,
          device: `xvd${String.fromCharCode(97 + d)}`,
          userdevice: String(d),
          type: 'Disk',
          mode: 'RW',
          bootable: d === 0,
          currently_attached: running,
          other_config: {},
        });
        vbds.push(vbdRef);
      }
      vdiCounter++;
      const vifs: Ref[] = [];
      for (let n = 0; n < o.vifsPerVm; n++) {
        const vifRef = newRef();
        const net = n === 0 ? vmNet : mgmtNet;
        netVifs.get(net)!.push(vifRef);
        store.add('VIF', vifRef, {
          uuid: uuid(),
          VM: vmRef,
          device: String(n),
          network: net,
          MAC: mac(),
          MTU: 1500,
          currently_attached: running,
          other_config: {},
        });
        vifs.push(vifRef);
      }
      const startMs = o.now - Math.floor(next() * 86400 * 10 * 1000);
      store.add('VM_metrics', metricsRef, {
        uuid: uuid(),
        start_time: xapiDate(running ? startMs : 0),
        memory_actual: running ? memory : 0,
        VCPUs_number: running ? o.vcpusPerVm : 0,
        other_config: {},
      });
      store.add('VM_guest_metrics', gmRef, {
        uuid: uuid(),
        os_version: { name: 'Debian GNU/Linux 12 (bookworm)', distro: 'debian', major: '12' },
        PV_drivers_version: { major: '8', minor: '3', micro: '0' },
        PV_drivers_up_to_date: true,
        networks: { '0/ip': `10.20.${h}.${v + 10}` },
        last_updated: xapiDate(o.now),
        live: true,
        other_config: {},
      });
      store.add('VM', vmRef, {
        uuid: uuid(),
        name_label: `vm-${String(h + 1).padStart(2, '0')}-${String(v + 1).padStart(3, '0')}`,
        name_description: '',
        power_state: running ? 'Running' : 'Halted',
        resident_on: running ? hostRef : NULL_REF,
        affinity: hostRef,
        is_control_domain: false,
        is_a_template: false,
        is_a_snapshot: false,
        domid: running ? v + 1 : -1,
        metrics: metricsRef,
        guest_metrics: gmRef,
        VIFs: vifs,
        VBDs: vbds,
        memory_static_max: memory,
        memory_dynamic_max: memory,
        memory_target: running ? memory : 0,
        VCPUs_max: o.vcpusPerVm,
        VCPUs_at_startup: o.vcpusPerVm,
        ha_restart_priority: priority,
        // VM.start sets it for "restart" VMs (simulator/crash.ts); crashes leave it, API shutdowns clear it.
        ha_always_run: running && priority === 'restart',
        // Deliberate simplification (simulator/FIDELITY.md): a crash leaves the VM Halted; set "restart" to model a
        // VM the hypervisor restarts by itself (xenopsd VM_check_state).
        actions_after_crash: 'destroy',
        order: priority === 'restart' ? 1 : priority === 'best-effort' ? 2 : 3,
        start_delay: 0,
        tags: [],
        other_config: {},
      });
      if (running) {
        const host = store.get('host', hostRef)!;
        (host.resident_VMs as Ref[]).push(vmRef);
      }
    }
  }

  // A template, as every pool has: never counted as a VM.
  store.add('VM', newRef(), {
    uuid: uuid(),
    name_label: 'Debian Bookworm 12',
    name_description: 'Template',
    power_state: 'Halted',
    resident_on: NULL_REF,
    affinity: NULL_REF,
    is_control_domain: false,
    is_a_template: true,
    is_a_snapshot: false,
    domid: -1,
    metrics: NULL_REF,
    guest_metrics: NULL_REF,
    VIFs: [],
    VBDs: [],
    memory_static_max: 2 * GiB,
    memory_dynamic_max: 2 * GiB,
    memory_target: 0,
    VCPUs_max: 2,
    VCPUs_at_startup: 2,
    ha_restart_priority: '',
    order: 0,
    start_delay: 0,
    tags: [],
    other_config: {},
  });

  for (const sr of sharedSrs) {
    let used = 0;
    let virt = 0;
    for (const vdi of sr.vdis) {
      const rec = store.get('VDI', vdi)!;
      used += rec.physical_utilisation as number;
      virt += rec.virtual_size as number;
    }
    store.add('SR', sr.ref, { ...sr.rec, PBDs: sr.pbds, VDIs: sr.vdis, physical_utilisation: used + 64 * MiB, virtual_allocation: virt });
  }
  for (const [ref, label, bridge] of networks) {
    store.add('network', ref, {
      uuid: uuid(),
      name_label: label,
      name_description: '',
      bridge,
      MTU: 1500,
      PIFs: netPifs.get(ref)!,
      VIFs: netVifs.get(ref)!,
      other_config: {},
      tags: [],
    });
  }
  store.add('pool', poolRef, {
    uuid: uuid(),
    name_label: o.name,
    name_description: 'Simulated XCP-ng pool',
    master: hostRefs[0]!,
    default_SR: sharedSrs[0]!.ref,
    // Where VM.suspend writes memory images (helpers.ml choose_suspend_sr); XO sets it with the default SR.
    suspend_image_SR: sharedSrs[0]!.ref,
    ha_enabled: false,
    ha_host_failures_to_tolerate: 0,
    other_config: {},
    tags: [],
  });
  recomputeHostMemory(store);
  return { store, poolRef };
}

/** host_metrics.memory_free = total − dom0 − resident guests' memory, as squeezed would report. */
export function recomputeHostMemory(store: ObjectStore): void {
  for (const [, host] of store.table('host')) {
    const metrics = store.get('host_metrics', host.metrics as Ref);
    if (!metrics) continue;
    let used = 0;
    for (const vm of host.resident_VMs as Ref[]) used += (store.get('VM', vm)?.memory_static_max as number) ?? 0;
    store.touch('host_metrics', host.metrics as Ref, { memory_free: Math.max(0, (metrics.memory_total as number) - used) });
  }
}
