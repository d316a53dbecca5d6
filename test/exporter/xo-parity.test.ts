// Xen Orchestra parity (issue #20) against a simulated pool: the tags label and its option, the labels of VM disk
// gauges and network error counters, pool_name from XAPI, the estimated per-VM power, XO's /openmetrics paths,
// Accept weights, /health per host, pool_id remembered across restarts, and a refused login.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Secret } from '../../core/config/secret.js';
import type { XapiError } from '../../core/errors.js';
import { memoryLogger } from '../../core/log.js';
import { XapiClient } from '../../core/xapi/client.js';
import { negotiateFormat } from '../../exporter/accept.js';
import { startExporter } from '../../exporter/main.js';
import { serializeTags, tagsLabel } from '../../exporter/metrics/tags.js';
import { PoolIdFile } from '../../exporter/pool-ids.js';
import { exporterConfigYaml, startTestExporter } from '../helpers/exporter.js';
import { lines, until, value } from '../helpers/exposition.js';
import { poolConfigFor, startSim } from '../helpers/sim.js';
import { parseConfig } from '../../cli/config/bundle.js';
import { tempDir } from '../helpers/tmp.js';

const sim = await startSim();
const dir = tempDir('xo-parity-');
const stateFile = join(dir, 'state.json');
const ex = await startTestExporter([sim], `  state_file: ${stateFile}\n`);
const xapi = new XapiClient({ url: sim.url, username: 'root', password: new Secret(sim.pool.options.password) });
t.teardown(async () => {
  await xapi.logout();
  await ex.stop();
  await sim.stop();
});
const scrape = async (exporter = ex, path = '/metrics') => (await fetch(exporter.url + path)).text();
const collector = ex.exporter.pools[0]!;
await collector.watcher.whenSynced(5000);
await ex.exporter.pollOnce();

const store = sim.pool.store;
const [hostRef, host] = [...store.table('host')][0]!;
const [vmRef, vm] = [...store.table('VM')].find(([, v]) => !v.is_control_domain && !v.is_a_template && v.power_state === 'Running')!;
const [srRef, sr] = [...store.table('SR')].find(([, s]) => s.shared)!;

t.test('XO serializes tags: unique, blank dropped, sorted, comma-joined, absent when none', async (t) => {
  t.equal(serializeTags(['web', 'prod', 'web', ' ']), 'prod,web');
  t.equal(serializeTags([]), undefined);
  t.equal(serializeTags(undefined), undefined);
  t.equal(tagsLabel({ tags: ['a'] }, 'all', false), 'a');
  t.equal(tagsLabel({ tags: ['a'] }, 'info', false), undefined, 'info: not on other series');
  t.equal(tagsLabel({ tags: ['a'] }, 'info', true), 'a');
  t.equal(tagsLabel({ tags: ['a'] }, 'none', true), undefined);
});

t.test('the pool id file: only for the configured pool at the same URL; a broken file is set aside', async (t) => {
  const file = join(dir, 'ids.json');
  const id = '0e3c7d2a-7a39-4d67-9b8e-1f0c2a4b5c6d';
  writeFileSync(
    file,
    JSON.stringify({
      pools: {
        a: { url: 'https://a', pool_id: id },
        b: { url: 'https://old-b', pool_id: id },
        gone: { url: 'https://g', pool_id: id },
        c: { url: 'https://c', pool_id: 'not-a-uuid' },
      },
    }),
  );
  const logger = memoryLogger('warn');
  const pools = new Map([
    ['a', 'https://a'],
    ['b', 'https://b'],
    ['c', 'https://c'],
  ]);
  const ids = new PoolIdFile(file, pools, logger);
  t.same([ids.get('a'), ids.get('b'), ids.get('c'), ids.get('gone')], [id, undefined, undefined, undefined]);
  ids.update([
    ['b', id],
    ['unknown', id],
  ]);
  t.same(Object.keys(JSON.parse(readFileSync(file, 'utf8')).pools).sort(), ['a', 'b'], 'written with the configured pools only');
  writeFileSync(file, '{ not json');
  t.equal(new PoolIdFile(file, pools, logger).get('a'), undefined);
  t.ok(logger.lines.some((l) => l.msg === 'exporter state file unreadable, starting without it'));
});

