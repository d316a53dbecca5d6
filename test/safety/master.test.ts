// Safety matrix: the pool master is lost (recovery-hooks/workflows/master.ts). Besides the monitor's three counts,
// each scenario samples how many hosts act as master (answering, running as master) every 20 ms: never more than one.
import pg from 'pg';
import t from 'tap';
import { postgresSkip, startPostgres } from '../helpers/postgres.js';
import { spawnReceiver } from '../recovery-hooks/helpers/receiver-process.js';
import { countBy, fire, masterLostAlert, postWebhook, waitUntil, webhookBody } from '../recovery-hooks/helpers/sim-rig.js';
import { confirmFenced, describe, pullPlug, remoteHook, runElsewhere, scenario, untilSettled, untilSettledOrWaiting } from './helpers/scenario.js';
import { MASTER_RIG, loseMaster, observe } from './helpers/master.js';

async function leaseOwner(url: string, name: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query('SELECT owner FROM leases WHERE name = $1', [name])).rows[0]?.owner;
  } finally {
    await client.end();
  }
}

scenario({
  name: 'pool master hang, then powered on again',
  expected: 'old master fenced, one member promoted, every VM of the old master restarted elsewhere once; back on, it becomes a member: never two masters',
  rig: MASTER_RIG,
  async run(ctx) {
    const { t, rig } = ctx;
    const { watch, promotions } = observe(ctx);
    const { master, vms } = await loseMaster(ctx);
    const n = await untilSettledOrWaiting(rig.hook!, await fire(rig.hook!, masterLostAlert(rig, master)), 120_000);
    t.equal(n.status, 'finished', describe(n));
    t.same(rig.calls.powerOffs, [master.name], 'the old master fenced once');
    t.equal(promotions.length, 1, `one promotion (${promotions.join(', ')})`);
    const moved = runElsewhere(ctx, vms, master);
    t.equal(moved, vms.length, 'every VM of the old master runs on another host');
    await rig.control(`/sim/hosts/${master.name}/power-on`, {});
    const old = rig.sim.pool.findHost(master.name)!;
    await waitUntil('the old master to answer as a member', () => rig.sim.pool.answers(old) && rig.sim.pool.roles.roleOf(old).kind === 'slave', 20_000, 20);
    t.equal(watch.most(), 1, 'never two masters (sampled every 20 ms)');
    return `${describe(n)}; 1 promotion (${promotions[0]}); ${moved}/${vms.length} VMs elsewhere; old master back as a member; at most ${watch.most()} master`;
  },
});

scenario({
  name: 'pool master hang with its BMC unreachable',
  expected:
    'nothing promoted, waits for an operator (fence_confirmation); after the plug is pulled and confirm-fenced: one member promoted, VMs elsewhere once',
  rig: { ...MASTER_RIG, fencing: { bmc: { 'xcp-host-01': '192.0.2.1', 'xcp-host-02': '192.0.2.2', 'xcp-host-03': '192.0.2.3' } } },
  async run(ctx) {
    const { t, rig } = ctx;
    const { watch, promotions } = observe(ctx);
    const { master, vms } = await loseMaster(ctx);
    const uuid = await fire(rig.hook!, masterLostAlert(rig, master));
    const waiting = await untilSettledOrWaiting(rig.hook!, uuid, 60_000);
    t.equal(waiting.operator_wait?.kind, 'fence_confirmation', describe(waiting));
    t.same(promotions, [], 'nothing promoted while the old master is not proven off');
    await pullPlug(ctx, master);
    t.equal((await confirmFenced(rig.hook!, uuid, master.uuid)).status, 202);
    const n = await untilSettled(rig.hook!, uuid, 120_000);
    t.equal(n.status, 'finished', describe(n));
    t.equal(promotions.length, 1, 'one promotion');
    const moved = runElsewhere(ctx, vms, master);
    t.equal(moved, vms.length);
    t.equal(watch.most(), 1, 'never two masters');
    return `waited (fence_confirmation), nothing promoted; after confirm: ${describe(n)}; ${moved}/${vms.length} VMs elsewhere`;
  },
});

const url = postgresSkip
  ? undefined
  : await (async () => {
      const cluster = await startPostgres();
      t.teardown(() => cluster.stop());
      return cluster.createDatabase();
    })();

scenario({
  name: 'two receivers on one PostgreSQL store: pool master lost',
  expected: 'one promotion: the receiver running the failover is killed right after it promoted, the other finishes it without promoting another',
  skip: postgresSkip,
  rig: { ...MASTER_RIG, start: false, recoveryHook: { store: { postgres: { url } }, lease_seconds: 2 } },
  async run(ctx) {
    const { t, rig } = ctx;
    const { watch, promotions } = observe(ctx);
    const receivers = await Promise.all([spawnReceiver(t, rig.configFile), spawnReceiver(t, rig.configFile)]);
    const { master, vms } = await loseMaster(ctx);
    const body = webhookBody([masterLostAlert(rig, master)]);
    const receipts = await Promise.all(receivers.map(async (r) => (await postWebhook(remoteHook(r.url), body))[0]!));
    const uuid = receipts[0]!.notification_uuid!;
    t.ok(
      receipts.every((r) => r.notification_uuid === uuid),
      'both receivers name the same notification',
    );
    await waitUntil('the promotion', () => promotions.length > 0, 120_000, 5);
    // The runner holds the lease of the old master's host (owner "<receiver id>/<pid>/…").
    const owner = await leaseOwner(url!, `host:${master.uuid}`);
    const runner = receivers.find((r) => owner?.includes(`/${r.pid}/`));
    if (!runner) throw new Error(`no receiver holds host:${master.uuid} (owner ${owner})`);
    runner.process.kill('SIGKILL');
    await runner.exited;
    const survivor = receivers.find((r) => r !== runner)!;
    const n = await untilSettledOrWaiting(remoteHook(survivor.url), uuid, 150_000);
    t.equal(n.status, 'finished', describe(n));
    t.equal(promotions.length, 1, `exactly one promotion (${promotions.join(', ')})`);
    t.same(rig.calls.powerOffs, [master.name], 'fenced once');
    t.same(countBy(rig.calls.starts), Object.fromEntries(vms.map((v) => [v.uuid, 1])), 'each VM started exactly once');
    t.equal(watch.most(), 1, 'never two masters');
    return `${describe(n)}; ${promotions.length} promotion; runner killed after it, the other finished`;
  },
});
