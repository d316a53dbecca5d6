// Safety matrix: two receivers on one PostgreSQL store, both sent every alert. One recovery runs; when the receiver
// holding the host's lease is SIGKILLed right after the fence landed, the other takes over after the lease — one
// fence, one start per VM, nothing twice, nothing left down.
import t from 'tap';
import { postgresSkip, startPostgres } from '../helpers/postgres.js';
import { spawnReceiver } from '../recovery-hooks/helpers/receiver-process.js';
import { countBy, hostDownAlert, postWebhook, waitUntil, webhookBody } from '../recovery-hooks/helpers/sim-rig.js';
import { describe, failHost, memberWithVms, remoteHook, runElsewhere, scenario, untilSettledOrWaiting } from './helpers/scenario.js';

const url = postgresSkip
  ? undefined
  : await (async () => {
      const cluster = await startPostgres();
      t.teardown(() => cluster.stop());
      return cluster.createDatabase();
    })();

scenario({
  name: 'two receivers on one PostgreSQL store',
  expected: 'one recovery; the receiver killed after the fence, the other finishes it: one fence, one start per VM',
  skip: postgresSkip,
  rig: { start: false, recoveryHook: { store: { postgres: { url } }, lease_seconds: 2 } },
  async run(ctx) {
    const { t, rig } = ctx;
    const victim = memberWithVms(rig);
    const vms = rig.residentVms(victim);
    const receivers = await Promise.all([spawnReceiver(t, rig.configFile), spawnReceiver(t, rig.configFile)]);
    await failHost(ctx, victim);
    const body = webhookBody([hostDownAlert(rig, victim)]);
    const receipts = await Promise.all(receivers.map(async (r) => (await postWebhook(remoteHook(r.url), body))[0]!));
    const uuid = receipts[0]!.notification_uuid!;
    t.ok(
      receipts.every((r) => r.notification_uuid === uuid),
      'both receivers name the same notification',
    );
    await waitUntil('the power-off to land', () => rig.sim.pool.truth.powerOffs.some((p) => p.host === victim.ref), 60_000, 5);
    const runner = receivers.find((r) => r.log.some((l) => l.notification === uuid && /fence|workflow|task/i.test(String(l.msg)))) ?? receivers[0]!;
    runner.process.kill('SIGKILL');
    await runner.exited;
    const survivor = receivers.find((r) => r !== runner)!;
    const n = await untilSettledOrWaiting(remoteHook(survivor.url), uuid, 60_000);
    t.equal(n.status, 'finished', describe(n));
    t.same(rig.calls.powerOffs, [victim.name], 'fenced once');
    t.same(countBy(rig.calls.starts), Object.fromEntries(vms.map((v) => [v.uuid, 1])), 'each VM started exactly once');
    const moved = runElsewhere(ctx, vms, victim);
    t.equal(moved, vms.length, 'every VM runs elsewhere');
    return `${describe(n)} by the survivor; ${moved}/${vms.length} VMs elsewhere`;
  },
});
