// Several receivers on one PostgreSQL database, each run as operators run it (`xcp-sentinel recovery-hook`, a child
// process) against the simulated pool, on a throwaway cluster of Debian's PostgreSQL:
//  - every Alertmanager posts each webhook to every receiver: one notification, one recovery, each VM started once;
//  - the receiver running a workflow is SIGKILLed while VMs start: the other takes it over when the lease expires and
//    finishes it from the unfinished task, nothing done twice;
//  - the database restarts during intake: webhooks get 5xx meanwhile (Alertmanager sends them again), and every
//    alert that was acknowledged is in the store afterwards.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import t from 'tap';
import { postgresSkip, startPostgres } from '../helpers/postgres.js';
import { type ChildReceiver, spawnReceiver } from './helpers/receiver-process.js';
import {
  type AlertSpec,
  type Receipt,
  TOKEN,
  countBy,
  hostDownAlert,
  instanceAlert,
  startRig,
  untilNotLive,
  waitUntil,
  webhookBody,
} from './helpers/sim-rig.js';

const LEASE_SECONDS = 2;

async function post(receiver: ChildReceiver, body: unknown): Promise<{ status: number; receipts: Receipt[] }> {
  const res = await fetch(`${receiver.url}/alertmanager`, {
    method: 'POST',
    headers: { 'X-Auth-Token': TOKEN, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const json = (await res.json()) as { receipts?: Receipt[] };
  return { status: res.status, receipts: json.receipts ?? [] };
}

async function notificationOf(receiver: ChildReceiver, uuid: string): Promise<any> {
  const res = await fetch(`${receiver.url}/v1/notifications/${uuid}`, { headers: { 'X-Auth-Token': TOKEN, 'OpenStack-API-Version': 'instance-ha 1.1' } });
  if (res.status !== 200) throw new Error(`GET notification ${uuid}: ${res.status}`);
  return ((await res.json()) as any).notification;
}

function settled(receiver: ChildReceiver, uuid: string, timeoutMs = 60_000): Promise<any> {
  return waitUntil(
    `notification ${uuid} to end`,
    async () => {
      const n = await notificationOf(receiver, uuid);
      return ['finished', 'ignored', 'failed'].includes(n.status) ? n : undefined;
    },
    timeoutMs,
    100,
  );
}

async function sql<T = any>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

const ranWorkflow = (r: ChildReceiver, uuid: string) => r.log.some((l) => l.notification === uuid && l.msg === 'notification finished');

t.test('every Alertmanager posts to every receiver: one notification, one recovery', { skip: postgresSkip }, async (t) => {
  const cluster = await startPostgres();
  t.teardown(() => cluster.stop());
  const url = await cluster.createDatabase();
  const rig = await startRig(t, { start: false, sim: { vmBootMs: 200 }, recoveryHook: { store: { postgres: { url } }, lease_seconds: LEASE_SECONDS } });
  const receivers = await Promise.all([spawnReceiver(t, rig.configFile), spawnReceiver(t, rig.configFile)]);
  const victim = rig.hosts.find((h) => !h.master && rig.residentVms(h).length >= 2)!;
  const vms = rig.residentVms(victim);

  await rig.control(`/sim/hosts/${victim.name}/fail`, {});
  await untilNotLive(rig, victim);
  const body = webhookBody([hostDownAlert(rig, victim)]);
  // Two Alertmanagers of a cluster, each posting the group to both receivers, at the same moment.
  const answers = await Promise.all([...receivers, ...receivers].map((r) => post(r, body)));
  t.same(
    answers.map((a) => a.status),
    [202, 202, 202, 202],
    'every delivery acknowledged',
  );
  const receipts = answers.flatMap((a) => a.receipts);
  const uuids = new Set(receipts.map((r) => r.notification_uuid));
  t.equal(uuids.size, 1, 'all four deliveries name the same notification');
  t.equal(receipts.filter((r) => r.outcome === 'created').length, 1, `created once; others: ${receipts.map((r) => r.outcome).join(', ')}`);
  const uuid = [...uuids][0]!;

  const n = await settled(receivers[0], uuid);
  t.equal(n.status, 'finished', n.message ?? 'finished');
  t.same(await notificationOf(receivers[1], uuid).then((x) => x.status), 'finished', 'the other receiver shows the same notification');
  t.equal(receivers.filter((r) => ranWorkflow(r, uuid)).length, 1, 'one receiver ran the workflow');
  t.same(rig.calls.powerOffs, [victim.name], 'fenced once');
  t.same(countBy(rig.calls.starts), Object.fromEntries(vms.map((v) => [v.uuid, 1])), 'each VM started exactly once');
  const rows = await sql(url, 'SELECT COUNT(*)::int AS n FROM notifications');
  t.equal(rows[0].n, 1, 'one row in the shared store');
});

t.test('the receiver running a workflow is SIGKILLed: the other finishes it after the lease, nothing done twice', { skip: postgresSkip }, async (t) => {
  const cluster = await startPostgres();
  t.teardown(() => cluster.stop());
  const url = await cluster.createDatabase();
  const rig = await startRig(t, {
    start: false,
    sim: { vmBootMs: 1500 },
    recoveryHook: { store: { postgres: { url } }, lease_seconds: LEASE_SECONDS, host_failure: { parallel_starts: 2 } },
  });
  const receivers = await Promise.all([spawnReceiver(t, rig.configFile), spawnReceiver(t, rig.configFile)]);
  const victim = rig.hosts.find((h) => !h.master && rig.residentVms(h).length >= 3)!;
  const vms = rig.residentVms(victim);

  await rig.control(`/sim/hosts/${victim.name}/fail`, {});
  await untilNotLive(rig, victim);
  const body = webhookBody([hostDownAlert(rig, victim)]);
  const answers = await Promise.all(receivers.map((r) => post(r, body)));
  const uuid = answers[0]!.receipts[0]!.notification_uuid!;

  await waitUntil('the first VM start', () => rig.calls.starts.length > 0, 30_000, 5);
  const [lease] = await sql<{ owner: string }>(url, 'SELECT owner FROM leases WHERE name = $1', [`host:${victim.uuid}`]);
  const runner = receivers.find((r) => lease && lease.owner.split('/')[1] === String(r.pid));
  if (!runner) throw new Error(`no receiver holds the host's lease: ${JSON.stringify(lease)}`);
  const survivor = receivers.find((r) => r !== runner)!;
  runner.process.kill('SIGKILL');
  t.equal(await runner.exited, 'SIGKILL');
  const startedBeforeKill = rig.calls.starts.length;
  t.ok(startedBeforeKill < vms.length, `killed with ${vms.length - startedBeforeKill} VM(s) not yet started`);
  const killedAt = Date.now();

  const n = await settled(survivor, uuid);
  t.equal(n.status, 'finished', n.message ?? 'finished');
  t.ok(Date.now() - killedAt >= LEASE_SECONDS * 1000 * 0.9, 'taken over only once the lease expired');
  t.ok(
    survivor.log.some((l) => l.notification === uuid && l.msg === 'resuming an interrupted workflow'),
    'the survivor resumed it, not started over',
  );
  t.equal(n.recovery_workflow_details.filter((d: any) => d.state === 'SUCCESS').length, n.recovery_workflow_details.length, 'every task succeeded');
  t.same(rig.calls.powerOffs, [victim.name], 'fenced once');
  t.same(countBy(rig.calls.resets), Object.fromEntries(vms.map((v) => [v.uuid, 1])), 'each power state reset once');
  t.same(countBy(rig.calls.starts), Object.fromEntries(vms.map((v) => [v.uuid, 1])), 'each VM started exactly once');
  for (const vm of vms) t.equal((await rig.vmStatus(vm.uuid)).power_state, 'Running', `${vm.name} runs`);
  const [{ attempts }] = await sql(url, 'SELECT attempts FROM notifications WHERE uuid = $1', [uuid]);
  t.equal(Number(attempts), 1, 'the same run, continued');
});

t.test('the database restarts during intake: 5xx meanwhile, nothing acknowledged is lost', { skip: postgresSkip }, async (t) => {
  const cluster = await startPostgres();
  t.teardown(() => cluster.stop());
  const url = await cluster.createDatabase();
  // notify-only: notifications are recorded (and ignored at once), no recovery runs.
  const rig = await startRig(t, {
    start: false,
    pool: { mode: 'notify-only' },
    recoveryHook: { store: { postgres: { url, connect_timeout_seconds: 1, statement_timeout_seconds: 2 } } },
  });
  const receiver = await spawnReceiver(t, rig.configFile);
  const host = rig.hosts[0]!;

  const webhook = (): AlertSpec[] => Array.from({ length: 10 }, () => instanceAlert(rig, { uuid: randomUUID(), name: 'vm' }, host, 'crashed'));
  const acknowledged = new Set<string>();
  const statuses: number[] = [];
  const failed: AlertSpec[][] = [];
  let sending = true;
  const sender = async () => {
    while (sending) {
      const alerts = webhook();
      try {
        const { status, receipts } = await post(receiver, webhookBody(alerts));
        statuses.push(status);
        if (status === 202) for (const r of receipts) acknowledged.add(r.notification_uuid!);
        else failed.push(alerts);
      } catch {
        statuses.push(0);
        failed.push(alerts);
      }
    }
  };
  const senders = Array.from({ length: 4 }, sender);
  await waitUntil('webhooks acknowledged before the restart', () => acknowledged.size >= 100, 30_000);
  await cluster.stopServer('fast');
  await waitUntil('webhooks refused while the database is down', () => statuses.filter((s) => s >= 500).length >= 5, 30_000);
  await cluster.startServer();
  const before = acknowledged.size;
  await waitUntil('webhooks acknowledged again after the restart', () => acknowledged.size >= before + 100, 60_000);
  sending = false;
  await Promise.all(senders);

  const refused = statuses.filter((s) => s !== 202);
  t.ok(refused.length >= 5, `${refused.length} deliveries refused while the database was down`);
  t.same(
    [...new Set(refused)].filter((s) => s < 500),
    [],
    'refusals are 5xx (Alertmanager retries those), never 4xx',
  );
  const stored = await sql<{ uuid: string }>(url, 'SELECT uuid FROM notifications');
  const inStore = new Set(stored.map((r) => r.uuid));
  t.equal([...acknowledged].filter((u) => !inStore.has(u)).length, 0, `all ${acknowledged.size} acknowledged notifications are in the store`);

  // Alertmanager sends the refused groups again: afterwards the store holds every alert once.
  for (const alerts of failed) t.equal((await post(receiver, webhookBody(alerts))).status, 202);
  const total = statuses.length * 10;
  const [{ n }] = await sql(url, 'SELECT COUNT(*)::int AS n FROM notifications');
  t.equal(n, total, `${total} alerts sent, each stored once`);
});
