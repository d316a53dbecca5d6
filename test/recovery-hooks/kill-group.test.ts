// SIGKILL during a stream of group commits: 16 senders post webhooks to a receiver in a child process, which is
// killed in the middle. Every alert the receiver acknowledged (202, with a notification uuid in its receipt) is in
// the store file afterwards: nothing is answered before its group's commit is on disk.
import { join } from 'node:path';
import t from 'tap';
import { missingIn, postAlerts, sendUntilGone, spawnChildReceiver } from './helpers/child.js';
import { HOST_1, HOST_2, tempDir } from './helpers/harness.js';

t.test('SIGKILL while groups commit: every acknowledged alert is stored', async (t) => {
  const dir = tempDir();
  const { child, url } = await spawnChildReceiver(dir);
  t.teardown(() => child.kill('SIGKILL'));
  const exited = new Promise((r) => child.once('exit', r));
  const acknowledged: string[] = [];
  let answered = 0;
  const startsAt = new Date(Date.now() - 1000).toISOString();
  const send = async (n: number) => {
    const alerts = [0, 1, 2, 3].map((i) => {
      const host = i % 2 ? HOST_2 : HOST_1;
      return {
        status: 'firing',
        startsAt,
        fingerprint: `kill-${n}-${i}`,
        labels: {
          xcp_notification_type: 'COMPUTE_INSTANCE',
          pool_name: 'pool-a',
          host_name: host.name,
          host_uuid: host.uuid,
          vm_uuid: `00000000-0000-4000-9000-${String(n * 4 + i).padStart(12, '0')}`,
          vm_name: `vm-${n}-${i}`,
        },
      };
    });
    acknowledged.push(...(await postAlerts(url, alerts)));
  };
  // 16 senders until the receiver is gone; it is killed once 40 deliveries were answered.
  const failed = await sendUntilGone(16, send, () => {
    if (++answered === 40) child.kill('SIGKILL');
  });
  await exited;
  t.ok(answered >= 40, `${answered} deliveries acknowledged before the kill`);
  t.ok(failed > 0, 'the deliveries in flight at the kill failed (not acknowledged)');
  t.ok(acknowledged.length >= 160, `${acknowledged.length} notifications acknowledged`);
  t.same(await missingIn(join(dir, 'recovery.sqlite'), acknowledged), [], 'every acknowledged notification is in the store file');
});
