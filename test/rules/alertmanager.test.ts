// The example Alertmanager config: amtool accepts it and routes as documented; and inhibition, for real: the
// Debian `prometheus-alertmanager` binary runs on a loopback port with a config derived from the example (both
// receivers pointed at a webhook server in this test, short group timers), alerts are posted to its API, and we
// check which reach which receiver and which are inhibited.
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { parse, stringify } from 'yaml';
import { RULES_DIR, alertmanager, amtool, run } from './helpers/tools.js';
import { waitFor } from '../../core/concurrency.js';
import { startAlertmanagerPeer } from '../../core/peer.js';

const EXAMPLE = join(RULES_DIR, 'alertmanager.example.yml');

t.test(
  'amtool check-config rules/alertmanager.example.yml',
  { skip: amtool ? false : 'amtool not found (Debian package prometheus-alertmanager)' },
  async (t) => {
    const r = run(amtool!, ['check-config', EXAMPLE]);
    t.equal(r.status, 0, r.out);
    t.match(r.out, /SUCCESS/);

    const routes = (receiver: string, ...labels: string[]) =>
      run(amtool!, ['config', 'routes', 'test', `--config.file=${EXAMPLE}`, `--verify.receivers=${receiver}`, ...labels]);
    for (const alertname of ['XcpHostDown', 'XcpVmHaltedUnexpectedly', 'XcpVmGuestHeartbeatLost', 'XcpToolstackDown']) {
      const r = routes('recovery-hook', `alertname=${alertname}`, 'recovery=true', 'pool_name=prod', 'host_name=xcp1');
      t.equal(r.status, 0, `${alertname} → recovery-hook: ${r.out}`);
    }
    const power = routes('recovery-hook', 'alertname=XcpUpsRuntimeLow', 'recovery=true', 'xcp_notification_type=XCP_EMERGENCY_SHUTDOWN', 'pool_name=prod');
    t.equal(power.status, 0, `XcpUpsRuntimeLow → recovery-hook: ${power.out}`);
    t.equal(
      routes('email', 'alertname=XcpPoolPowerInputLost', 'xcp_notification_type=XCP_EMERGENCY_SHUTDOWN', 'pool_name=prod').status,
      0,
      'power input lost (recovery: false) → email',
    );
    t.equal(routes('email', 'alertname=HighHostCPU', 'pool_name=prod').status, 0, 'others → email');
    // Xen Orchestra's performance alerts are notify-only: no recovery label, so humans only.
    for (const alertname of ['XcpVmHighMemory', 'XcpHostHighNetwork', 'XcpVmHighNetwork', 'XcpVmHighDiskIo', 'XcpSrHighIo'])
      t.equal(routes('email', `alertname=${alertname}`, 'pool_name=prod', 'host_name=xcp1').status, 0, `${alertname} → email`);
    t.equal(routes('email', 'alertname=XcpHostDown', 'xcp_notification_type=COMPUTE_HOST').status, 0, 'recovery: false → email');
    t.not(routes('email', 'alertname=XcpHostDown', 'recovery=true').status, 0, '--verify.receivers does fail on a mismatch');
  },
);

// ---- the real Alertmanager ----------------------------------------------------------------------------------

interface Delivery {
  path: string;
  authorization: string | undefined;
  body: { version: string; receiver: string; status: string; groupLabels: Record<string, string>; alerts: { labels: Record<string, string> }[] };
}

async function readBody(req: IncomingMessage): Promise<string> {
  let s = '';
  for await (const chunk of req) s += chunk;
  return s;
}

/** The example config with both receivers pointed at our webhook server and timers short enough for a test. */
function testConfig(hookBase: string, tokenFile: string): string {
  const cfg = parse(readFileSync(EXAMPLE, 'utf8'));
  for (const r of [cfg.route, ...cfg.route.routes]) Object.assign(r, { group_wait: '1s', group_interval: '1s', repeat_interval: '1h' });
  const hook = cfg.receivers.find((r: { name: string }) => r.name === 'recovery-hook').webhook_configs[0];
  hook.url = `${hookBase}/alertmanager`;
  hook.http_config.authorization.credentials_file = tokenFile;
  const email = cfg.receivers.find((r: { name: string }) => r.name === 'email');
  delete email.email_configs;
  email.webhook_configs = [{ url: `${hookBase}/email`, send_resolved: false }];
  return stringify(cfg);
}