t.test('tags from XAPI on host, VM and SR series (inventory and RRD), none on untagged objects', async (t) => {
  await xapi.call('host.add_tags', hostRef, 'production');
  await xapi.call('host.add_tags', hostRef, 'a-rack');
  await xapi.call('VM.set_tags', vmRef, ['web', 'db']);
  await xapi.call('SR.add_tags', srRef, 'gold');
  await until('the tags in the inventory', () => (collector.watcher.inventory.get('SR', srRef)?.tags as string[] | undefined)?.length === 1);
  await ex.exporter.pollOnce();
  const text = await scrape();
  const of = (metric: string, uuid: string) => lines(text, metric).filter((l) => l.includes(`uuid="${uuid}"`));
  for (const metric of ['xcp_host_live', 'xcp_host_status', 'xcp_host_info', 'xcp_host_cpu_average', 'xcp_host_memory_free_bytes']) {
    t.ok(of(metric, host.uuid as string).every((l) => l.includes('tags="a-rack,production"')) && of(metric, host.uuid as string).length > 0, metric);
  }
  for (const metric of ['xcp_vm_status', 'xcp_vm_info', 'xcp_vm_cpu_usage', 'xcp_vm_memory_bytes', 'xcp_vm_disk_read_bytes_total']) {
    t.ok(of(metric, vm.uuid as string).length > 0 && of(metric, vm.uuid as string).every((l) => l.includes('tags="db,web"')), metric);
  }
  const srLines = lines(text, 'xcp_sr_physical_size_bytes').filter((l) => l.includes(`sr_uuid="${sr.uuid}"`));
  t.ok(srLines.length === 1 && srLines[0]!.includes('tags="gold"'), 'SR series');
  const untagged = lines(text, 'xcp_host_live').filter((l) => !l.includes(`uuid="${host.uuid}"`));
  t.ok(untagged.length === 2 && untagged.every((l) => !l.includes('tags=')), 'omitted when empty');
  await xapi.call('host.remove_tags', hostRef, 'a-rack');
  await until('the removed tag', () => ((collector.watcher.inventory.get('host', hostRef)?.tags ?? []) as string[]).length === 1);
  await ex.exporter.pollOnce();
  const after = await scrape();
  const changed = lines(after, 'xcp_host_cpu_average')
    .concat(lines(after, 'xcp_host_live'))
    .filter((l) => l.includes(`uuid="${host.uuid}"`));
  t.ok(changed.length === 2 && changed.every((l) => l.includes('tags="production"')), 'a tag change reaches RRD series too', { changed });
});

