// Forwarding to the real Masakari API (Debian's masakari-api; see helpers/forward-masakari.ts for how it runs here):
// it takes our request (202), and its own 400 and 409 answers end ours as they should.
import t from 'tap';
import { masakariMissing, startMasakari } from './helpers/forward-masakari.js';
import { notification, progressLines, settled, waitUntil } from './helpers/sim-rig.js';
import { HOST_1, HOST_9, atTime, startForwarder, uniqueTime } from './helpers/forward-rig.js';

t.test('forwarding to the real Masakari API', { skip: masakariMissing() ?? false }, async (t) => {
  const masakari = await startMasakari(t);
  const fwd = await startForwarder(t, masakari.url, { auth: 'x-auth-token' }, 'admin:admin');

  t.test('Masakari accepts the forwarded notification; its status is mirrored as its engine moves it', async (t) => {
    const sent = {
      type: 'COMPUTE_HOST',
      hostname: HOST_1.name,
      generated_time: uniqueTime(),
      payload: { event: 'STOPPED', host_status: 'NORMAL', cluster_status: 'OFFLINE' },
    };
    const uuid = await fwd.notify(sent);
    const accepted = await waitUntil('Masakari to accept it', async () => {
      const n = await notification(fwd.hook, uuid);
      return n.forward?.outcome === 'accepted' ? n : undefined;
    });
    const copies = atTime(await masakari.list(), sent.generated_time);
    t.equal(copies.length, 1, 'exactly once in Masakari');
    t.match(copies[0], { type: 'COMPUTE_HOST', status: 'new', source_host_uuid: HOST_1.uuid, payload: sent.payload });
    t.match(accepted.forward, { endpoint: `${masakari.url}/v1/notifications`, remote_uuid: copies[0].notification_uuid, remote_status: 'new' });
    t.equal(accepted.status, 'running', 'ours follows the remote notification');

    masakari.setStatus(copies[0].notification_uuid, 'running');
    await waitUntil('the running status mirrored', async () => (await notification(fwd.hook, uuid)).forward.remote_status === 'running');
    masakari.setStatus(copies[0].notification_uuid, 'finished');
    const n = await settled(fwd.hook, uuid);
    t.equal(n.status, 'finished');
    t.match(n.forward, { remote_status: 'finished' });
    t.ok(progressLines(n).includes(`await_remote_recovery: remote notification ${copies[0].notification_uuid} is running`));
  });

  t.test("Masakari's 400 (unknown host) and 409 (duplicate) end ours without a retry", async (t) => {
    const vm = { instance_uuid: '6f3c1f0e-0000-4000-8000-0000000000bb', vir_domain_event: 'STOPPED_FAILED', event: 'LIFECYCLE' };
    const unknown = await fwd.notify({ type: 'VM', hostname: HOST_9.name, generated_time: uniqueTime(), payload: vm });
    const rejected = await settled(fwd.hook, unknown);
    t.equal(rejected.status, 'failed');
    t.match(rejected.forward, { outcome: 'rejected', reason: 'remote answered 400: Host with name host-9 could not be found.' });

    const report = { type: 'VM', hostname: HOST_1.name, generated_time: uniqueTime(), payload: vm };
    t.equal((await masakari.post(report)).status, 202, 'the monitor reported it to Masakari directly');
    const dup = await fwd.notify(report);
    const conflict = await settled(fwd.hook, dup);
    t.equal(conflict.status, 'ignored');
    t.equal(conflict.message, 'remote answered 409: Notification received from host host-1 of type VM is duplicate.');
    t.equal(atTime(await masakari.list(), report.generated_time).length, 1);
    t.same(
      fwd.outbox().map((r) => [r.status, r.attempts]),
      [
        ['sent', 1],
        ['sent', 1],
        ['sent', 1],
      ],
      'each forwarded in one attempt',
    );
  });
});
