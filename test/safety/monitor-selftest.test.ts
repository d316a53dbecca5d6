// The safety monitor can fail: a deliberately unsafe "recovery", done by hand on the simulated pool, is counted —
// a VM started elsewhere while its hung host still runs it (even for a few milliseconds), a healthy host powered off
// through its BMC (its VMs left down with it), VMs reset and never started. A safe recovery of the same fault counts
// nothing.
import t, { type Test } from 'tap';
import { XapiClient } from '../../core/xapi/client.js';
import type { Ref } from '../../simulator/model/types.js';
import { poolConfigFor, startSim } from '../helpers/sim.js';
import { SafetyMonitor } from './helpers/monitor.js';

async function setup(t: Test) {
  const sim = await startSim({ size: { hosts: 4, vmsPerHost: 3, disksPerVm: 1, vifsPerVm: 1, vcpusPerVm: 1, hostCpus: 4 } });
  t.teardown(() => sim.stop());
  const xapi = XapiClient.forPool(poolConfigFor(sim));
  t.teardown(() => xapi.logout());
  const members = sim.pool.hosts.filter((h) => h.ref !== sim.pool.master.ref);
  const guests = (h: { ref: Ref }) => (sim.pool.store.get('host', h.ref)!.resident_VMs as Ref[]).filter((r) => !sim.pool.store.get('VM', r)!.is_control_domain);
  const monitor = new SafetyMonitor(sim.pool);
  monitor.start();
  t.teardown(() => void monitor.stop());
  const untilDead = async (ref: Ref) => {
    while (sim.pool.isLive(ref)) await new Promise((r) => setTimeout(r, 50));
  };
  const bmc = (address: string, action: string) => fetch(`${sim.controlUrl}/sim/hosts/${address}/${action}`, { method: 'POST' });
  return { sim, xapi, members, guests, monitor, untilDead, bmc };
}

t.test('an unsafe recovery is counted: twice, healthy host off, left down', async (t) => {
  const { sim, xapi, members, guests, monitor, untilDead, bmc } = await setup(t);
  const [victim, healthy, target] = members as [any, any, any];
  const vms = guests(victim);
  monitor.fault(victim);
  sim.pool.failHost(victim);
  await untilDead(victim.ref);

  // Unsafe fencer 1: it "confirms" the fence without powering anything off, and the VMs are started elsewhere.
  await xapi.call('VM.power_state_reset', vms[0]);
  await xapi.call('VM.start_on', vms[0], target.ref, false, false);
  await new Promise((r) => setTimeout(r, 600));
  t.equal(monitor.counts().twice, 1, 'a VM on two hosts is seen by the sampling');

  // A double run shorter than a sampling period: the simulator's record of the double start still counts it.
  await xapi.call('VM.power_state_reset', vms[1]);
  await xapi.call('VM.start_on', vms[1], target.ref, false, false);
  sim.pool.truth.stop(vms[1]!, victim.ref);
  monitor.sample();
  t.equal(monitor.counts().twice, 2, 'a double run of a few milliseconds is counted too');

  // Unsafe fencer 2: it powers off the wrong host — a healthy one.
  await bmc(healthy.address, 'power-off');
  monitor.sample();
  t.equal(monitor.counts().healthyOff, 1, 'a healthy host powered off is counted');
  t.match(monitor.violations.healthyOff, [/did not fail/]);

  // Unsafe recovery 3: the failed host is powered off, its last VM reset and never started.
  await bmc(victim.address, 'power-off');
  await xapi.call('VM.power_state_reset', vms[2]);
  const counts = monitor.stop();
  // Left down: the reset VM of the failed host, and the 3 VMs of the healthy host powered off.
  t.same(counts, { twice: 2, healthyOff: 1, leftDown: 4 }, 'every violation counted once');
  t.equal(monitor.violations.healthyOff.length, 1, 'fencing the failed host while it was down is not a violation');
});

t.test('a host powered off while it was up counts, even if the scenario failed it (a flap)', async (t) => {
  const { sim, members, monitor, untilDead, bmc } = await setup(t);
  const victim = members[0]!;
  monitor.fault(victim);
  sim.pool.failHost(victim);
  await untilDead(victim.ref);
  await fetch(`${sim.controlUrl}/sim/hosts/${victim.address}/heal`, { method: 'POST' });
  await bmc(victim.address, 'power-off');
  const counts = monitor.stop();
  t.equal(counts.healthyOff, 1);
  t.match(monitor.violations.healthyOff, [/up and reachable/]);
  t.equal(counts.leftDown, 3, 'and the VMs it ran are down');
});

t.test('a safe recovery counts nothing', async (t) => {
  const { sim, xapi, members, guests, monitor, untilDead, bmc } = await setup(t);
  const [victim, , target] = members as [any, any, any];
  const vms = guests(victim);
  monitor.fault(victim);
  sim.pool.failHost(victim);
  await untilDead(victim.ref);
  await bmc(victim.address, 'power-off');
  for (const vm of vms) {
    await xapi.call('VM.power_state_reset', vm);
    await xapi.call('VM.start_on', vm, target.ref, false, false);
  }
  t.same(monitor.stop(), { twice: 0, healthyOff: 0, leftDown: 0 });
  t.ok(monitor.samples >= 2);
});
