import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError } from '../../core/config/load.js';
import { crossCheckRecoveryHook } from '../../recovery-hooks/config.js';
import { HOST_1, tempDir } from './helpers/harness.js';
import { parseConfig } from '../../cli/config/bundle.js';

const POOLS = 'pools:\n  - { name: pool-a, url: https://a.example, username: root, password: x }\n';

function problems(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(POOLS + yaml, join(tempDir(), 'config.yaml'), env);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
}

t.test('defaults', async (t) => {
  const rh = parseConfig(POOLS, '/etc/xcp-sentinel/config.yaml').recovery_hook;
  t.match(rh, {
    listen: { host: '127.0.0.1', port: 15868 },
    storePath: '/var/lib/xcp-sentinel/recovery-hook.sqlite',
    storeWorkerThread: false,
    groupCommit: { maxDeliveries: 256, maxWaiting: 1024 },
    alertmanagerPath: '/alertmanager',
    maxBodyBytes: 1048576,
    tokens: [],
    dedupWindowMs: 180_000,
    retry: { attempts: 1, intervalMs: 120_000 },
    expireAfterMs: 86_400_000,
    maxConcurrentWorkflows: 4,
    workflows: { COMPUTE_HOST: ['confirm_host_down', 'plan_vm_restarts', 'fence_host', 'disable_host', 'reset_vm_power_states', 'restart_vms'] },
    hostFailure: { restartUnprotected: true, parallelStarts: 8, startTimeoutMs: 300_000 },
    pools: {},
    leaseMs: 30_000,
    actionHooks: [],
  });
  t.equal(rh.postgres, undefined, 'the embedded SQLite store unless store.postgres is given');
  t.match(rh.receiverId, /^[A-Za-z0-9._-]{1,64}$/, 'the receiver is named after the machine');
  t.same(
    crossCheckRecoveryHook(rh, ['pool-a']).map((p) => p.path),
    ['recovery_hook.tokens'],
    'no token: the receiver refuses to start',
  );
});

t.test('a full section: secrets from files and the environment, per-pool settings, relative paths', async (t) => {
  const dir = tempDir();
  writeFileSync(join(dir, 'am.token'), 's3cret-from-file\n');
  const yaml = `
recovery_hook:
  store_path: state/rh.sqlite
  tokens:
    - { name: alertmanager, token_file: am.token }
    - { name: ops, token_env: OPS_TOKEN }
  tasks: { restart_vms: { timeout_seconds: 900 } }
  pools:
    pool-a:
      mode: dry-run
      hosts: [{ name: ${HOST_1.name}, uuid: ${HOST_1.uuid} }]
      fencing: { user: ADMIN, password_env: BMC_PASS, bmc: { host-1: 10.1.1.1 } }
      ssh: { private_key_file: id_ed25519, fingerprints: { host-1: 'SHA256:${'A'.repeat(43)}' } }
`;
  const config = parseConfig(POOLS + yaml, join(dir, 'config.yaml'), { OPS_TOKEN: 'ops-token', BMC_PASS: 'bmc-pass' });
  const rh = config.recovery_hook;
  t.equal(rh.storePath, join(dir, 'state/rh.sqlite'));
  t.same(
    rh.tokens.map((x) => [x.name, x.token.reveal()]),
    [
      ['alertmanager', 's3cret-from-file'],
      ['ops', 'ops-token'],
    ],
  );
  t.equal(
    JSON.stringify(rh.tokens),
    '[{"name":"alertmanager","token":"[secret]","scopes":["alertmanager","notifications:read"]},{"name":"ops","token":"[secret]","scopes":["alertmanager","notifications:read"]}]',
    'without scopes: the defaults',
  );
  t.match(rh.tasks.restart_vms, { timeoutMs: 900_000, retries: 2 });
  const pool = rh.pools['pool-a']!;
  t.match(pool, {
    mode: 'dry-run',
    fencing: { user: 'ADMIN', passwordEnv: 'IPMI_PASSWORD', bmc: { 'host-1': '10.1.1.1' } },
    ssh: { user: 'root', port: 22, restartCommand: 'xe-toolstack-restart' },
  });
  t.same(pool.fencing!.powerOffCommand, ['ipmitool', '-I', 'lanplus', '-H', '{bmc}', '-U', '{user}', '-E', 'chassis', 'power', 'off']);
  t.equal(pool.fencing!.password.reveal(), 'bmc-pass');
  t.equal(pool.ssh!.privateKeyFile, join(dir, 'id_ed25519'));
  t.same(crossCheckRecoveryHook(rh, ['pool-a']), []);
  t.match(crossCheckRecoveryHook(rh, ['other']), [{ path: 'recovery_hook.pools.pool-a', message: /names no configured pool/ }]);
});

