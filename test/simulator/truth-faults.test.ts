// The simulator's ground truth (which domains physically run where) and the faults that make it differ from XAPI's
// database: hung and partitioned hosts keep their domains, VM.power_state_reset does not stop a domain, a healed
// host resyncs as xapi does, and the BMC fault modes behave as ipmitool would through the simulator's CLI.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { XapiClient } from '../../core/xapi/client.js';
import type { XapiError } from '../../core/errors.js';
import type { Ref } from '../../simulator/model/types.js';
import type { Simulation } from '../../simulator/run.js';
import { poolConfigFor, startSim } from '../helpers/sim.js';

const CLI = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function rig(t: Test) {
  const sim = await startSim();
  t.teardown(() => sim.stop());
  const xapi = XapiClient.forPool(poolConfigFor(sim));
  t.teardown(() => xapi.logout());
  const member = sim.pool.hosts.find((h) => h.ref !== sim.pool.master.ref)!;
  const other = sim.pool.hosts.find((h) => h.ref !== sim.pool.master.ref && h !== member)!;
  const guests = (h: { ref: Ref }) => (sim.pool.store.get('host', h.ref)!.resident_VMs as Ref[]).filter((r) => !sim.pool.store.get('VM', r)!.is_control_domain);
  return { sim, xapi, member, other, guests };
}

const control = async (sim: Simulation, path: string, body?: unknown) => {
  const res = await fetch(
    sim.controlUrl + path,
    body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
  );
  return { status: res.status, json: (await res.json()) as any };
};

const until = async (what: string, check: () => boolean, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

const err = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e as XapiError,
  );

/** Run the simulator's CLI; resolves with its exit status and output (or 'killed' when `killAfterMs` passed first). */
function cli(args: string[], killAfterMs?: number): Promise<{ code: number | string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'simulate', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = killAfterMs ? setTimeout(() => child.kill('SIGKILL'), killAfterMs) : undefined;
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: signal ? 'killed' : code, stdout, stderr });
    });
  });
}

t.test('domains follow starts, shutdowns, crashes and power; the truth is served read-only', async (t) => {
  const { sim, xapi, member, other, guests } = await rig(t);
  const { truth } = sim.pool;
  for (const h of sim.pool.hosts) t.same(truth.domainsOn(h.ref).sort(), guests(h).sort(), 'at build, every running guest has its domain on its host');
  const [vm, crashed] = guests(member);
  await xapi.call('VM.hard_shutdown', vm);
  t.same(truth.hostsRunning(vm!), [], 'hard_shutdown ends the domain');
  await xapi.call('VM.start_on', vm, other.ref, false, false);
  t.same(truth.hostsRunning(vm!), [other.ref], 'start_on runs it on the chosen host');
  sim.pool.crashVm(crashed!, 'halt');
  t.same(truth.hostsRunning(crashed!), [], 'a crashed domain is gone');

  const view = await control(sim, '/sim/truth');
  t.equal(view.status, 200);
  const hostView = view.json.hosts.find((h: any) => h.uuid === sim.pool.store.get('host', member.ref)!.uuid);
  t.match(hostView, { powered: true, hung: false, partitioned: false, answering: true, live: true });
  t.equal(hostView.domains.length, guests(member).length);

  await control(sim, `/sim/hosts/${member.address}/power-off`, {});
  t.same(truth.domainsOn(member.ref), [], 'a powered-off host runs nothing');
  t.match(truth.powerOffs.at(-1), { host: member.ref, upWhenRequested: true, liveWhenRequested: true });
});