const prod = { pool_name: 'prod', pool_id: 'p1' };
const lab = { pool_name: 'lab', pool_id: 'p2' };
const onH1 = { ...prod, host_uuid: 'h1', host_name: 'xcp1' };
const onH2 = { ...prod, host_uuid: 'h2', host_name: 'xcp2' };
const recovery = (type: string) => ({ xcp_notification_type: type, recovery: 'true', severity: 'critical' });
type Labels = Record<string, string>;
const A = (alertname: string, component: string, ...parts: Labels[]): Labels => Object.assign({ alertname, component, severity: 'warning' }, ...parts);

// Posted first, so that they are known when the targets' groups flush.
const SOURCES = {
  hostDown: A('XcpHostDown', 'host', onH1, recovery('COMPUTE_HOST')),
  poolDisconnected: A('PoolDisconnected', 'pool', lab, { severity: 'critical' }),
  srAlmostFull: A('XcpSrAlmostFull', 'storage', prod, { sr_uuid: 's1', severity: 'critical' }),
};
const INHIBITED = {
  vmHaltedOnH1: A('XcpVmHaltedUnexpectedly', 'vm', onH1, { vm_uuid: 'v1', vm_name: 'web1' }, recovery('COMPUTE_INSTANCE')),
  toolstackOnH1: A('XcpToolstackDown', 'toolstack', onH1, { process_name: 'xapi' }, recovery('COMPUTE_PROCESS')),
  sensorOnH1: A('XcpIpmiSensorCritical', 'hardware', onH1, { sensor: 'CPU1 Temp' }),
  pbdOnH1: A('XcpPbdUnplugged', 'storage', onH1, { sr_uuid: 's2' }),
  cpuOnH1: A('HighHostCPU', 'host', onH1),
  vmDiskIoOnH1: A('XcpVmHighDiskIo', 'vm', onH1, { vm_uuid: 'v4', vm_name: 'backup4', severity: 'info' }),
  srFillingS1: A('XcpSrFillingUp', 'storage', prod, { sr_uuid: 's1' }),
  hostDownInLab: A('XcpHostDown', 'host', lab, { host_uuid: 'h9', host_name: 'lab1' }, recovery('COMPUTE_HOST')),
  collectorInLab: A('XcpExporterCollectorFailing', 'exporter', { pool_name: 'lab', collector: 'ipmi' }),
};
const DELIVERED = {
  heartbeatOnH2: A('XcpVmGuestHeartbeatLost', 'vm', onH2, { vm_uuid: 'v2', vm_name: 'db2' }, recovery('COMPUTE_INSTANCE')),
  vmOnDeadH1: A('XcpVmOnDeadHost', 'vm', onH1, { vm_uuid: 'v3', vm_name: 'app3', severity: 'critical' }),
  cpuOnH2: A('HighHostCPU', 'host', onH2),
  vmMemoryOnH2: A('XcpVmHighMemory', 'vm', onH2, { vm_uuid: 'v5', vm_name: 'app5' }),
  srFillingS2: A('XcpSrFillingUp', 'storage', prod, { sr_uuid: 's2' }),
  // shared SR: no host_uuid, so the host-down rule (equal: pool_name, host_uuid) must not touch it
  sharedSrFull: A('XcpSrAlmostFull', 'storage', prod, { sr_uuid: 's3', severity: 'critical' }),
  // no pool_name: the pool-disconnected rule must not touch it
  exporterDown: A('XcpExporterDown', 'exporter', { job: 'xcp-sentinel', instance: 'a:9100', severity: 'critical' }),
};

const key = (l: Labels) => JSON.stringify(Object.entries(l).sort());