t.test('every problem is reported with its key path', async (t) => {
  const found = problems(`
recovery_hook:
  listen: nowhere
  alertmanager_path: no-slash
  max_body_bytes: 10
  tokens: [{ name: a }, { name: a, token: x, token_env: Y }]
  retry: { attempts: -1 }
  workflows: { host: [fence_host, restart_vms, plan_vm_restarts], instance: [reboot_everything] }
  tasks: { frobnicate: { retries: 1 } }
  pools:
    pool-a:
      mode: yolo
      ssh: { private_key_file: k }
      fencing: { user: u, password: p, bmc: {}, power_off_command: "ipmitool power off" }
`);
  const expected = [
    /^recovery_hook\.listen: expected an address/,
    /^recovery_hook\.alertmanager_path: expected a URL path/,
    /^recovery_hook\.max_body_bytes: expected an integer >= 1024/,
    /^recovery_hook\.retry\.attempts: expected an integer >= 0/,
    /^recovery_hook\.workflows\.instance\[0\]: expected one of check_instance/,
    /^recovery_hook\.pools\.pool-a\.mode: expected one of auto, dry-run, notify-only/,
  ];
  for (const re of expected)
    t.ok(
      found.some((p) => re.test(p)),
      String(re),
    );
  const second = problems(`
recovery_hook:
  tokens: [{ name: a }, { name: a, token: x, token_env: Y }]
  workflows: { host: [fence_host, restart_vms, plan_vm_restarts] }
  tasks: { frobnicate: { retries: 1 } }
  pools:
    pool-a:
      ssh: { private_key_file: k }
      fencing: { user: u, password: p, bmc: {}, power_off_command: "ipmitool power off" }
`);
  for (const re of [
    /^recovery_hook\.tokens\[0\]: needs one of token, token_file, token_env/,
    /^recovery_hook\.tokens\[1\]\.name: duplicate token name "a"/,
    /^recovery_hook\.tokens\[1\]: set only one of token, token_env/,
    /^recovery_hook\.workflows\.host: restart_vms needs plan_vm_restarts before it/,
    /^recovery_hook\.tasks\.frobnicate: unknown task/,
    /^recovery_hook\.pools\.pool-a\.ssh: needs known_hosts_file or fingerprints/,
    /^recovery_hook\.pools\.pool-a\.fencing\.power_off_command: must contain \{bmc\}/,
  ])
    t.ok(
      second.some((p) => re.test(p)),
      String(re),
    );
  t.notMatch(second.join('\n'), /\bx\b.*secret|\bp\b/, 'no secret value in the messages');
});

t.test('#16 keys: token scopes, blast-radius limits, the fence after the plan', async (t) => {
  const found = problems(`
recovery_hook:
  tokens: [{ name: a, token: x, scopes: [alertmanager, fence:everything] }, { name: b, token: y, scopes: [] }]
  pools:
    pool-a:
      fencing: { user: u, password: p, bmc: {}, max_hosts_fenced: 0, fence_window_seconds: 0, max_down_share: 1.5 }
`);
  for (const re of [
    /^recovery_hook\.tokens\[0\]\.scopes\[1\]: expected one of alertmanager, notifications:read, notifications:write, fence:assert, fence:confirm/,
    /^recovery_hook\.tokens\[1\]\.scopes: /,
    /^recovery_hook\.pools\.pool-a\.fencing\.max_hosts_fenced: expected an integer >= 1/,
    /^recovery_hook\.pools\.pool-a\.fencing\.fence_window_seconds: /,
    /^recovery_hook\.pools\.pool-a\.fencing\.max_down_share: /,
  ])
    t.ok(
      found.some((p) => re.test(p)),
      String(re),
    );
  // The plan records what ran on the host: it is the fence's commit point.
  t.match(
    problems(`
recovery_hook:
  workflows: { host: [confirm_host_down, fence_host, plan_vm_restarts, reset_vm_power_states, restart_vms] }
`),
    [/^recovery_hook\.workflows\.host: fence_host needs plan_vm_restarts before it/],
  );
  const rh = parseConfig(
    `${POOLS}
recovery_hook:
  tokens: [{ name: a, token: x }, { name: ops, token: y, scopes: [fence:confirm, notifications:read, fence:confirm] }]
  pools:
    pool-a:
      fencing: { user: u, password: p, bmc: { host-1: 10.0.0.1 } }
`,
    '/etc/xcp-sentinel/config.yaml',
  ).recovery_hook;
  t.same(
    rh.tokens.map((x) => x.scopes),
    [
      ['alertmanager', 'notifications:read'],
      ['fence:confirm', 'notifications:read'],
    ],
    'defaults; duplicates dropped',
  );
  t.match(rh.pools['pool-a']!.fencing, { maxHostsFenced: 1, fenceWindowMs: 600_000, maxDownShare: 0.5 });
});

