// The exporter against a simulated pool: what it serves, how it follows changes, and how it behaves when hosts
// or the master fail.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { memoryLogger } from '../../core/log.js';
import type { Ref } from '../../simulator/model/types.js';
import { startTestExporter } from '../helpers/exporter.js';
import { lines, value } from '../helpers/exposition.js';
import { startSim } from '../helpers/sim.js';

const sim = await startSim();
const logger = memoryLogger('warn');
const ex = await startTestExporter([sim], '  token: s3cret\n', logger);
t.teardown(async () => {
  await ex.stop();
  await sim.stop();
});
const auth = { authorization: 'Bearer s3cret' };
const scrape = async (headers: Record<string, string> = {}) => (await fetch(ex.url + '/metrics', { headers: { ...auth, ...headers } })).text();
/** Run a poll now instead of waiting for the interval. */
const poll = () => ex.exporter.pollOnce();

await ex.exporter.pools[0]!.watcher.whenSynced(5000);
await poll();

t.test('serves the pool, its hosts, VMs and SRs', async (t) => {
  const text = await scrape();
  t.equal(lines(text, 'xcp_pool_connected').length, 1);
  t.equal(value(lines(text, 'xcp_pool_connected')[0]!), 1);
  t.equal(lines(text, 'xcp_host_live').length, 3);
  t.equal(lines(text, 'xcp_host_rrd_up').filter((l) => value(l) === 1).length, 3);
  t.equal(lines(text, 'xcp_vm_status').length, 12, 'guests only: no dom0, no template');
  t.ok(lines(text, 'xcp_vm_cpu_usage').length >= 12, 'RRD series of every running VM (and dom0s)');
  t.ok(lines(text, 'xcp_sr_physical_size_bytes').length >= 5, 'shared and local SRs');
  t.equal(lines(text, 'xcp_pbd_attached').length, 9, 'one PBD per host per SR');
  t.ok(
    lines(text, 'xcp_host_disk_iops_read').some((l) => /sr_name="NFS VM store"/.test(l)),
    'SR prefix resolved to the SR name',
  );
  t.ok(lines(text, 'xcp_vm_guest_heartbeat_age_seconds').every((l) => value(l) < 30));
  t.ok(lines(text, 'xcp_vm_resident_host_live').every((l) => value(l) === 1));
  t.ok(lines(text, 'xcp_host_xapi_sessions').length === 3, 'toolstack RRD sources');
  t.match(text, /xcp_exporter_collector_up\{pool_name="sim-pool",collector="rrd"\} 1/);
  for (const m of [
    'xcp_vm_info',
    'xcp_host_info',
    'xcp_host_uptime_seconds',
    'xcp_vm_uptime_seconds',
    'xcp_sr_physical_usage_ratio',
    'xcp_vdi_virtual_size_bytes',
  ])
    t.ok(lines(text, m).length > 0, m);
});

t.test('every family has HELP and TYPE, and promtool check metrics finds no problem', async (t) => {
  const text = await scrape();
  const families = new Set(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(/[{ ]/)[0]!),
  );
  for (const f of families) {
    t.match(text, `# HELP ${f} `, `HELP for ${f}`);
    t.match(text, new RegExp(`# TYPE ${f} (gauge|counter)`), `TYPE for ${f}`);
  }
  const out = execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  t.equal(out.trim(), '', 'no lint output');
});

