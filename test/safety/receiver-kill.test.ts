// Safety matrix: the receiver (a child process, as operators run it) is SIGKILLed at every task boundary of a host
// recovery — each time a task has just succeeded, the process is killed and a new one started on the same SQLite
// store resumes the workflow. Nothing may be done twice (one fence, one start per VM), nothing left down.
import { SqliteNotificationStore } from '../../recovery-hooks/store/sqlite.js';
import { spawnReceiver } from '../recovery-hooks/helpers/receiver-process.js';
import { TERMINAL, countBy, fire, hostDownAlert, waitUntil } from '../recovery-hooks/helpers/sim-rig.js';
import { describe, failHost, memberWithVms, remoteHook, runElsewhere, scenario, untilSettledOrWaiting } from './helpers/scenario.js';

scenario({
  name: 'receiver SIGKILLed at every task boundary',
  expected: 'each new receiver resumes; finished with one fence and one start per VM, every VM elsewhere',
  rig: { start: false, recoveryHook: { lease_seconds: 2 } },
  async run(ctx) {
    const { t, rig } = ctx;
    const victim = memberWithVms(rig);
    const vms = rig.residentVms(victim);
    await failHost(ctx, victim);
    const store = new SqliteNotificationStore(rig.config.recovery_hook.storePath);
    t.teardown(() => store.close());
    let receiver = await spawnReceiver(t, rig.configFile);
    const uuid = await fire(remoteHook(receiver.url), hostDownAlert(rig, victim));
    const killedAfter: string[] = [];
    let succeeded: string[] = [];
    for (;;) {
      const state = await waitUntil(
        'a task to succeed or the notification to end',
        async () => {
          const n = (await store.get(uuid))!;
          const done = (await store.tasks(uuid)).filter((x) => x.state === 'SUCCESS').map((x) => x.name);
          return done.length > succeeded.length || TERMINAL.includes(n.status) ? { status: n.status, done } : undefined;
        },
        60_000,
        5,
      );
      if (TERMINAL.includes(state.status)) break;
      receiver.process.kill('SIGKILL');
      await receiver.exited;
      killedAfter.push(state.done.filter((x) => !succeeded.includes(x)).join('+'));
      succeeded = state.done;
      receiver = await spawnReceiver(t, rig.configFile);
    }
    const n = await untilSettledOrWaiting(remoteHook(receiver.url), uuid);
    t.equal(n.status, 'finished', describe(n));
    if (n.status !== 'finished') t.comment(JSON.stringify(receiver.log.filter((l) => l.level !== 'debug').slice(-25), null, 1));
    t.ok(killedAfter.length >= 3, `killed after: ${killedAfter.join(', ')}`);
    t.same(rig.calls.powerOffs, [victim.name], 'fenced once');
    t.same(countBy(rig.calls.starts), Object.fromEntries(vms.map((v) => [v.uuid, 1])), 'each VM started exactly once');
    const moved = runElsewhere(ctx, vms, victim);
    t.equal(moved, vms.length, 'every VM runs elsewhere');
    return `${describe(n)} after ${killedAfter.length} kills (after ${killedAfter.join(', ')}); ${moved}/${vms.length} VMs elsewhere`;
  },
});
