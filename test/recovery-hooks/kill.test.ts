// A real kill: a receiver in a child process acknowledges notifications, starts a workflow, and is SIGKILLed in the
// middle of a task. A fresh receiver on the same store file still has everything it acknowledged and resumes the
// interrupted workflow at its unfinished task, as the same run.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { FakePool } from './helpers/fake-xapi.js';
import { spawnChildReceiver } from './helpers/child.js';
import { HOST_1, HOST_2, TOKEN, startHook, tempDir, testConfig } from './helpers/harness.js';

t.test('SIGKILL mid-task: acknowledged notifications survive and the workflow resumes', async (t) => {
  const dir = tempDir();
  const { child, url } = await spawnChildReceiver(dir);
  t.teardown(() => child.kill('SIGKILL'));
  const post = (path: string, body: unknown) =>
    fetch(url + path, { method: 'POST', headers: { 'X-Auth-Token': TOKEN, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const generated = new Date(Date.now() - 1000).toISOString();
  const created = await post('/v1/notifications', {
    notification: { type: 'COMPUTE_HOST', hostname: HOST_1.name, generated_time: generated, payload: { event: 'STOPPED', host_status: 'NORMAL' } },
  });
  t.equal(created.status, 202);
  const uuid = ((await created.json()) as any).notification.notification_uuid;
  const webhook = await post('/alertmanager', {
    version: '4',
    alerts: [
      {
        status: 'firing',
        startsAt: generated,
        fingerprint: 'f00d',
        labels: { xcp_notification_type: 'COMPUTE_HOST', pool_name: 'pool-a', host_name: HOST_2.name, host_uuid: HOST_2.uuid },
      },
    ],
  });
  t.equal(webhook.status, 202);
  const callsLog = join(dir, 'calls.log');
  for (let i = 0; i < 200 && !(existsSync(callsLog) && readFileSync(callsLog, 'utf8').includes('host_metrics.get_live')); i++)
    await new Promise((r) => setTimeout(r, 20));
  t.match(readFileSync(callsLog, 'utf8'), /host_metrics.get_live/, 'the first task is in XAPI when the process dies');
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));

  // Restart on the same file; XAPI now answers: host-1 is live, so the resumed workflow ends `ignored`.
  const xapi = new FakePool();
  xapi.addHost('host-1');
  xapi.addHost('host-2');
  const hook = await startHook(testConfig(dir), { xapiFor: () => xapi });
  t.teardown(() => hook.stop());
  let shown: any;
  for (let i = 0; i < 200; i++) {
    shown = (await hook.request('GET', `/v1/notifications/${uuid}`, { headers: { 'OpenStack-API-Version': 'instance-ha 1.1' } })).json.notification;
    if (shown.status === 'ignored') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.match(shown, { status: 'ignored', message: /live \(host_metrics.live = true\)/ });
  t.match(shown.recovery_workflow_details[0], { name: 'confirm_host_down', state: 'FAILURE' });
  t.ok(
    hook.logger.lines.some((l) => l.msg === 'resuming an interrupted workflow' && l.notification === uuid),
    'resumed, not restarted',
  );
  const list = (await hook.request('GET', `/v1/notifications?source_host_uuid=${HOST_2.uuid}`)).json.notifications;
  t.equal(list.length, 1, 'the acknowledged webhook notification survived the kill');
  t.same(xapi.actions, []);
});
