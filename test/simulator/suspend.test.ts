// The simulator's VM.suspend / VM.resume / VM.resume_on / host.shutdown, with xapi's errors (simulator/suspend.ts
// cites the xen-api sources), and the ground truth: a suspended VM runs nowhere, a resumed one exactly once and
// with the guest run it had.
import t from 'tap';
import type { XapiError } from '../../core/errors.js';
import { Secret } from '../../core/config/secret.js';
import { XapiClient } from '../../core/xapi/client.js';
import { setSuspendFault } from '../../simulator/suspend.js';
import { startSim } from '../helpers/sim.js';

const sim = await startSim({ hostShutdownDelayMs: 200 });
t.teardown(() => sim.stop());
const xapi = new XapiClient({ url: sim.url, username: 'root', password: new Secret('simulated'), callTimeoutMs: 3000 });
t.teardown(() => xapi.logout());
await xapi.login();

const { pool } = sim;
const { store, truth } = pool;
const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: XapiError) => e.code,
  );
const guests = () => [...store.table('VM')].filter(([, v]) => !v.is_control_domain && !v.is_a_template && v.power_state === 'Running').map(([ref]) => ref);
const wait = async (what: string, check: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

t.test('suspend and resume keep the guest run; the VM runs nowhere while suspended, then exactly once', async (t) => {
  const [vm] = guests();
  const home = store.get('VM', vm!)!.resident_on as string;
  const run = truth.guestRun(vm!);
  await xapi.call('VM.suspend', vm);
  t.match(store.get('VM', vm!), { power_state: 'Suspended', resident_on: 'OpaqueRef:NULL' });
  t.same(truth.hostsRunning(vm!), [], 'no domain while suspended');
  t.equal(await code(xapi.call('VM.suspend', vm)), 'VM_BAD_POWER_STATE', 'suspend needs Running');
  t.equal(await code(xapi.call('VM.start', vm, false, false)), 'VM_BAD_POWER_STATE', 'a suspended VM is resumed, not started');
  const other = pool.hosts.find((h) => h.ref !== home)!.ref;
  await xapi.call('VM.resume_on', vm, other, false, false);
  t.match(store.get('VM', vm!), { power_state: 'Running', resident_on: other });
  t.same(truth.hostsRunning(vm!), [other], 'runs exactly once, where it was resumed');
  t.equal(truth.guestRun(vm!), run, 'the same guest run (its memory image)');
  t.equal(await code(xapi.call('VM.resume', vm, false, false)), 'VM_BAD_POWER_STATE', 'resume needs Suspended');
  await xapi.call('VM.hard_shutdown', vm);
  await xapi.call('VM.start', vm, false, false);
  t.not(truth.guestRun(vm!), run, 'a boot is a new guest run');
  t.same(truth.overlaps, []);
});

t.test('what refuses suspension: PCI devices, a vGPU, no suspend SR', async (t) => {
  const [a, b, c] = guests();
  setSuspendFault(pool, a!, 'pci');
  setSuspendFault(pool, b!, 'vgpu');
  t.equal(await code(xapi.call('VM.suspend', a)), 'VM_HAS_PCI_ATTACHED');
  t.equal(await code(xapi.call('VM.suspend', b)), 'VM_HAS_VGPU');
  setSuspendFault(pool, a!, 'none');
  const sr = store.get('pool', pool.poolRef)!.suspend_image_SR;
  store.mod('pool', pool.poolRef, { suspend_image_SR: 'OpaqueRef:NULL' });
  t.equal(await code(xapi.call('VM.suspend', c)), 'VM_NO_SUSPEND_SR', 'no VM, pool or host suspend SR');
  store.mod('pool', pool.poolRef, { suspend_image_SR: sr! });
  t.equal(await code(xapi.call('VM.suspend', a)), 'ok', 'suspends once the device is gone');
  t.equal(store.get('VM', b!)!.power_state, 'Running', 'a refused suspend leaves the VM running');
  await xapi.call('VM.resume', a, false, false);
  setSuspendFault(pool, b!, 'none');
});

t.test('resume with start_paused leaves the VM Paused', async (t) => {
  const [vm] = guests();
  await xapi.call('VM.suspend', vm);
  await xapi.call('VM.resume', vm, true, false);
  t.equal(store.get('VM', vm!)!.power_state, 'Paused');
  await xapi.call('VM.unpause', vm);
});

t.test('host.shutdown: refused while enabled; the host halts after the delay, with what still ran', async (t) => {
  const member = pool.hosts.find((h) => h.ref !== pool.master.ref)!;
  t.equal(await code(xapi.call('host.shutdown', member.ref)), 'HOST_NOT_DISABLED');
  const left = (store.get('host', member.ref)!.resident_VMs as string[]).filter((r) => !store.get('VM', r)!.is_control_domain);
  t.ok(left.length > 0, 'it still runs VMs (xapi does not refuse them)');
  await xapi.call('host.disable', member.ref);
  await xapi.call('host.shutdown', member.ref);
  t.equal(member.powered, true, 'the call returns before the host goes down');
  await wait('the halt', () => !member.powered);
  t.same(truth.domainsOn(member.ref), [], 'its domains died with it');
  t.equal(await code(xapi.call('host.shutdown', member.ref)), 'HOST_OFFLINE', 'a halted host answers nothing');
  pool.powerOn(member);
  t.equal(store.get('host', member.ref)!.enabled, true, 'enabled again after the boot');
  for (const vm of left) t.equal(store.get('VM', vm)!.power_state, 'Halted', 'what ran is Halted after the resync');
});