t.test('VM disk gauges carry vdi_name, sr_name, sr_type; network error counters carry network_name', async (t) => {
  const text = await scrape();
  for (const metric of [
    'xcp_vm_disk_iops_read',
    'xcp_vm_disk_read_latency_seconds',
    'xcp_vm_disk_iowait',
    'xcp_vm_disk_inflight',
    'xcp_vm_disk_queue_size',
    'xcp_vm_disk_throughput_read_bytes',
  ]) {
    const got = lines(text, metric).filter((l) => l.includes('is_control_domain="false"'));
    t.ok(
      got.length > 0 && got.every((l) => /device="\w+"/.test(l) && /vdi_name="[^"]+"/.test(l) && /sr_name="[^"]+"/.test(l) && /sr_type="\w+"/.test(l)),
      metric,
    );
  }
  for (const metric of ['xcp_vm_network_receive_errors_total', 'xcp_vm_network_transmit_errors_total']) {
    const got = lines(text, metric).filter((l) => l.includes('is_control_domain="false"'));
    t.ok(got.length > 0 && got.every((l) => /vif="\d+",network_name="[^"]+"/.test(l)), metric);
  }
});

t.test('estimated VM power: the host power split by cpu_usage x vCPUs, only where the host power is known', async (t) => {
  const text = await scrape();
  const hosts = lines(text, 'xcp_host_power_consumption_watts');
  t.ok(hosts.length > 0, 'some simulated hosts have DCMI');
  const estimates = lines(text, 'xcp_vm_power_consumption_watts');
  t.ok(estimates.every((l) => l.includes('estimate="true"') && !l.includes('is_control_domain="true"') && !l.includes('device=')));
  for (const h of lines(text, 'xcp_host_live')) {
    const uuid = /uuid="([^"]+)"/.exec(h)![1]!;
    const watts = hosts.find((l) => l.includes(`uuid="${uuid}"`));
    const shares = estimates.filter((l) => l.includes(`host_id="${uuid}"`));
    if (!watts) {
      t.equal(shares.length, 0, 'no estimate without the host power');
      continue;
    }
    const cpu = lines(text, 'xcp_vm_cpu_usage').filter((l) => l.includes(`host_id="${uuid}"`) && l.includes('is_control_domain="false"'));
    t.equal(shares.length, cpu.length, 'one estimate per guest');
    const total = shares.reduce((a, l) => a + value(l), 0);
    t.ok(Math.abs(total - value(watts)) < 1e-6 * value(watts), `the shares add up to the host power (${total} W)`);
    // Every simulated VM has the same vCPUs: each share is its CPU usage's part of the host's.
    const cpuSum = cpu.reduce((a, l) => a + value(l), 0);
    for (const c of cpu) {
      const vmUuid = /uuid="([^"]+)"/.exec(c)![1]!;
      const share = shares.find((l) => l.includes(`uuid="${vmUuid}"`))!;
      t.ok(Math.abs(value(share) - (value(watts) * value(c)) / cpuSum) < 1e-6, `share of ${vmUuid}`);
    }
  }
});

