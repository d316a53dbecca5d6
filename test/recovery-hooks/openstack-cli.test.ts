// The real OpenStack CLI (Debian python3-openstackclient + python3-masakariclient) against the running receiver:
// notification create / list / show, and segment / host lists paged with --limit 1 and filtered. masakariclient sends `OpenStack-API-Version: instance-ha 1.2` and X-Auth-Token,
// and discovers the API with an unauthenticated GET /v1.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { FakePool } from './helpers/fake-xapi.js';
import { HOST_1, TOKEN, startHook, tempDir, testConfig } from './helpers/harness.js';

const run = promisify(execFile);
const available = await run('openstack', ['--version']).then(
  () => true,
  () => false,
);

t.test(
  'openstack notification create | list | show',
  { skip: available ? false : 'openstack CLI not installed (apt-get install python3-openstackclient python3-masakariclient)' },
  async (t) => {
    const xapi = new FakePool();
    const h1 = xapi.addHost('host-1');
    xapi.addHost('host-2');
    const vm = xapi.addVm('web', h1, { heartbeat: Date.now() - 3600_000 });
    const hook = await startHook(testConfig(tempDir()), { xapiFor: () => xapi });
    t.teardown(() => hook.stop());
    const openstack = async (...args: string[]) => {
      const { stdout } = await run('openstack', ['--os-auth-type', 'admin_token', '--os-token', TOKEN, '--os-endpoint', `${hook.url}/v1`, ...args], {
        timeout: 60_000,
      });
      return JSON.parse(stdout);
    };

    const generated = new Date(Date.now() - 2000).toISOString().replace('Z', '');
    const payload = JSON.stringify({ instance_uuid: vm.uuid, vir_domain_event: 'STOPPED_FAILED', event: 'QEMU_GUEST_AGENT_ERROR' });
    const created = await openstack('notification', 'create', 'VM', HOST_1.name, generated, payload, '-f', 'json');
    t.match(created, { type: 'COMPUTE_INSTANCE', source_host_uuid: HOST_1.uuid, payload: { instance_uuid: vm.uuid } });
    t.match(created.notification_uuid, /^[0-9a-f-]{36}$/);

    // The instance workflow runs in the background: the VM runs with a stale heartbeat, so it is hard-rebooted.
    let shown: any;
    for (let i = 0; i < 100; i++) {
      shown = await openstack('notification', 'show', created.notification_uuid, '-f', 'json');
      if (shown.status === 'finished' || shown.status === 'failed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    t.equal(shown.status, 'finished');
    t.same(
      shown.recovery_workflow_details.map((d: any) => [d.name, d.state]),
      [
        ['check_instance', 'SUCCESS'],
        ['recover_instance', 'SUCCESS'],
        ['confirm_instance_running', 'SUCCESS'],
      ],
      'microversion 1.2 shows the workflow details',
    );
    t.same(xapi.actions, ['VM.hard_reboot web']);

    const listed = await openstack('notification', 'list', '-f', 'json');
    t.match(listed, [{ notification_uuid: created.notification_uuid, status: 'finished', type: 'COMPUTE_INSTANCE' }]);
    const filtered = await openstack('notification', 'list', '--filters', 'status=new', '-f', 'json');
    t.same(filtered, []);

    const duplicate = await run('openstack', [
      '--os-auth-type',
      'admin_token',
      '--os-token',
      TOKEN,
      '--os-endpoint',
      `${hook.url}/v1`,
      'notification',
      'create',
      'VM',
      HOST_1.name,
      generated,
      payload,
    ]).then(
      () => undefined,
      (err: { stderr: string }) => err.stderr,
    );
    t.match(duplicate, /Duplicate notification received for type: COMPUTE_INSTANCE/, 'a 409 reaches the CLI user with its message');

    const denied = await run('openstack', [
      '--os-auth-type',
      'admin_token',
      '--os-token',
      'wrong',
      '--os-endpoint',
      `${hook.url}/v1`,
      'notification',
      'list',
    ]).then(
      () => undefined,
      (err: { stderr: string }) => err.stderr,
    );
    t.match(denied, /401|not valid|Unauthorized/i);
  },
);

t.test(
  'openstack segment list | segment host list: --limit 1 pages, --filters filter',
  { skip: available ? false : 'openstack CLI not installed' },
  async (t) => {
    const hook = await startHook(testConfig(tempDir()));
    t.teardown(() => hook.stop());
    const openstack = async (...args: string[]) => {
      const { stdout } = await run(
        'openstack',
        ['--os-auth-type', 'admin_token', '--os-token', TOKEN, '--os-endpoint', `${hook.url}/v1`, ...args, '-f', 'json'],
        { timeout: 60_000 },
      );
      return JSON.parse(stdout);
    };
    // openstacksdk follows pages of `limit` items with marker = the last id until a short page: a server ignoring
    // limit/marker makes it abort with "Endless pagination loop detected".
    const segments = await openstack('segment', 'list', '--limit', '1');
    t.same(
      segments.map((s: any) => s.name),
      ['pool-a'],
    );
    const segment = segments[0].uuid;
    const hosts = await openstack('segment', 'host', 'list', segment, '--limit', '1');
    t.same(
      hosts.map((h: any) => h.name),
      ['host-1', 'host-2', 'host-3'],
      'three pages of one host each, in order',
    );
    t.same(await openstack('segment', 'host', 'list', segment, '--filters', 'on_maintenance=True'), [], 'no host is on maintenance');
    t.equal((await openstack('segment', 'host', 'list', segment, '--filters', 'on_maintenance=False')).length, 3);
    const sorted = await openstack('segment', 'host', 'list', segment, '--sort', 'name:desc', '--limit', '2');
    t.same(
      sorted.map((h: any) => h.name),
      ['host-3', 'host-2', 'host-1'],
      'sorted, and paged in the sorted order',
    );
  },
);
