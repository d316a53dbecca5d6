// Unit tests of the workflows' decisions and safety rules, with an in-memory fake of the narrow Xapi interface, a
// fake BMC and a fake SSH shell (end-to-end runs against simulator/ are separate). Notifications go in through the
// real API; the receiver runs with its real store and engine.
import t, { type Test } from 'tap';
import { FakePool, GiB } from './helpers/fake-xapi.js';
import { HOST_1, type Hook, startHook, tempDir, testConfig } from './helpers/harness.js';
import type { Fencer, PowerStatus } from '../../core/fencing.js';
import type { RemoteShell } from '../../core/ssh/shell.js';
import { waitFor } from '../../core/concurrency.js';

class FakeBmc implements Fencer {
  power: PowerStatus = 'on';
  calls: string[] = [];
  /** Whether power-off takes effect. */
  obeys = true;
  async powerOff(host: { name: string }) {
    this.calls.push(`off ${host.name}`);
    if (this.obeys) this.power = 'off';
  }
  async powerStatus(host: { name: string }) {
    this.calls.push(`status ${host.name}`);
    return this.power;
  }
}

function pool(): FakePool {
  const p = new FakePool();
  p.addHost('host-1');
  p.addHost('host-2', { memoryFree: 8 * GiB });
  p.addHost('host-3', { memoryFree: 4 * GiB });
  return p;
}

interface Env {
  hook: Hook;
  xapi: FakePool;
  bmc: FakeBmc;
  shellCalls: string[];
}

async function env(
  t: Test,
  opts: { mode?: string; fencer?: boolean; xapi?: FakePool; shell?: RemoteShell; extra?: string; fencing?: string; bmc?: string } = {},
): Promise<Env> {
  const xapi = opts.xapi ?? pool();
  const bmc = new FakeBmc();
  const shellCalls: string[] = [];
  const shell: RemoteShell = opts.shell ?? {
    async run(host, command) {
      shellCalls.push(`${host.address} ${command}`);
      return { code: 0, stdout: 'done.\n', stderr: '' };
    },
  };
  // The fencing section only sets the confirm timeout here: the fencer itself is the fake BMC.
  const modeLine = `${opts.mode ? `      mode: ${opts.mode}\n` : ''}      fencing: { user: admin, password: bmc-secret, bmc: ${opts.bmc ?? '{ host-1: 192.0.2.1 }'}, confirm_timeout_seconds: 0.1${opts.fencing ?? ''} }\n`;
  const config = testConfig(
    tempDir(),
    `${modeLine}  instance_failure: { heartbeat_timeout_seconds: 60, confirm_timeout_seconds: 1 }\n  process_failure: { confirm_timeout_seconds: 0.2 }\n  retry: { attempts: 1, interval_seconds: 0.05 }\n${opts.extra ?? ''}`,
  );
  const hook = await startHook(config, {
    xapiFor: () => xapi,
    fencerFor: () => (opts.fencer === false ? undefined : bmc),
    shellFor: () => shell,
  });
  t.teardown(() => hook.stop());
  return { hook, xapi, bmc, shellCalls };
}

const recent = () => new Date(Date.now() - 1000).toISOString();

async function notify(hook: Hook, type: string, payload: Record<string, unknown>, hostname = HOST_1.name): Promise<string> {
  const res = await hook.request('POST', '/v1/notifications', { body: { notification: { type, hostname, generated_time: recent(), payload } } });
  if (res.status !== 202) throw new Error(`create answered ${res.status}: ${res.text}`);
  return res.json.notification.notification_uuid;
}

async function settled(hook: Hook, uuid: string): Promise<any> {
  return waitFor(
    `notification ${uuid} to settle`,
    async () => {
      const res = await hook.request('GET', `/v1/notifications/${uuid}`, { headers: { 'OpenStack-API-Version': 'instance-ha 1.3' } });
      return ['finished', 'ignored', 'failed'].includes(res.json.notification.status) ? res.json.notification : undefined;
    },
    { timeoutMs: 15_000, everyMs: 10 },
  );
}

const hostDown = { event: 'STOPPED', host_status: 'UNKNOWN', cluster_status: 'OFFLINE' };