t.test('a hung host keeps its domains; power_state_reset does not stop them: the VM then runs twice', async (t) => {
  const { sim, xapi, member, other, guests } = await rig(t);
  const { truth } = sim.pool;
  const vms = guests(member);
  const vm = vms[0]!;
  t.equal((await err(xapi.call('VM.power_state_reset', vm)))?.code, 'HOST_IS_LIVE', 'refused while the host is alive, as xapi_vm.ml raises it');
  t.same((await err(xapi.call('VM.power_state_reset', vm)))?.params, [member.ref]);
  const onMaster = guests(sim.pool.master)[0]!;
  t.equal((await err(xapi.call('VM.power_state_reset', onMaster)))?.code, 'DOMAIN_EXISTS', 'on the master itself, xenopsd still runs it');

  await control(sim, `/sim/hosts/${member.address}/fail`, {});
  await until('the hung host to be not live', () => !sim.pool.isLive(member.ref));
  t.same(truth.domainsOn(member.ref).sort(), [...vms].sort(), 'hung but powered: its domains still run');
  await xapi.call('VM.power_state_reset', vm);
  t.equal(await xapi.call('VM.get_power_state', vm), 'Halted', 'the database says Halted');
  t.same(truth.hostsRunning(vm), [member.ref], 'the domain still runs on the hung host');
  await xapi.call('VM.start_on', vm, other.ref, false, false);
  t.same(truth.hostsRunning(vm).sort(), [member.ref, other.ref].sort(), 'started elsewhere: it runs on two hosts');
  t.match(truth.overlaps, [{ vm, hosts: [member.ref, other.ref] }], 'the double start is recorded');

  // The BMC reset of the hung box (recover) is a cold boot: its domains end, the database is resynced.
  await control(sim, `/sim/hosts/${member.address}/recover`, {});
  t.same(truth.domainsOn(member.ref), [], 'rebooted: nothing runs there');
  t.same(truth.hostsRunning(vm), [other.ref]);
  for (const v of vms.slice(1)) t.equal(await xapi.call('VM.get_power_state', v), 'Halted', 'its other VMs are Halted after the boot');
});

t.test('a partitioned host runs on, unreachable; the master declares it dead; heal resyncs as xapi does', async (t) => {
  const { sim, xapi, member, other, guests } = await rig(t);
  const { truth } = sim.pool;
  const [keep, moved, claimed] = guests(member);
  t.equal((await control(sim, `/sim/hosts/${sim.pool.master.address}/partition`, {})).status, 409, 'the master is not partitioned here');
  const cut = await control(sim, `/sim/hosts/${member.address}/partition`, {});
  t.match(cut.json, { partitioned: true, power: 'on' });
  // Its XAPI blackholes: a connection is accepted and nothing answers.
  const probe = await fetch(sim.server.urlOf(member), { signal: AbortSignal.timeout(500) }).then(
    () => 'answered',
    () => 'no answer',
  );
  t.equal(probe, 'no answer', 'nobody reaches it');
  t.ok(sim.pool.isLive(member.ref), 'still live in the master view at first');
  await until('the partitioned host to be not live', () => !sim.pool.isLive(member.ref));
  t.equal(truth.domainsOn(member.ref).length, guests(member).length, 'its domains run on');

  // What a careless recovery does: reset two VMs; start one elsewhere, leave the other resident nowhere.
  await xapi.call('VM.power_state_reset', moved);
  await xapi.call('VM.power_state_reset', claimed);
  await xapi.call('VM.start_on', moved, other.ref, false, false);
  t.same(truth.hostsRunning(moved!).sort(), [member.ref, other.ref].sort(), 'a partitioned host is a host that may still run the VM');
  // A VM the database lists on the partitioned host that its hypervisor no longer runs (its guest shut down).
  const gone = guests(member).find((v) => v !== keep && v !== moved && v !== claimed);
  if (gone) truth.stop(gone, member.ref);

  const healed = await control(sim, `/sim/hosts/${member.address}/heal`, {});
  t.match(healed.json, { partitioned: false, crashed: false });
  t.same(truth.hostsRunning(moved!), [other.ref], 'resync kills the domain of a VM resident elsewhere');
  t.equal(await xapi.call('VM.get_resident_on', claimed), member.ref, 'a domain of a VM resident nowhere is claimed');
  t.equal(await xapi.call('VM.get_power_state', claimed), 'Running');
  t.equal(await xapi.call('VM.get_resident_on', keep), member.ref, 'its own VMs stay');
  if (gone) t.equal(await xapi.call('VM.get_power_state', gone), 'Halted', 'a VM it no longer runs is reset to Halted');
  await until('the healed host to be live again', () => sim.pool.isLive(member.ref));
});

