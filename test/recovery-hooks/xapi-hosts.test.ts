// The host directory from XAPI: a fresh receiver knows every host of its pools' inventories (not only the configured
// `hosts:`), so a notification by host name works at once; the directory follows the inventory, keeps the last
// known hosts when XAPI cannot be reached or hangs, and never learns a host from an alert label.
import t from 'tap';
import { memoryLogger } from '../../core/log.js';
import type { Xapi } from '../../recovery-hooks/workflows/xapi.js';
import { XapiHostDirectory } from '../../recovery-hooks/xapi-hosts.js';
import { FakePool } from './helpers/fake-xapi.js';
import { HOST_1, startHook, tempDir, testConfig } from './helpers/harness.js';

/** The fake pool behind a switch: answering, down (connection refused) or hanging. */
function switchable(pool: FakePool) {
  const state = { mode: 'ok' as 'ok' | 'down' | 'hang', calls: 0 };
  const xapi: Xapi = {
    call: async <T>(method: string, ...params: unknown[]) => {
      state.calls++;
      if (state.mode === 'down') throw new Error('connect ECONNREFUSED 10.0.0.1:443');
      if (state.mode === 'hang') return new Promise<T>(() => undefined);
      return pool.call<T>(method, ...params);
    },
  };
  return { state, xapi };
}