async function untilWaiting(hook: Hook, uuid: string): Promise<any> {
  for (let i = 0; i < 500; i++) {
    const n = (await hook.request('GET', `/v1/notifications/${uuid}`, { headers: { 'OpenStack-API-Version': 'instance-ha 1.1' } })).json.notification;
    if (n.operator_wait) return n;
    if (['finished', 'ignored', 'failed'].includes(n.status)) throw new Error(`ended ${n.status}: ${n.message}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`notification ${uuid} did not wait for an operator`);
}

function deadHost1(xapi: FakePool): void {
  const h = xapi.hosts.get('OpaqueRef:host-1')!;
  h.live = false;
  h.answers = false;
}

t.test('host failure: confirmed down, fenced, VMs restarted by priority and order within free memory', async (t) => {
  const { hook, xapi, bmc } = await env(t);
  const h1 = xapi.hosts.get('OpaqueRef:host-1')!;
  xapi.addVm('db', h1, { priority: 'restart', order: 2, memory: 4 * GiB });
  xapi.addVm('dns', h1, { priority: 'restart', order: 1, memory: 2 * GiB });
  xapi.addVm('batch', h1, { priority: '', memory: 4 * GiB });
  xapi.addVm('paused', h1, { power: 'Paused' });
  deadHost1(xapi);
  const uuid = await notify(hook, 'COMPUTE_HOST', hostDown);
  const n = await settled(hook, uuid);
  t.equal(n.status, 'finished', n.message);
  t.same(bmc.calls, ['status host-1', 'off host-1', 'status host-1']);
  t.same(xapi.actions, [
    'VM.power_state_reset dns',
    'VM.power_state_reset db',
    'VM.power_state_reset batch',
    'VM.start_on dns host-2',
    'VM.start_on db host-2',
    'VM.start_on batch host-3',
  ]);
  t.equal(xapi.vm('paused').power, 'Paused', 'a paused VM is never touched');
  t.same(
    n.recovery_workflow_details.map((d: any) => [d.name, d.state]),
    [
      ['confirm_host_down', 'SUCCESS'],
      ['plan_vm_restarts', 'SUCCESS'],
      ['fence_host', 'SUCCESS'],
      ['disable_host', 'SUCCESS'],
      ['reset_vm_power_states', 'SUCCESS'],
      ['restart_vms', 'SUCCESS'],
    ],
  );
  const moves = (await hook.request('GET', `/v1/notifications/${uuid}/vmoves`, { headers: { 'OpenStack-API-Version': 'instance-ha 1.3' } })).json.vmoves;
  t.same(
    moves.map((m: any) => [m.instance_name, m.status, m.dest_host]),
    [
      ['dns', 'succeeded', 'host-2'],
      ['db', 'succeeded', 'host-2'],
      ['batch', 'succeeded', 'host-3'],
      ['paused', 'ignored', null],
    ],
  );
  const segments = (await hook.request('GET', '/v1/segments')).json.segments;
  const hosts = (await hook.request('GET', `/v1/segments/${segments[0].uuid}/hosts`)).json.hosts;
  t.equal(hosts.find((h: any) => h.name === 'host-1').on_maintenance, false, 'maintenance ends with the recovery');
});

t.test('host failure: the hosts are read once per priority group, and a group never overcommits a host', async (t) => {
  const { hook, xapi } = await env(t);
  const h1 = xapi.hosts.get('OpaqueRef:host-1')!;
  // host-2 has 8 GiB free, host-3 4 GiB: five 2 GiB VMs of one rank, then two of a lower one.
  for (const name of ['a', 'b', 'c', 'd', 'e']) xapi.addVm(name, h1, { priority: 'restart', order: 1, memory: 2 * GiB });
  for (const name of ['f', 'g']) xapi.addVm(name, h1, { priority: 'best-effort', memory: 1 * GiB });
  deadHost1(xapi);
  const reads: string[] = [];
  const call = xapi.call.bind(xapi);
  xapi.call = (<T>(method: string, ...params: unknown[]) => {
    if (method === 'host_metrics.get_record') reads.push(String(params[0]));
    return call<T>(method, ...params);
  }) as typeof xapi.call;
  const n = await settled(hook, await notify(hook, 'COMPUTE_HOST', hostDown));
  t.equal(n.status, 'finished', n.message);
  // Two groups, two candidate hosts each (host-1 is the failed one): four reads, not one set per VM (7 × 2).
  t.equal(reads.length, 4, 'candidate hosts read once per group');
  const starts = xapi.actions.filter((a) => a.startsWith('VM.start'));
  t.equal(starts.length, 7, 'each VM started once');
  // The first group, most room first (ties in XAPI's order): host-2 8 → 6 → 4 GiB, host-3 takes the 4th (4 > 2),
  // host-2 the 5th (2 = 2): host-2 gets exactly its free memory, nothing is refused for want of it.
  t.same(
    starts.slice(0, 5).map((a) => a.split(' ').at(-1)),
    ['host-2', 'host-2', 'host-2', 'host-3', 'host-2'],
    'most room first; a host never offered more than its free memory',
  );
  t.ok(
    [...xapi.hosts.values()].every((h) => h.memoryFree >= 0),
    'no host overcommitted',
  );
});

t.test('no start elsewhere without a confirmed fence', async (t) => {
  t.test('no fencing configured and host_status UNKNOWN → waits for an operator, nothing touched', async (t) => {
    const { hook, xapi } = await env(t, { fencer: false });
    xapi.addVm('web', xapi.hosts.get('OpaqueRef:host-1')!);
    deadHost1(xapi);
    const n = await untilWaiting(hook, await notify(hook, 'COMPUTE_HOST', hostDown));
    t.match(n, {
      status: 'running',
      operator_wait: { kind: 'fence_confirmation', reason: /no fencing configured for pool pool-a: host-1 cannot be proven off/ },
    });
    t.same(xapi.actions, []);
  });
  t.test('the BMC never reports power off → waits for an operator, nothing touched', async (t) => {
    const { hook, xapi, bmc } = await env(t, { extra: '  tasks: { fence_host: { retries: 1, retry_delay_seconds: 0.01 } }\n' });
    bmc.obeys = false;
    xapi.addVm('web', xapi.hosts.get('OpaqueRef:host-1')!);
    deadHost1(xapi);
    const n = await untilWaiting(hook, await notify(hook, 'COMPUTE_HOST', hostDown));
    t.match(n.operator_wait, { kind: 'fence_confirmation', reason: /does not report power off within 0\.1 s of the power-off/ });
    t.same(xapi.actions, []);
    t.equal(bmc.calls.filter((c) => c.startsWith('off')).length, 1, 'a wait is not a failure: no retry of the power-off');
  });
  t.test('a BMC that reports off before any power-off from us proves nothing → waits', async (t) => {
    const { hook, xapi, bmc } = await env(t);
    bmc.power = 'off';
    bmc.obeys = false;
    xapi.addVm('web', xapi.hosts.get('OpaqueRef:host-1')!);
    deadHost1(xapi);
    const n = await untilWaiting(hook, await notify(hook, 'COMPUTE_HOST', hostDown));
    t.match(n.operator_wait, { reason: /reports power off although we sent no power-off: not proof/ });
    t.same(bmc.calls, ['status host-1'], 'no power-off sent, nothing else asked');
    t.same(xapi.actions, []);
  });
  t.test('XAPI says the host is live, or the host still answers → ignored, not fenced', async (t) => {
    const { hook, xapi, bmc } = await env(t);
    xapi.addVm('web', xapi.hosts.get('OpaqueRef:host-1')!);
    const live = await settled(hook, await notify(hook, 'COMPUTE_HOST', hostDown));
    t.match(live, { status: 'ignored', message: /live \(host_metrics.live = true\)/ });
    xapi.hosts.get('OpaqueRef:host-1')!.live = false;
    const answers = await settled(hook, await notify(hook, 'COMPUTE_HOST', { ...hostDown, cluster_status: 'ONLINE' }));
    t.match(answers, { status: 'ignored', message: /still answers calls/ });
    t.same(bmc.calls, []);
    t.same(xapi.actions, []);
  });
  t.test('an operator-confirmed fence (host_status NORMAL) is enough, without a BMC', async (t) => {
    const { hook, xapi } = await env(t, { fencer: false });
    xapi.addVm('web', xapi.hosts.get('OpaqueRef:host-1')!);
    deadHost1(xapi);
    const n = await settled(hook, await notify(hook, 'COMPUTE_HOST', { event: 'STOPPED', host_status: 'NORMAL' }));
    t.equal(n.status, 'finished');
    t.same(xapi.actions, ['VM.power_state_reset web', 'VM.start_on web host-2']);
  });
  t.end();
});

t.test('a VM started before the receiver lost track is never started again', async (t) => {
  const { hook, xapi } = await env(t);
  const h1 = xapi.hosts.get('OpaqueRef:host-1')!;
  xapi.addVm('a', h1, { order: 1 });
  xapi.addVm('b', h1, { order: 2 });
  deadHost1(xapi);
  // The first VM.start_on succeeds in XAPI, but the receiver loses the answer (connection reset): as if killed
  // between the action and its record. The retry must see VM "a" running and not start it again.
  let lost = false;
  xapi.afterAction = (action) => {
    if (action.startsWith('VM.start_on a') && !lost) {
      lost = true;
      throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    }
  };
  const n = await settled(hook, await notify(hook, 'COMPUTE_HOST', hostDown));
  t.equal(n.status, 'finished', n.message);
  t.same(
    xapi.actions.filter((a) => a.startsWith('VM.start')),
    ['VM.start_on a host-2', 'VM.start_on b host-2'],
    'each VM started exactly once',
  );
  const moves = (await hook.request('GET', `/v1/notifications/${n.notification_uuid}/vmoves`, { headers: { 'OpenStack-API-Version': 'instance-ha 1.3' } })).json
    .vmoves;
  t.match(moves, [
    { instance_name: 'a', status: 'succeeded', message: /already running on host-2/ },
    { instance_name: 'b', status: 'succeeded' },
  ]);
});

t.test('host failure: when no planned host takes a VM, XAPI chooses (VM.start); when no host can, the move fails and says why', async (t) => {
  const moves = async (hook: Hook, uuid: string) =>
    (await hook.request('GET', `/v1/notifications/${uuid}/vmoves`, { headers: { 'OpenStack-API-Version': 'instance-ha 1.3' } })).json.vmoves;
  t.test('the planned hosts refuse (their memory was taken meanwhile): VM.start, on the host XAPI picks', async (t) => {
    const { hook, xapi } = await env(t);
    xapi.addVm('web', xapi.hosts.get('OpaqueRef:host-1')!);
    deadHost1(xapi);
    // Both candidates had room when read, and refuse at VM.start_on as xapi does when another start got there first.
    xapi.fail('VM.start_on', 'HOST_NOT_ENOUGH_FREE_MEMORY', [String(GiB), '0']);
    xapi.fail('VM.start_on', 'HOST_NOT_ENOUGH_FREE_MEMORY', [String(GiB), '0']);
    const n = await settled(hook, await notify(hook, 'COMPUTE_HOST', hostDown));
    t.equal(n.status, 'finished', n.message);
    t.same(
      xapi.actions.filter((a) => a.startsWith('VM.start')),
      ['VM.start web'],
      'one start, placed by XAPI',
    );
    t.match(await moves(hook, n.notification_uuid), [{ instance_name: 'web', status: 'succeeded', dest_host: 'host-2' }]);
  });
  t.test('no live host has the memory: XAPI refuses VM.start too, the move is failed with its reason, nothing started', async (t) => {
    const xapi = pool();
    xapi.hosts.get('OpaqueRef:host-2')!.memoryFree = GiB / 2;
    xapi.hosts.get('OpaqueRef:host-3')!.memoryFree = GiB / 2;
    const { hook } = await env(t, { xapi });
    xapi.addVm('web', xapi.hosts.get('OpaqueRef:host-1')!);
    deadHost1(xapi);
    const n = await settled(hook, await notify(hook, 'COMPUTE_HOST', hostDown));
    t.equal(n.status, 'failed', 'a VM left down is never a finished recovery');
    t.same(
      xapi.actions.filter((a) => a.startsWith('VM.start')),
      [],
    );
    t.match(await moves(hook, n.notification_uuid), [{ instance_name: 'web', status: 'failed', message: /NO_HOSTS_AVAILABLE/ }]);
  });
  t.end();
});

t.test('fencing edge cases: each either proves the fence or waits for an operator, and never powers off a host that is back', async (t) => {
  t.test('host_status NORMAL (fence:assert) is taken when the BMC does not answer', async (t) => {
    const { hook, xapi, bmc } = await env(t);
    bmc.powerStatus = async () => {
      throw new Error('BMC 192.0.2.1 timed out');
    };
    xapi.addVm('web', xapi.hosts.get('OpaqueRef:host-1')!);
    deadHost1(xapi);
    const n = await settled(hook, await notify(hook, 'COMPUTE_HOST', { event: 'STOPPED', host_status: 'NORMAL' }));
    t.equal(n.status, 'finished', n.message);
    t.ok(
      n.recovery_workflow_details
        .find((d: any) => d.name === 'fence_host')
        .progress_details.some((p: any) => /fence asserted by the sender .* the BMC does not answer \(BMC 192\.0\.2\.1 timed out\)/.test(p.message)),
    );
    t.same(xapi.actions, ['VM.power_state_reset web', 'VM.start_on web host-2']);
  });
  t.test("an ambiguous BMC map (a key that is one host's name and another's uuid) → waits, nothing asked of any BMC", async (t) => {
    const xapi = pool();
    const { hook, bmc } = await env(t, { xapi, bmc: `{ host-1: 192.0.2.1, '${xapi.hosts.get('OpaqueRef:host-1')!.uuid}': 192.0.2.9 }` });
    xapi.addVm('web', xapi.hosts.get('OpaqueRef:host-1')!);
    deadHost1(xapi);
    const n = await untilWaiting(hook, await notify(hook, 'COMPUTE_HOST', hostDown));
    t.match(n.operator_wait, { kind: 'fence_confirmation', reason: /fencing\.bmc gives host host-1 .* two addresses: 192\.0\.2\.1 and 192\.0\.2\.9/ });
    t.same(bmc.calls, []);
    t.same(xapi.actions, []);
  });
  t.test('a host without a BMC entry → waits', async (t) => {
    const { hook, xapi, bmc } = await env(t, { bmc: '{ host-2: 192.0.2.2 }' });
    xapi.addVm('web', xapi.hosts.get('OpaqueRef:host-1')!);
    deadHost1(xapi);
    const n = await untilWaiting(hook, await notify(hook, 'COMPUTE_HOST', hostDown));
    t.match(n.operator_wait, { reason: /^fencing\.bmc has no entry for host-1 / });
    t.same(bmc.calls, []);
  });
  t.test('never the last live host: the only other hosts are down too → blast_radius wait', async (t) => {
    const { hook, xapi, bmc } = await env(t, { fencing: ', max_down_share: 1' });
    xapi.addVm('web', xapi.hosts.get('OpaqueRef:host-1')!);
    deadHost1(xapi);
    for (const ref of ['OpaqueRef:host-2', 'OpaqueRef:host-3']) xapi.hosts.get(ref)!.live = false;
    const n = await untilWaiting(hook, await notify(hook, 'COMPUTE_HOST', hostDown));
    t.match(n.operator_wait, {
      kind: 'blast_radius',
      reason: /^no other host of pool pool-a is live: host-1 is not powered off automatically \(never the last live host\)/,
    });
    t.same(bmc.calls, ['status host-1'], 'asked the state only');
  });
  t.test('half back (answers, not yet live) right before the power-off → not powered off, checked again, then recovered', async (t) => {
    const { hook, xapi, bmc } = await env(t, { extra: '  tasks: { fence_host: { retries: 3, retry_delay_seconds: 0.05 } }\n' });
    xapi.addVm('web', xapi.hosts.get('OpaqueRef:host-1')!);
    deadHost1(xapi);
    const h1 = xapi.hosts.get('OpaqueRef:host-1')!;
    let statusCalls = 0;
    const status = bmc.powerStatus.bind(bmc);
    bmc.powerStatus = async (host) => {
      // At the first look the host starts to answer, for a moment; then it is gone again.
      if (++statusCalls === 1) {
        h1.answers = true;
        setTimeout(() => (h1.answers = false), 120);
      }
      return status(host);
    };
    const n = await settled(hook, await notify(hook, 'COMPUTE_HOST', hostDown));
    t.equal(n.status, 'finished', n.message);
    const fence = n.recovery_workflow_details.find((d: any) => d.name === 'fence_host').progress_details.map((p: any) => p.message);
    t.ok(
      fence.some((m: string) => /half back \(live in XAPI or answering, not both\): not powered off/.test(m)),
      'the first attempt did not power off',
    );
    t.equal(bmc.calls.filter((c) => c.startsWith('off')).length, 1, 'one power-off, at the second attempt');
  });
  t.test('a host that reboots right after our power-off (the BMC never says off): its halted VMs are started again', async (t) => {
    const { hook, xapi, bmc } = await env(t);
    const h1 = xapi.hosts.get('OpaqueRef:host-1')!;
    xapi.addVm('web', h1);
    deadHost1(xapi);
    bmc.powerOff = async (host) => {
      bmc.calls.push(`off ${host.name}`);
      // Powered off and booted again at once: the resync halts what it listed; the BMC reports on.
      Object.assign(h1, { live: true, answers: true });
      Object.assign(xapi.vm('web'), { power: 'Halted', residentOn: 'OpaqueRef:NULL' });
    };
    const n = await settled(hook, await notify(hook, 'COMPUTE_HOST', hostDown));
    t.equal(n.status, 'finished', n.message);
    t.match(n.message, /^host host-1 came back after our power-off \(it rebooted\): not powered off again; web started again on host-\d$/);
    t.same(xapi.actions, ['VM.start web'], 'started once, no reset needed');
    t.same(bmc.calls, ['status host-1', 'off host-1', 'status host-1']);
  });
  t.test('a host back before the fence: paused and elsewhere-running VMs are left as they are, halted ones started again', async (t) => {
    const { hook, xapi, bmc } = await env(t);
    const h1 = xapi.hosts.get('OpaqueRef:host-1')!;
    xapi.addVm('halted-by-resync', h1);
    xapi.addVm('still-here', h1);
    deadHost1(xapi);
    bmc.powerStatus = async () => {
      // The host boots: its resync halted one VM, the other runs on it again.
      Object.assign(h1, { live: true, answers: true });
      Object.assign(xapi.vm('halted-by-resync'), { power: 'Halted', residentOn: 'OpaqueRef:NULL' });
      return 'on';
    };
    const n = await settled(hook, await notify(hook, 'COMPUTE_HOST', hostDown));
    t.equal(n.status, 'finished');
    t.match(n.message, /^host host-1 came back before the fence: not powered off; halted-by-resync started again on host-\d, still-here runs on host-1$/);
    t.same(xapi.actions, ['VM.start halted-by-resync'], 'the halted VM started once, nothing else');
    t.same(bmc.calls, [], 'no power-off');
  });
  t.end();
});

t.test('host_failure.start_timeout_seconds bounds each start: a start without an answer is failed, looked at again, never doubled', async (t) => {
  class SlowStart extends FakePool {
    delayed = 0;
    override async call<T>(method: string, ...params: unknown[]): Promise<T> {
      // The first VM.start_on answers after 1.5 s (and only then takes effect), past the 1 s deadline.
      if (method === 'VM.start_on' && this.delayed++ === 0) await new Promise((r) => setTimeout(r, 1500));
      return super.call<T>(method, ...params);
    }
  }
  const xapi = new SlowStart();
  for (const [name, o] of [
    ['host-1', {}],
    ['host-2', { memoryFree: 8 * GiB }],
    ['host-3', { memoryFree: 4 * GiB }],
  ] as const)
    xapi.addHost(name, o);
  const { hook } = await env(t, { xapi, extra: '  host_failure: { start_timeout_seconds: 1 }\n' });
  xapi.addVm('web', xapi.hosts.get('OpaqueRef:host-1')!);
  deadHost1(xapi);
  const n = await settled(hook, await notify(hook, 'COMPUTE_HOST', hostDown));
  t.equal(n.status, 'finished', n.message);
  const restart = n.recovery_workflow_details.find((d: any) => d.name === 'restart_vms').progress_details.map((p: any) => p.message);
  t.ok(
    restart.some((m: string) => /web \(VM\.start did not return within host_failure\.start_timeout_seconds \(1 s\); now Halted\)/.test(m)),
    'the first run says why',
  );
  await new Promise((r) => setTimeout(r, 1000));
  t.same(
    xapi.actions.filter((a) => a.startsWith('VM.start')),
    ['VM.start_on web host-2'],
    'started once: the late answer found it running and changed nothing',
  );
  t.equal(xapi.vm('web').power, 'Running');
});

t.test('dry-run: every decision is recorded, no action is taken', async (t) => {
  const { hook, xapi, bmc } = await env(t, { mode: 'dry-run' });
  xapi.addVm('web', xapi.hosts.get('OpaqueRef:host-1')!);
  deadHost1(xapi);
  const n = await settled(hook, await notify(hook, 'COMPUTE_HOST', hostDown));
  t.match(n, { status: 'finished', message: 'dry-run: no action taken' });
  t.same(xapi.actions, []);
  t.same(bmc.calls, ['status host-1'], 'only reads');
  const messages = n.recovery_workflow_details.flatMap((d: any) => d.progress_details.map((p: any) => p.message));
  t.ok(messages.some((m: string) => /dry-run: would power off host-1/.test(m)));
  t.ok(messages.some((m: string) => /dry-run: would start VM web on host-2/.test(m)));
  t.ok(messages.some((m: string) => /dry-run: would reset the power state of VM web/.test(m)));
  // Nothing reads as done: no "fenced", "VM … reset", "restarted" line outside a "dry-run:" one.
  const acted = messages.filter(
    (m: string) => !m.startsWith('dry-run') && /\b(fenced|reset|restarted|powered off|started)\b/.test(m) && !/not powered off/.test(m),
  );
  t.same(acted, [], 'no progress line claims an action');
});

t.test('instance failure', async (t) => {
  const crash = (uuid: string) => ({ instance_uuid: uuid, vir_domain_event: 'STOPPED_FAILED', event: 'LIFECYCLE' });
  const heartbeat = (uuid: string) => ({ instance_uuid: uuid, vir_domain_event: 'STOPPED_FAILED', event: 'QEMU_GUEST_AGENT_ERROR' });

  t.test('a crashed (Halted) VM is started and confirmed running with a fresh heartbeat', async (t) => {
    const { hook, xapi } = await env(t);
    const vm = xapi.addVm('web', null, { heartbeat: Date.now() - 3600_000 });
    const n = await settled(hook, await notify(hook, 'VM', crash(vm.uuid)));
    t.equal(n.status, 'finished', n.message);
    t.same(xapi.actions, ['VM.start web']);
  });
  t.test('a running VM whose guest stopped reporting is hard-rebooted', async (t) => {
    const { hook, xapi } = await env(t);
    const vm = xapi.addVm('web', xapi.hosts.get('OpaqueRef:host-1')!, { heartbeat: Date.now() - 600_000 });
    const n = await settled(hook, await notify(hook, 'VM', heartbeat(vm.uuid)));
    t.equal(n.status, 'finished', n.message);
    t.same(xapi.actions, ['VM.hard_reboot web']);
  });
  t.test('never touched: paused, suspended, shut down after a heartbeat alert, start blocked, deliberate stop events', async (t) => {
    const { hook, xapi } = await env(t);
    const h1 = xapi.hosts.get('OpaqueRef:host-1')!;
    const paused = xapi.addVm('paused', h1, { power: 'Paused' });
    const suspended = xapi.addVm('suspended', null, { power: 'Suspended' });
    const shutdown = xapi.addVm('shutdown', null);
    const blocked = xapi.addVm('blocked', null, { blockedOperations: { start: 'maintenance' } });
    const cases: [Record<string, unknown>, RegExp][] = [
      [crash(paused.uuid), /Paused \(an operator's choice\)/],
      [crash(suspended.uuid), /Suspended/],
      [heartbeat(shutdown.uuid), /deliberate shutdown/],
      [crash(blocked.uuid), /blocked_operations/],
      [{ instance_uuid: shutdown.uuid, vir_domain_event: 'STOPPED_SHUTDOWN', event: 'LIFECYCLE' }, /not actionable/],
    ];
    for (const [payload, reason] of cases) {
      const n = await settled(hook, await notify(hook, 'VM', payload));
      t.match(n, { status: 'ignored', message: reason }, String(reason));
    }
    t.same(xapi.actions, []);
  });
  t.test('no reboot without proof from the RRD: no guest agent, or too little history', async (t) => {
    const { hook, xapi } = await env(t);
    const h1 = xapi.hosts.get('OpaqueRef:host-1')!;
    const noAgent = xapi.addVm('bare', h1, { heartbeat: null });
    const n1 = await settled(hook, await notify(hook, 'VM', heartbeat(noAgent.uuid)));
    t.match(n1, { status: 'ignored', message: /no memory report in its RRD .*a hung guest cannot be told from a live one/ });
    // A guest that stopped reporting, but the RRD served only 10 s of rows (the window is 60 s here).
    const young = xapi.addVm('young', h1, { heartbeat: Date.now() - 600_000 });
    const rrd = xapi.rrdUpdates.bind(xapi);
    xapi.rrdUpdates = async (address, o) => rrd(address, { ...o, windowSeconds: 10 });
    const n2 = await settled(hook, await notify(hook, 'VM', heartbeat(young.uuid)));
    t.match(n2, { status: 'ignored', message: /only \d+ s of memory reports in its RRD, fewer than 60 s/ });
    t.same(xapi.actions, [], 'nothing rebooted');
  });
  t.test('a running VM with a current heartbeat needs nothing', async (t) => {
    const { hook, xapi } = await env(t);
    const vm = xapi.addVm('web', xapi.hosts.get('OpaqueRef:host-1')!);
    const n = await settled(hook, await notify(hook, 'VM', heartbeat(vm.uuid)));
    t.match(n, { status: 'finished', message: /nothing to do/ });
    t.same(xapi.actions, []);
  });
  t.end();
});

t.test('process failure', async (t) => {
  t.test('the toolstack is restarted over SSH and XAPI answers again', async (t) => {
    const xapi = pool();
    const h1 = xapi.hosts.get('OpaqueRef:host-1')!;
    h1.answers = false;
    const shellCalls: string[] = [];
    const { hook } = await env(t, {
      xapi,
      shell: {
        async run(host, command) {
          shellCalls.push(`${host.address} ${command}`);
          h1.answers = true;
          return { code: 0, stdout: 'done.\n', stderr: '' };
        },
      },
    });
    const n = await settled(hook, await notify(hook, 'PROCESS', { process_name: 'xapi', event: 'STOPPED' }));
    t.equal(n.status, 'finished', n.message);
    t.same(shellCalls, ['10.0.0.1 xe-toolstack-restart']);
  });
  t.test('a toolstack that stays down is escalated to a host notification', async (t) => {
    const { hook, xapi, shellCalls } = await env(t);
    xapi.hosts.get('OpaqueRef:host-1')!.answers = false;
    const n = await settled(hook, await notify(hook, 'PROCESS', { process_name: 'xapi', event: 'STOPPED' }));
    t.match(n, { status: 'finished', message: /escalated to host notification/ });
    t.same(shellCalls, ['10.0.0.1 xe-toolstack-restart']);
    const hostNotes = (await hook.request('GET', '/v1/notifications?type=COMPUTE_HOST')).json.notifications;
    t.match(hostNotes, [{ source_host_uuid: HOST_1.uuid, payload: { event: 'STOPPED', host_status: 'UNKNOWN' } }]);
  });
  t.test('a toolstack that answers needs nothing', async (t) => {
    const { hook, shellCalls } = await env(t);
    const n = await settled(hook, await notify(hook, 'PROCESS', { process_name: 'xapi', event: 'STOPPED' }));
    t.match(n, { status: 'finished', message: /toolstack is up/ });
    t.same(shellCalls, []);
  });
  t.end();
});