t.test('a hung host that thaws (heal, no reboot) keeps its domains and resyncs', async (t) => {
  const { sim, xapi, member, guests } = await rig(t);
  const vms = guests(member);
  await control(sim, `/sim/hosts/${member.address}/fail`, {});
  await until('not live', () => !sim.pool.isLive(member.ref));
  await xapi.call('VM.power_state_reset', vms[0]);
  await control(sim, `/sim/hosts/${member.address}/heal`, {});
  t.same(sim.pool.truth.domainsOn(member.ref).sort(), [...vms].sort(), 'nothing rebooted');
  t.equal(await xapi.call('VM.get_power_state', vms[0]), 'Running', 'the reset VM is claimed back: it never stopped');
  t.equal((await control(sim, `/sim/hosts/${member.address}/heal`, {})).status, 200, 'healing a healthy host is a no-op');
  await control(sim, `/sim/hosts/${member.address}/power-off`, {});
  t.equal((await control(sim, `/sim/hosts/${member.address}/heal`, {})).status, 409, 'an off host is powered on, not healed');
});

t.test('BMC fault modes through the CLI used as ipmitool', async (t) => {
  const { sim, member } = await rig(t);
  const bmc = (cmd: string, killAfterMs?: number) => cli([cmd, member.address, '--control', sim.controlUrl, '--ipmitool-output'], killAfterMs);
  t.equal((await control(sim, `/sim/hosts/${member.address}/bmc`, { mode: 'sideways' })).status, 400, 'an unknown mode is refused');

  const set = await cli(['bmc-fault', member.address, 'unreachable', '--control', sim.controlUrl]);
  t.equal(set.code, 0, set.stderr);
  t.match(JSON.parse(set.stdout), { bmc: 'unreachable' });
  const status = await bmc('power-status');
  t.equal(status.code, 1, 'unreachable: non-zero exit');
  t.equal(status.stderr, 'Error: Unable to establish IPMI v2 / RMCP+ session\nUnable to get Chassis Power Status\n');
  const off = await bmc('power-off');
  t.equal(off.code, 1);
  t.match(off.stderr, /Unable to set Chassis Power Control to Down\/Off/);
  t.ok(member.powered, 'nothing happened to the host');

  await control(sim, `/sim/hosts/${member.address}/bmc`, { mode: 'lying-off' });
  t.equal((await bmc('power-status')).stdout, 'Chassis Power is off\n', 'lying-off: says off…');
  t.equal((await bmc('power-off')).stdout, 'Chassis Power Control: Down/Off\n', '…accepts the power-off…');
  t.ok(member.powered, '…and the host is still powered');
  t.ok(sim.pool.truth.domainsOn(member.ref).length > 0, 'with its domains');

  await control(sim, `/sim/hosts/${member.address}/bmc`, { mode: 'hang' });
  const hung = await bmc('power-status', 1500);
  t.equal(hung.code, 'killed', 'hang: the command never answers until killed');
  t.equal(hung.stdout, '');

  await control(sim, `/sim/hosts/${member.address}/bmc`, { mode: 'ok', delay_ms: 300 });
  const started = Date.now();
  const pending = control(sim, `/sim/hosts/${member.address}/power-off`, {});
  await until('the power-off to reach the BMC', () =>
    sim.pool.truth.bmcCalls.some((c) => c.command === 'power-off' && c.host === member.ref && c.at >= started),
  );
  t.ok(member.powered, 'a delayed power-off has not landed yet');
  await pending;
  t.notOk(member.powered, 'then it lands');
  t.equal((await bmc('power-status')).stdout, 'Chassis Power is off\n');
});