t.test(
  'inhibition in a real Alertmanager',
  { skip: alertmanager ? false : 'prometheus-alertmanager not found (Debian package prometheus-alertmanager)', timeout: 60_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'xcp-am-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const token = 'test-token-' + Math.random().toString(36).slice(2);
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, token + '\n');

    const deliveries: Delivery[] = [];
    const hook = createServer(async (req, res) => {
      deliveries.push({ path: req.url ?? '', authorization: req.headers.authorization, body: JSON.parse(await readBody(req)) });
      res.writeHead(200).end('{}');
    });
    hook.listen(0, '127.0.0.1');
    await once(hook, 'listening');
    t.teardown(() => hook.close());
    const hookBase = `http://127.0.0.1:${(hook.address() as AddressInfo).port}`;

    writeFileSync(join(dir, 'alertmanager.yml'), testConfig(hookBase, tokenFile));
    const am = await startAlertmanagerPeer({ dir, bin: alertmanager! });
    t.teardown(() => am.stop());
    const api = `${am.url}/api/v2`;

    const post = async (alerts: Labels[]) => {
      const endsAt = new Date(Date.now() + 3600_000).toISOString();
      const r = await fetch(`${api}/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts.map((labels) => ({ labels, annotations: { summary: labels.alertname + '.' }, endsAt }))),
      });
      t.equal(r.status, 200, `POST /api/v2/alerts: ${await r.text()}`);
    };
    interface ApiAlert {
      labels: Labels;
      status: { state: string; inhibitedBy: string[] };
    }
    const list = async (): Promise<ApiAlert[]> => (await fetch(`${api}/alerts`)).json() as Promise<ApiAlert[]>;

    await post(Object.values(SOURCES));
    await waitFor('the source alerts listed', async () => (await list()).length >= Object.keys(SOURCES).length, { timeoutMs: 15_000, everyMs: 50 });
    await post([...Object.values(INHIBITED), ...Object.values(DELIVERED)]);

    const delivered = () => new Set(deliveries.flatMap((d) => d.body.alerts.map((a) => key(a.labels))));
    const expected = [...Object.values(SOURCES), ...Object.values(DELIVERED)];
    // Whatever has not arrived by then is named by the assertions below.
    await waitFor('every uninhibited alert delivered', () => expected.every((l) => delivered().has(key(l))), { timeoutMs: 30_000 }).catch(() => undefined);
    await sleep(3000); // a few more group intervals: anything inhibited would have arrived by now

    const byPath = (path: string) => new Set(deliveries.filter((d) => d.path === path).flatMap((d) => d.body.alerts.map((a) => key(a.labels))));
    const recoveryExpected = expected.filter((l) => l.recovery === 'true');
    const emailExpected = expected.filter((l) => l.recovery !== 'true');
    t.same([...byPath('/alertmanager')].sort(), recoveryExpected.map(key).sort(), 'the recovery hook got exactly the uninhibited recovery alerts');
    t.same([...byPath('/email')].sort(), emailExpected.map(key).sort(), 'email got exactly the other uninhibited alerts');
    for (const [name, labels] of Object.entries(INHIBITED)) t.notOk(delivered().has(key(labels)), `${name} was not delivered`);

    for (const d of deliveries) {
      t.equal(d.body.version, '4');
      if (d.path === '/alertmanager') {
        t.equal(d.authorization, `Bearer ${token}`, 'bearer token from credentials_file');
        t.equal(d.body.receiver, 'recovery-hook');
      } else t.equal(d.authorization, undefined, 'no token to the email side');
      t.ok(
        Object.keys(d.body.groupLabels).every((k) => ['pool_name', 'host_name', 'alertname'].includes(k)),
        'grouped by pool_name, host_name, alertname',
      );
    }
    const hostGroup = deliveries.find((d) => d.body.alerts.some((a) => a.labels.alertname === 'XcpHostDown'))!;
    t.same(hostGroup.body.groupLabels, { pool_name: 'prod', host_name: 'xcp1', alertname: 'XcpHostDown' }, 'grouped by pool, host and alert name');

    const state = new Map((await list()).map((a) => [key(a.labels), a.status]));
    for (const [name, labels] of Object.entries(INHIBITED)) {
      const s = state.get(key(labels));
      t.equal(s?.state, 'suppressed', `${name} is suppressed`);
      t.equal(s?.inhibitedBy.length, 1, `${name} is inhibited by one source`);
    }
    for (const [name, labels] of Object.entries({ ...SOURCES, ...DELIVERED })) t.equal(state.get(key(labels))?.state, 'active', `${name} is active`);

    // Inhibition lasts only while the source fires: once the host is back, its VM alert goes to the recovery hook.
    const before = deliveries.length;
    const r = await fetch(`${api}/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ labels: SOURCES.hostDown, endsAt: new Date().toISOString() }]),
    });
    t.equal(r.status, 200);
    const released = key(INHIBITED.vmHaltedOnH1);
    await waitFor(
      'the released VM alert',
      () => deliveries.slice(before).some((d) => d.path === '/alertmanager' && d.body.alerts.some((a) => key(a.labels) === released)),
      { timeoutMs: 10_000 },
    ).catch(() => undefined);
    t.ok(
      deliveries.slice(before).some((d) => d.path === '/alertmanager' && d.body.alerts.some((a) => key(a.labels) === released && a.labels.recovery === 'true')),
      'the VM alert is delivered once XcpHostDown resolves',
    );
  },
);