t.test("XO's paths: /openmetrics/metrics and /openmetrics/health", async (t) => {
  const res = await fetch(ex.url + '/openmetrics/metrics');
  t.equal(res.status, 200);
  t.match(await res.text(), /xcp_pool_connected\{/);
  const health = await fetch(ex.url + '/openmetrics/health');
  t.same(await health.json(), { status: 'ok' });
});

t.test('Accept: weights decide, q=0 refuses', async (t) => {
  const prometheus =
    'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';
  t.equal(negotiateFormat(prometheus), 'openmetrics');
  t.equal(negotiateFormat('application/openmetrics-text;q=0, text/plain'), 'text');
  t.equal(negotiateFormat('application/openmetrics-text; q=0, */*'), 'text', 'a refused type is not brought back by */*');
  t.equal(negotiateFormat('text/plain;q=0.1, application/openmetrics-text;q=0.9'), 'openmetrics');
  t.equal(negotiateFormat('*/*'), 'text');
  t.equal(negotiateFormat(''), 'text');
  t.equal(negotiateFormat(undefined), 'text');
  t.equal(negotiateFormat('application/openmetrics-text, text/plain'), 'openmetrics', 'a tie: the first named');
  t.equal(negotiateFormat('text/*;q=0, application/openmetrics-text;q=0'), undefined);
  const om = await fetch(ex.url + '/metrics', { headers: { accept: 'application/openmetrics-text;q=0, text/plain;q=0.5' } });
  t.match(om.headers.get('content-type'), /^text\/plain/);
  t.notMatch(await om.text(), /# EOF/);
  const refused = await fetch(ex.url + '/metrics', { headers: { accept: 'application/openmetrics-text;q=0' } });
  t.equal(refused.status, 406);
});

t.test('/health: one member host whose RRD fails is reported, the exporter stays up (200, degraded)', async (t) => {
  const member = sim.pool.hosts[2]!;
  sim.pool.failHost(member);
  await sim.server.sync();
  t.teardown(async () => {
    sim.pool.powerOn(member);
    await sim.server.sync();
  });
  await ex.exporter.pollOnce();
  const res = await fetch(ex.url + '/health');
  t.equal(res.status, 200);
  const body = (await res.json()) as { status: string; pools: Record<string, { hosts_down: { uuid: string; name: string; error: string }[] }> };
  t.equal(body.status, 'degraded');
  const down = body.pools['sim-pool']!.hosts_down;
  t.same(
    down.map((h) => h.name),
    [store.get('host', member.ref)!.name_label],
  );
  t.match(down[0]!.error, /^timeout/);
});

t.test('labels.pool_name: xapi takes the pool name_label; labels.tags: info puts tags on _info series only', async (t) => {
  const [poolRef] = [...store.table('pool')][0]!;
  await xapi.call('pool.set_name_label', poolRef, 'Production pool');
  const b = await startTestExporter([sim], '  labels: { pool_name: xapi, tags: info }\n');
  t.teardown(() => b.stop());
  await b.exporter.pools[0]!.watcher.whenSynced(5000);
  await until('the pool name', () => b.exporter.pools[0]!.watcher.inventory.pool?.name_label === 'Production pool');
  await b.exporter.pollOnce();
  const text = await scrape(b);
  t.ok(lines(text, 'xcp_pool_connected')[0]!.includes('pool_name="Production pool"'));
  t.ok(lines(text, 'xcp_host_cpu_average').every((l) => l.includes('pool_name="Production pool"')));
  t.ok(lines(text, 'xcp_vm_status').every((l) => l.includes('pool_name="Production pool"')));
  t.notMatch(
    text
      .split('\n')
      .filter((l) => !/^xcp_(host|vm|sr)_info\{/.test(l))
      .join('\n'),
    /tags=/,
    'no tags outside _info',
  );
  t.ok(lines(text, 'xcp_host_info').some((l) => l.includes('tags="production"')));
  t.ok(lines(text, 'xcp_vm_info').some((l) => l.includes('tags="db,web"')));
  t.ok(lines(text, 'xcp_sr_info').some((l) => l.includes('tags="gold"')));
  t.ok(lines(await scrape(), 'xcp_pool_connected')[0]!.includes('pool_name="sim-pool"'), 'the default stays the config name');
  await xapi.call('pool.set_name_label', poolRef, 'Renamed pool');
  await until('the new pool name', () => b.exporter.pools[0]!.watcher.inventory.pool?.name_label === 'Renamed pool');
  await b.exporter.pollOnce();
  const renamed = lines(await scrape(b), 'xcp_host_cpu_average');
  t.ok(renamed.length > 0 && renamed.every((l) => l.includes('pool_name="Renamed pool"')), 'a renamed pool renames its RRD series too');
});

t.test('a refused login: reported as such, pool_id from the last connection, fixed by the password file alone', async (t) => {
  const poolId = store.get('pool', [...store.table('pool')][0]![0])!.uuid as string;
  t.same(JSON.parse(readFileSync(stateFile, 'utf8')).pools['sim-pool'], { url: sim.url, pool_id: poolId }, 'the state file keeps the pool id');
  const passwordFile = join(dir, 'password');
  writeFileSync(passwordFile, 'wrong\n');
  const yaml = exporterConfigYaml([sim], `  state_file: ${stateFile}\n`).replace(/password: .*/, `password_file: ${passwordFile}`);
  const logger = memoryLogger('warn');
  const c = await startExporter(parseConfig(yaml, 'test.yml', {}), logger);
  t.teardown(() => c.stop());
  await c.exporter.pollOnce();
  const text = await scrape(c);
  t.equal(lines(text, 'xcp_pool_connected')[0], `xcp_pool_connected{pool_id="${poolId}",pool_name="sim-pool"} 0`, 'never reached: pool_id from the state file');
  t.match(text, /xcp_exporter_collector_errors_total\{pool_name="sim-pool",collector="xapi",kind="auth"\} [1-9]/);
  const health = await fetch(c.url + '/health');
  t.equal(health.status, 503);
  const body = (await health.json()) as {
    pools: Record<string, { login_refused: boolean; master_reachable: boolean; collectors: { xapi: { last_error: { kind: string } } } }>;
  };
  t.match(body.pools['sim-pool'], { login_refused: true, master_reachable: true, collectors: { xapi: { last_error: { kind: 'auth' } } } });
  t.ok(
    logger.lines.some((l) => String(l.msg).startsWith('XAPI authentication failed')),
    'logged as an authentication failure',
  );
  t.notOk(
    logger.lines.some((l) => l.msg === 'pool master does not answer'),
    'not as a master that does not answer',
  );
  writeFileSync(passwordFile, `${sim.pool.options.password}\n`);
  const deadline = Date.now() + 15_000;
  let connected = '';
  while (Date.now() < deadline) {
    await c.exporter.pollOnce();
    connected = lines(await scrape(c), 'xcp_pool_connected')[0]!;
    if (connected.endsWith(' 1')) break;
  }
  t.match(connected, / 1$/, 'connected with the fixed password, no restart');
});

t.test('after a refused login the next attempt waits its backoff unless the password file changed', async (t) => {
  const file = join(dir, 'client-password');
  writeFileSync(file, 'wrong');
  const client = new XapiClient({ ...poolConfigFor(sim), password: new Secret('wrong', file), loginTimeoutMs: 6000 });
  t.teardown(() => client.logout());
  const first = await client.login().catch((e: XapiError) => e);
  t.equal((first as XapiError).code, 'SESSION_AUTHENTICATION_FAILED');
  t.ok(client.loginRefused);
  const again = await client.login().catch((e: XapiError) => e);
  t.equal(again, first, 'the same refusal, no new login sent during the backoff');
  writeFileSync(file, sim.pool.options.password);
  t.match(await client.login(), /^OpaqueRef:/, 'a changed password file is tried at once');
  t.notOk(client.loginRefused);
});

t.test('the new keys are validated, naming the key', async (t) => {
  const bad = exporterConfigYaml([sim], '  labels: { tags: sometimes, pool_name: xo }\n  state_file: ""\n');
  const err = (() => {
    try {
      parseConfig(bad, 'test.yml', {});
    } catch (e) {
      return String(e);
    }
  })();
  t.match(err, /exporter\.labels\.tags.*one of all, info, none/);
  t.match(err, /exporter\.labels\.pool_name.*one of config, xapi/);
  t.match(err, /exporter\.state_file/);
  const defaults = parseConfig(exporterConfigYaml([sim]), 'test.yml', {}).exporter;
  t.same(defaults.labels, { tags: 'all', pool_name: 'config' });
  t.equal(defaults.state_file, undefined);
});

t.test('estimated VM power uses the IPMI reading when the hardware collector has one (as XO)', async (t) => {
  const yaml = exporterConfigYaml([sim]).replace(
    /( {4}timeouts: .*\n)/,
    '$1    hardware:\n      transport: plugin\n      ipmi: { interval_seconds: 1 }\n      smart: { enabled: false }\n',
  );
  const d = await startExporter(parseConfig(yaml, 'test.yml', {}), memoryLogger('error'));
  t.teardown(() => d.stop());
  const pool = d.exporter.pools[0]!;
  await pool.watcher.whenSynced(5000);
  await until('IPMI power readings', () => [...pool.hardware!.ipmi.values()].some((s) => s.reading?.power));
  await d.exporter.pollOnce();
  const text = await scrape(d);
  const ipmi = lines(text, 'xcp_host_power_consumption_watts').filter((l) => !l.includes('source="rrd"'));
  t.ok(ipmi.length > 0, 'some hosts have an IPMI power reading');
  let checked = 0;
  for (const l of ipmi) {
    const uuid = /uuid="([^"]+)"/.exec(l)![1]!;
    const shares = lines(text, 'xcp_vm_power_consumption_watts').filter((s) => s.includes(`host_id="${uuid}"`));
    const guests = lines(text, 'xcp_vm_cpu_usage').filter((s) => s.includes(`host_id="${uuid}"`) && s.includes('is_control_domain="false"'));
    t.equal(shares.length, guests.length, `one estimate per guest of ${uuid} (none on a host without guests)`);
    if (!guests.length) continue;
    checked++;
    const total = shares.reduce((a, s) => a + value(s), 0);
    t.ok(Math.abs(total - value(l)) < 1e-6 * value(l), `they add up to the IPMI reading (${value(l)} W), not rrdd's DCMI source`);
  }
  t.ok(checked > 0, `${checked} hosts with IPMI power and guests checked`);
});