t.test('content negotiation, gzip, auth', async (t) => {
  const om = await fetch(ex.url + '/metrics', { headers: { ...auth, accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' } });
  t.match(om.headers.get('content-type'), 'application/openmetrics-text; version=1.0.0');
  const omText = await om.text();
  t.match(omText, /# TYPE xcp_vm_network_receive_bytes counter\n/, 'OpenMetrics counter family without _total');
  t.match(omText, /\nxcp_vm_network_receive_bytes_total\{/);
  t.ok(omText.endsWith('# EOF\n'));
  const plain = await fetch(ex.url + '/metrics', { headers: auth });
  t.match(plain.headers.get('content-type'), 'text/plain; version=0.0.4');
  // node:http, because fetch would decompress silently.
  const gz = await new Promise<{ encoding?: string; body: Buffer }>((resolve, reject) =>
    http
      .get(ex.url + '/metrics', { headers: { ...auth, 'accept-encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
      })
      .on('error', reject),
  );
  t.equal(gz.encoding, 'gzip');
  const plainText = await plain.text();
  t.equal(gunzipSync(gz.body).toString(), plainText, 'same body, compressed');
  t.ok(gz.body.length < plainText.length / 5, 'and much smaller');
  const none = await fetch(ex.url + '/metrics');
  t.equal(none.status, 401);
  t.same(await none.json(), { error: 'Query is not authenticated' });
  const wrong = await fetch(ex.url + '/metrics', { headers: { authorization: 'Bearer nope' } });
  t.equal(wrong.status, 401);
  t.same(await wrong.json(), { error: 'Query authentication does not match server setting' });
  const health = await fetch(ex.url + '/health');
  t.equal(health.status, 200, '/health needs no token');
  t.same(await health.json(), { status: 'ok' });
  const missing = await fetch(ex.url + '/nope');
  t.equal(missing.status, 404);
  t.same(await missing.json(), { error: 'Not found' });
});

t.test('the body is rendered once per poll, not per scrape', async (t) => {
  const snap = ex.exporter.snapshot!;
  await scrape();
  await scrape();
  t.equal(ex.exporter.snapshot, snap, 'scrapes do not make a snapshot');
  t.equal(snap.body('text'), snap.body('text'), 'the same buffers are served');
  t.equal(await snap.gzip('text'), await snap.gzip('text'), 'compressed once');
});

t.test('counters only grow', async (t) => {
  const key = 'xcp_vm_network_receive_bytes_total';
  const before = new Map(lines(await scrape(), key).map((l) => [l.slice(0, l.lastIndexOf(' ')), value(l)]));
  await new Promise((r) => setTimeout(r, 5200));
  await poll();
  const after = lines(await scrape(), key);
  t.ok(after.length > 0);
  let grew = 0;
  for (const l of after) {
    const b = before.get(l.slice(0, l.lastIndexOf(' ')));
    if (b === undefined) continue;
    t.ok(value(l) >= b, 'monotonic');
    if (value(l) > b) grew++;
  }
  t.ok(grew > 0, 'traffic was integrated');
});

t.test('a renamed VM gets its new label on the next poll; a deleted VM disappears', async (t) => {
  const store = sim.pool.store;
  const [ref, vm] = [...store.table('VM')].find(([, v]) => !v.is_control_domain && !v.is_a_template && v.power_state === 'Running')!;
  store.mod('VM', ref, { name_label: 'renamed-vm' });
  await new Promise((r) => setTimeout(r, 300));
  await poll();
  let text = await scrape();
  t.ok(
    lines(text, 'xcp_vm_cpu_usage').some((l) => l.includes('vm_name="renamed-vm"')),
    'RRD series relabelled',
  );
  t.ok(lines(text, 'xcp_vm_status').some((l) => l.includes('vm_name="renamed-vm"')));
  // Delete it as XAPI would after a shutdown and destroy.
  sim.pool.store.mod('VM', ref, { power_state: 'Halted', resident_on: 'OpaqueRef:NULL' });
  for (const [hRef, h] of store.table('host')) store.mod('host', hRef, { resident_VMs: (h.resident_VMs as Ref[]).filter((r) => r !== ref) });
  store.del('VM', ref);
  await new Promise((r) => setTimeout(r, 300));
  await poll();
  text = await scrape();
  t.notMatch(text, vm.uuid as string, 'no series of the deleted VM');
});

t.test('a hanging host costs at most its timeout and is reported', async (t) => {
  const h = sim.pool.hosts[2]!;
  sim.pool.failHost(h);
  await sim.server.sync();
  const started = Date.now();
  await poll();
  const took = Date.now() - started;
  t.ok(took < 2000 + 1500, `poll took ${took} ms with a 2 s host timeout`);
  const text = await scrape();
  const hostName = sim.pool.store.get('host', h.ref)!.name_label;
  t.equal(value(lines(text, 'xcp_host_rrd_up').find((l) => l.includes(`host_name="${hostName}"`))!), 0);
  t.equal(lines(text, 'xcp_host_rrd_up').filter((l) => value(l) === 1).length, 2, 'the others still answer');
  t.match(text, /xcp_exporter_collector_errors_total\{pool_name="sim-pool",collector="rrd",kind="timeout"\} [1-9]/);
  const health = await fetch(ex.url + '/health');
  t.equal(health.status, 200, 'one host down is reported in metrics, the pool is still collected');
  // After host_dead_after, the master's view says so too, and its VMs are on a dead host.
  await new Promise((r) => setTimeout(r, 1600));
  await poll();
  const later = await scrape();
  t.equal(value(lines(later, 'xcp_host_live').find((l) => l.includes(`host_name="${hostName}"`))!), 0);
  t.ok(lines(later, 'xcp_vm_resident_host_live').some((l) => l.includes(`host_name="${hostName}"`) && value(l) === 0));
  sim.pool.powerOn(h);
  await sim.server.sync();
});

t.test('the master dies: xcp_pool_connected 0, /health says why; then it recovers by itself', async (t) => {
  const master = sim.pool.master;
  sim.pool.failHost(master);
  await sim.server.sync();
  await poll();
  let text = await scrape();
  t.equal(value(lines(text, 'xcp_pool_connected')[0]!), 0);
  t.match(text, /xcp_exporter_collector_up\{pool_name="sim-pool",collector="xapi"\} 0/);
  const health = await fetch(ex.url + '/health');
  t.equal(health.status, 503);
  const body = (await health.json()) as {
    status: string;
    pools: Record<string, { connected: boolean; collectors: Record<string, { up: boolean; last_error: { kind: string } | null }> }>;
  };
  t.equal(body.status, 'failing');
  t.equal(body.pools['sim-pool']!.connected, false);
  t.match(body.pools['sim-pool']!.collectors.xapi!.last_error!.kind, /^(timeout|connection)$/, 'the hung master: a timeout, or the long poll cut');
  t.equal(body.pools['sim-pool']!.collectors.xapi!.up, false);
  sim.pool.powerOn(master);
  await sim.server.sync();
  await ex.exporter.pools[0]!.watcher.whenSynced(8000);
  await poll();
  text = await scrape();
  t.equal(value(lines(text, 'xcp_pool_connected')[0]!), 1, 'reconnected without a restart');
});
