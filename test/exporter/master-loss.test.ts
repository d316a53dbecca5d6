// The exporter when the pool master is lost (simulated pool, real XAPI calls): it keeps the members, probes them,
// reports the master unreachable and the members' toolstacks up, does not call the dead master live, and follows a
// member promoted with pool.emergency_transition_to_master without a restart.
import t from 'tap';
import { memoryLogger } from '../../core/log.js';
import { startExporter } from '../../exporter/main.js';
import { healHost } from '../../simulator/faults/host.js';
import type { HostRuntime } from '../../simulator/pool.js';
import { lines, sample } from '../helpers/exposition.js';
import { startSim } from '../helpers/sim.js';
import { parseConfig } from '../../cli/config/bundle.js';

const sim = await startSim({ xapiFuseMs: 100, xapiStartMs: 150, remoteTimeoutMs: 300, hostDeadAfterMs: 60_000 });
// A long interval: the test runs every poll itself.
const yaml = `pools:
  - name: ${sim.pool.options.name}
    url: ${sim.url}
    username: root
    password: simulated
    timeouts: { login_seconds: 6, call_seconds: 3 }
exporter:
  listen: 127.0.0.1:0
  poll_interval_seconds: 600
  rrd: { timeout_seconds: 2, window_seconds: 30 }
`;
const logger = memoryLogger('info');
const ex = await startExporter(parseConfig(yaml, 'test.yml', {}), logger);
t.teardown(async () => {
  await ex.stop();
  await sim.stop();
});
const collector = ex.exporter.pools[0]!;
await collector.watcher.whenSynced(5000);
const [a, b, c] = sim.pool.hosts as [HostRuntime, HostRuntime, HostRuntime];
const name = (h: HostRuntime) => sim.pool.store.get('host', h.ref)!.name_label as string;
const scrape = async () => (await fetch(ex.url + '/metrics')).text();
const pollAndScrape = async () => {
  await ex.exporter.pollOnce();
  return scrape();
};
const host = (text: string, metric: string, h: HostRuntime) => sample(text, metric, { host_name: name(h) });
async function rpc<T>(h: HostRuntime, method: string, params: unknown[]): Promise<T> {
  const res = await fetch(`${sim.server.urlOf(h)}/jsonrpc`, {
    method: 'POST',
    body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
    signal: AbortSignal.timeout(5000),
  });
  const body = (await res.json()) as { result?: T; error?: unknown };
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result as T;
}
/** Poll until `check` holds on the scraped text; returns that text. */
async function pollUntil(what: string, check: (text: string) => boolean, ms = 40_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const text = await pollAndScrape();
    if (check(text)) return text;
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}; last scrape:\n${text
          .split('\n')
          .filter((l) => /master|toolstack|connected|rrd_up|host_live/.test(l))
          .join('\n')}`,
      );
  }
}

t.test('a healthy pool: the master reachable, every toolstack up, the master named', async (t) => {
  const text = await pollAndScrape();
  t.equal(sample(text, 'xcp_pool_master_reachable', {}), 1);
  for (const h of [a, b, c]) t.equal(host(text, 'xcp_host_toolstack_up', h), 1, `${name(h)} toolstack up`);
  t.equal(lines(text, 'xcp_host_info').filter((l) => l.includes('is_master="true"')).length, 1);
  t.ok(
    lines(text, 'xcp_host_info')
      .find((l) => l.includes('is_master="true"'))!
      .includes(`host_name="${name(a)}"`),
  );
});

t.test('a master slower than the RRD timeout but within call_seconds stays connected', async (t) => {
  a.slowMs = 2500; // rrd.timeout_seconds 2, timeouts.call_seconds 3
  t.teardown(() => (a.slowMs = 0));
  const text = await pollAndScrape();
  t.equal(sample(text, 'xcp_pool_connected', {}), 1, 'the master check uses call_seconds, not the RRD timeout');
  t.equal(sample(text, 'xcp_pool_master_reachable', {}), 1);
  t.equal(host(text, 'xcp_host_rrd_up', a), 0, 'its own RRD, bounded by the RRD timeout, is late');
});

t.test('the master hangs: members kept and probed, the master unreachable and not live, RRD state per host', async (t) => {
  sim.pool.failHost(a);
  await sim.server.sync();
  const started = Date.now();
  const text = await pollAndScrape();
  const took = Date.now() - started;
  t.equal(sample(text, 'xcp_pool_connected', {}), 0);
  t.equal(sample(text, 'xcp_pool_master_reachable', {}), 0);
  t.equal(host(text, 'xcp_host_toolstack_up', a), 0, 'the master answers nothing');
  t.equal(host(text, 'xcp_host_toolstack_up', b), 1, "a member's HOST_IS_SLAVE proves its toolstack answers");
  t.equal(host(text, 'xcp_host_toolstack_up', c), 1);
  t.equal(host(text, 'xcp_host_live', a), 0, 'the dead master is not live from stale data');
  t.equal(host(text, 'xcp_host_live', b), 1, 'members answering stay live');
  for (const h of [a, b, c]) t.not(host(text, 'xcp_host_rrd_up', h), undefined, `xcp_host_rrd_up of ${name(h)} still exported`);
  // Real members check sessions in the master's database (xapi_http.ml): without it their /rrd_updates stall.
  t.equal(host(text, 'xcp_host_rrd_up', b), 0);
  t.ok(
    lines(text, 'xcp_host_info').some((l) => l.includes(`host_name="${name(b)}"`)),
    'every member still listed',
  );
  t.ok(took < 3000 + 6000 + 2000 + 2000, `one poll bounded by the call, probe and RRD timeouts (${took} ms)`);
  const health = (await (await fetch(ex.url + '/health')).json()) as { pools: Record<string, { master: string; master_reachable: boolean }> };
  t.match(
    health.pools['sim-pool'],
    { master: sim.server.urlOf(a), master_reachable: false },
    '/health names the master it follows and says it does not answer',
  );
  // A second poll logs no new warning for the same outage.
  const before = logger.lines.filter((l) => l.level === 'warn').length;
  await ex.exporter.pollOnce();
  const after = logger.lines.filter((l) => l.level === 'warn').length;
  t.equal(after, before, 'the same outage: no new warning on the next poll');
  t.ok(
    logger.lines.some((l) => l.msg === 'pool master does not answer'),
    'the outage was logged once when it began',
  );
});

t.test('a member promoted through XAPI: the exporter follows it without a restart', async (t) => {
  const local = await rpc<string>(b, 'session.slave_local_login_with_password', ['root', 'simulated']);
  await rpc(b, 'pool.emergency_transition_to_master', [local]);
  const text = await pollUntil('the exporter to follow the new master', (x) => sample(x, 'xcp_pool_connected', {}) === 1);
  t.equal(collector.xapi.masterUrl, sim.server.urlOf(b), 'the client talks to the new master');
  t.equal(sample(text, 'xcp_pool_master_reachable', {}), 1);
  t.ok(
    lines(text, 'xcp_host_info')
      .find((l) => l.includes('is_master="true"'))!
      .includes(`host_name="${name(b)}"`),
    'the new master is named',
  );
  t.equal(host(text, 'xcp_host_toolstack_up', a), 0, 'the old master still answers nothing');
  t.equal(host(text, 'xcp_host_rrd_up', b), 1, "the new master's RRD");
  t.ok(logger.lines.some((l) => l.msg === 'XAPI following the new pool master'));

  // c still names the old master until recover_slaves points it at the new one.
  const session = await rpc<string>(b, 'session.login_with_password', ['root', 'simulated', '1.0', 'test']);
  t.same(await rpc<string[]>(b, 'pool.recover_slaves', [session]), [c.ref]);
  const after = await pollUntil("the recovered member's RRD", (x) => host(x, 'xcp_host_rrd_up', c) === 1);
  t.equal(host(after, 'xcp_host_toolstack_up', c), 1);
  t.ok(
    logger.lines.some((l) => l.msg === 'pool master answers again'),
    'the return is logged',
  );
});

t.test('the old master boots, finds the new master and follows it: its toolstack answers again', async (t) => {
  sim.pool.powerOn(a);
  await sim.server.sync();
  t.same(sim.pool.roles.masters(), [b]);
  const text = await pollUntil('the old master toolstack', (x) => host(x, 'xcp_host_toolstack_up', a) === 1);
  t.equal(sample(text, 'xcp_pool_connected', {}), 1);
  t.ok(
    lines(text, 'xcp_host_info')
      .find((l) => l.includes('is_master="true"'))!
      .includes(`host_name="${name(b)}"`),
  );
});

t.test('two masters: a new master promoted while the old one hung, which then resumes without a reboot', async (t) => {
  sim.pool.failHost(b);
  await sim.server.sync();
  const local = await rpc<string>(c, 'session.slave_local_login_with_password', ['root', 'simulated']);
  await rpc(c, 'pool.emergency_transition_to_master', [local]);
  await pollUntil(
    'the exporter to follow the newest master',
    (x) => sample(x, 'xcp_pool_connected', {}) === 1 && collector.xapi.masterUrl === sim.server.urlOf(c),
  );
  t.equal(sample(await pollAndScrape(), 'xcp_pool_masters', {}), 1, 'one master');
  healHost(sim.pool, b);
  await sim.server.sync();
  const text = await pollAndScrape();
  t.equal(sample(text, 'xcp_pool_masters', {}), 2, 'the resumed old master still accepts logins as master');
  t.equal(collector.xapi.masterUrl, sim.server.urlOf(c), 'the exporter stays with the master it follows');
});