t.test('store.postgres: the URL is a secret (file or environment), never shown; a bad one names its key', async (t) => {
  const dir = tempDir();
  const urlFile = join(dir, 'pg-url');
  writeFileSync(urlFile, 'postgresql://sentinel:s3cret-pw@db.example:5432/sentinel\n');
  const file = join(dir, 'config.yaml');
  const rh = parseConfig(
    POOLS + `recovery_hook:\n  store: { postgres: { url_file: pg-url, pool_size: 4 } }\n  receiver_id: rh-a\n  lease_seconds: 12\n`,
    file,
  ).recovery_hook;
  t.equal(rh.postgres!.url.reveal(), 'postgresql://sentinel:s3cret-pw@db.example:5432/sentinel');
  t.match(rh.postgres, { poolSize: 4, connectTimeoutMs: 10_000, statementTimeoutMs: 15_000 });
  t.notMatch(JSON.stringify(rh), /s3cret-pw/, 'the password never appears when the config is shown');
  t.match(rh, { receiverId: 'rh-a', leaseMs: 12_000 });

  const found = problems(`recovery_hook:\n  store: { postgres: { url_env: PG_URL } }\n`, { PG_URL: 'mysql://root:pw@db/x' });
  t.same(found, ['recovery_hook.store.postgres.url: must be a postgres:// or postgresql:// connection URL']);
  t.match(problems(`recovery_hook:\n  receiver_id: "a b"\n`), [/^recovery_hook.receiver_id: expected letters, digits/]);
  t.notMatch(found.join('\n'), /pw@db/, 'the rejected URL is not echoed');
  t.match(problems(`recovery_hook:\n  store: { postgres: {} }\n`), ['recovery_hook.store.postgres: needs one of url, url_file, url_env']);
});

t.test('retention_days: 90 by default, at least 1', async (t) => {
  t.equal(parseConfig(POOLS, '/etc/xcp-sentinel/config.yaml').recovery_hook.retentionMs, 90 * 86_400_000);
  t.equal(parseConfig(POOLS + 'recovery_hook:\n  retention_days: 7\n', '/etc/xcp-sentinel/config.yaml').recovery_hook.retentionMs, 7 * 86_400_000);
  t.match(problems('recovery_hook:\n  retention_days: 0\n'), [/^recovery_hook\.retention_days: expected a number >= 1/]);
});