const until = async (what: string, pred: () => boolean | Promise<boolean>, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

t.test('a fresh receiver takes notifications for every host of the XAPI inventory, by name, at once', async (t) => {
  const pool = new FakePool();
  pool.addHost('host-1');
  pool.addHost('host-2');
  pool.addHost('host-3');
  const fourth = pool.addHost('xcp-host-04');
  const { state, xapi } = switchable(pool);
  const hook = await startHook(testConfig(tempDir(), '      mode: dry-run\n'), { xapiFor: () => xapi, hostRefreshMs: 50 });
  t.teardown(() => hook.stop());

  const create = (hostname: string) =>
    hook.request('POST', '/v1/notifications', {
      body: { notification: { type: 'PROCESS', hostname, generated_time: new Date().toISOString(), payload: { process_name: 'xapi', event: 'STOPPED' } } },
    });
  const created = await create('xcp-host-04');
  t.equal(created.status, 202, 'a host only XAPI knows (not in hosts:) is found by name');
  t.equal(created.json.notification.source_host_uuid, fourth.uuid, 'its uuid comes from XAPI');

  const segment = (await hook.request('GET', '/v1/segments')).json.segments[0].uuid;
  const names = async () => (await hook.request('GET', `/v1/segments/${segment}/hosts`)).json.hosts.map((h: any) => h.name);
  t.same(await names(), ['host-1', 'host-2', 'host-3', 'xcp-host-04']);

  // A host added to the pool shows up at the next refresh.
  pool.addHost('xcp-host-05');
  await until('xcp-host-05 listed', async () => (await names()).includes('xcp-host-05'));

  // XAPI goes away: the last known hosts stay.
  state.mode = 'down';
  const calls = state.calls;
  await until('refreshes while down', () => state.calls > calls + 2);
  t.same(await names(), ['host-1', 'host-2', 'host-3', 'xcp-host-04', 'xcp-host-05'], 'an unreachable pool keeps its last known hosts');
  t.equal((await create('xcp-host-05')).status, 202);
  const warnings = hook.logger.lines.filter((l) => /cannot read the pool’s hosts from XAPI/.test(String(l.msg)));
  t.equal(warnings.length, 1, 'the outage is logged once, not at every refresh');

  // An alert naming a host the loaded inventory lacks is refused, and not learned.
  state.mode = 'ok';
  const alert = await hook.request('POST', '/alertmanager', {
    body: {
      alerts: [
        {
          status: 'firing',
          startsAt: new Date().toISOString(),
          labels: { xcp_notification_type: 'COMPUTE_HOST', pool_name: 'pool-a', host_name: 'ghost', host_uuid: '00000000-0000-4000-8000-0000000000ff' },
        },
      ],
    },
  });
  t.equal(alert.status, 202);
  t.match(alert.json.receipts[0], { outcome: 'invalid', reason: /not a host of pool pool-a in its XAPI inventory/ });
  t.notOk((await names()).includes('ghost'), 'never learned as a host of the segment');
  t.equal((await create('ghost')).status, 400);
});

t.test('the directory: configured hosts without XAPI; a hanging XAPI times out; bounded names', async (t) => {
  const pool = new FakePool();
  pool.addHost('host-1');
  pool.hosts.set('OpaqueRef:bad', { ...pool.addHost('bad'), uuid: 'not-a-uuid' });
  const { state, xapi } = switchable(pool);
  state.mode = 'hang';
  const logger = memoryLogger();
  const dir = new XapiHostDirectory({ pools: [{ name: 'pool-a', hosts: [HOST_1] }], xapiFor: () => xapi, logger, timeoutMs: 100, refreshMs: 60_000 });
  const started = Date.now();
  await dir.start(5000);
  dir.stop();
  t.ok(Date.now() - started < 2000, 'a hanging XAPI does not hold the start beyond the call timeout');
  t.notOk(dir.inventoryLoaded('pool-a'));
  t.same(dir.hostsOf('pool-a'), [{ ...HOST_1, pool: 'pool-a' }], 'the configured hosts are known without XAPI');
  t.match(
    logger.lines.find((l) => /cannot read/.test(String(l.msg))),
    { error: { message: /took more than 100 ms/ } },
  );

  state.mode = 'ok';
  await dir.refresh('pool-a');
  t.ok(dir.inventoryLoaded('pool-a'));
  t.same(
    dir.hostsOf('pool-a').map((h) => h.name),
    ['host-1'],
    'a record without a valid uuid is skipped',
  );
  t.same(dir.hostsOf('elsewhere'), []);
  t.equal(dir.findHost('host-1')?.uuid, HOST_1.uuid);
});

t.test("each read keeps the VMs XAPI lists on each host (a lost master's last account of what it ran), kept while XAPI cannot be read", async (t) => {
  const pool = new FakePool();
  const one = pool.addHost('host-1');
  const two = pool.addHost('host-2');
  pool.addVm('a', one);
  pool.addVm('b', one);
  pool.addVm('c', two);
  const { state, xapi } = switchable(pool);
  let clock = 1_000_000;
  const dir = new XapiHostDirectory({
    pools: [{ name: 'pool-a', hosts: [] }],
    xapiFor: () => xapi,
    logger: memoryLogger(),
    refreshMs: 60_000,
    now: () => clock,
  });
  await dir.refresh('pool-a');
  t.same(dir.residentsOf('pool-a', one.uuid), { readAt: 1_000_000, vms: [pool.vm('a').ref, pool.vm('b').ref] });
  t.same(dir.residentsOf('pool-a', two.uuid), { readAt: 1_000_000, vms: [pool.vm('c').ref] });
  t.equal(dir.residentsOf('pool-a', '00000000-0000-4000-8000-0000000000ff'), undefined, 'a host no read listed');
  t.equal(dir.residentsOf('elsewhere', one.uuid), undefined);

  // b moves to host-2; the next read says so.
  pool.vm('b').residentOn = two.ref;
  clock += 60_000;
  await dir.refresh('pool-a');
  t.same(dir.residentsOf('pool-a', one.uuid), { readAt: 1_060_000, vms: [pool.vm('a').ref] });

  // The master dies: the last read stays, with its time.
  state.mode = 'down';
  clock += 60_000;
  await dir.refresh('pool-a');
  t.same(dir.residentsOf('pool-a', one.uuid), { readAt: 1_060_000, vms: [pool.vm('a').ref] }, 'kept while XAPI cannot be read');
});

t.test('resident VMs from XAPI are checked: references only, no null reference, at most 4096 per host', async (t) => {
  const uuid = '00000000-0000-4000-8000-000000000001';
  let resident: unknown = ['OpaqueRef:ok-1', 'OpaqueRef:NULL', 42, 'not a ref', `OpaqueRef:${'x'.repeat(65)}`, 'OpaqueRef:ok-2'];
  const xapi: Xapi = { call: async <T>() => ({ 'OpaqueRef:h': { uuid, name_label: 'host-1', resident_VMs: resident } }) as T };
  const dir = new XapiHostDirectory({ pools: [{ name: 'pool-a', hosts: [] }], xapiFor: () => xapi, logger: memoryLogger(), now: () => 5 });
  await dir.refresh('pool-a');
  t.same(dir.residentsOf('pool-a', uuid), { readAt: 5, vms: ['OpaqueRef:ok-1', 'OpaqueRef:ok-2'] });
  resident = 'OpaqueRef:ok-1';
  await dir.refresh('pool-a');
  t.same(dir.residentsOf('pool-a', uuid)?.vms, [], 'not a list: none');
  resident = Array.from({ length: 5000 }, (_, i) => `OpaqueRef:vm-${i}`);
  await dir.refresh('pool-a');
  t.equal(dir.residentsOf('pool-a', uuid)?.vms.length, 4096);
  t.equal(dir.hostsOf('pool-a').length, 1, 'the host itself is kept');
});