t.test('master_failover: the local login password is a secret, defaults, problems name the key', async (t) => {
  const found = problems(`
recovery_hook:
  pools:
    pool-a:
      master_failover: { candidates: [xcp-host-02, XCP-HOST-02, ""], promote_timeout_seconds: 0, surprise: 1 }
      hosts: [{ name: h, uuid: 8a5c1d0e-3f2b-4c6d-9e7f-0a1b2c3d4e5f, address: "" }]
`);
  for (const re of [
    /^recovery_hook\.pools\.pool-a\.master_failover\.candidates\[2\]: /,
    /^recovery_hook\.pools\.pool-a\.master_failover\.promote_timeout_seconds: /,
    /^recovery_hook\.pools\.pool-a\.master_failover\.surprise: /,
    /^recovery_hook\.pools\.pool-a\.hosts\[0\]\.address: /,
  ])
    t.ok(
      found.some((p) => re.test(p)),
      `${re} in ${found.join(' | ')}`,
    );
  t.ok(
    problems(`
recovery_hook:
  pools:
    pool-a:
      master_failover: { password: p, candidates: [xcp-host-02, XCP-HOST-02] }
`).some((p) => /^recovery_hook\.pools\.pool-a\.master_failover\.candidates\[1\]: "XCP-HOST-02" is listed twice/.test(p)),
  );
  t.match(
    problems(`
recovery_hook:
  task_defaults: { timeout_seconds: 100 }
  tasks: { recover_members: { timeout_seconds: 200 } }
  pools:
    pool-a:
      master_failover: { password: p, promote_timeout_seconds: 100, members_timeout_seconds: 150 }
`),
    [/^recovery_hook\.pools\.pool-a\.master_failover\.promote_timeout_seconds: must be below the promote_member task's timeout \(100 s/],
  );
  t.match(
    problems(`
recovery_hook:
  pools:
    pool-a:
      master_failover: { candidates: [a] }
`),
    [/^recovery_hook\.pools\.pool-a\.master_failover: needs one of password, password_file, password_env/],
  );
  t.match(
    problems(`
recovery_hook:
  pools:
    pool-a:
      master_failover: { password_env: ROOT_PASS }
`),
    [/^recovery_hook\.pools\.pool-a\.master_failover\.password_env: environment variable ROOT_PASS is not set or empty/],
  );
  const rh = parseConfig(
    `${POOLS}
recovery_hook:
  pools:
    pool-a:
      master_failover: { password_env: ROOT_PASS }
    `,
    '/etc/xcp-sentinel/config.yaml',
    { ROOT_PASS: 'root-secret' },
  ).recovery_hook;
  const mf = rh.pools['pool-a']!.masterFailover!;
  t.match(mf, { username: 'root', candidates: [], promoteTimeoutMs: 180_000, membersTimeoutMs: 120_000 });
  t.equal(mf.password.reveal(), 'root-secret');
  t.notMatch(JSON.stringify(rh), /root-secret/, 'never in JSON');
  t.equal(parseConfig(POOLS, '/etc/xcp-sentinel/config.yaml').recovery_hook.pools['pool-a'], undefined);
  t.equal(
    parseConfig(`${POOLS}recovery_hook:\n  pools:\n    pool-a: { mode: auto }\n`, '/etc/x.yaml').recovery_hook.pools['pool-a']!.masterFailover,
    undefined,
    'absent: undefined',
  );
});

t.test('workflow task lists: a task reading an input before any task provides it is refused, naming both', async (t) => {
  const found = problems(`
recovery_hook:
  workflows:
    host: [confirm_host_down, plan_vm_restarts, restart_vms, fence_host]
    instance: [recover_instance, confirm_instance_running]
    process: [confirm_toolstack, check_toolstack]
`);
  t.same(
    found.filter((p) => p.startsWith('recovery_hook.workflows')),
    [
      'recovery_hook.workflows.host: restart_vms needs fence_host before it (its input fenced: the failed host proven off (no fence, no restart))',
      'recovery_hook.workflows.instance: recover_instance needs check_instance before it (its input check: what the VM needs: a start or a hard reboot)',
    ],
    'the toolstack tasks read no input of each other: any order passes',
  );
});

t.test('group_commit: bounds of the webhook group commit, validated and named', async (t) => {
  const rh = parseConfig(`${POOLS}recovery_hook:\n  group_commit: { max_deliveries: 32 }\n`, '/etc/xcp-sentinel/config.yaml').recovery_hook;
  t.same(rh.groupCommit, { maxDeliveries: 32, maxWaiting: 1024 });
  const found = problems('recovery_hook:\n  group_commit: { max_deliveries: 0, max_waiting: 2.5, surprise: 1 }\n');
  t.match(found.join(' | '), /recovery_hook\.group_commit\.max_deliveries: expected an integer >= 1 <= 10000, got 0/);
  t.match(found.join(' | '), /recovery_hook\.group_commit\.max_waiting: expected an integer >= 1 <= 100000, got 2\.5/);
  t.match(found.join(' | '), /recovery_hook\.group_commit\.surprise: unknown key/);
});
