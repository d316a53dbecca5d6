// The real Masakari API (Debian's masakari-api) as a forwarding target: noauth2, SQLite, the `fake://` transport (no
// engine). Two workarounds, both for the test bed, not for Masakari users:
// - Debian bookworm's oslo.messaging sanitises the request context by dropping `read_deleted` and rebuilding it,
//   which masakari's RequestContext refuses ("read_deleted can only be one of 'no', 'yes' or 'only', not None"):
//   every create answers 500. A wrapper defaults the value to 'no' before running masakari-api's own main().
// - Registering a host asks Nova whether the compute exists; there is no Nova, so the host row is inserted directly.
// Without the engine notifications stay `new` (the test moves them as the engine would, in Masakari's database), and
// microversion 1.1 GETs fail (the details come from the engine over RPC): the forwarder falls back to 1.0.
import Database from 'better-sqlite3';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { HOST_1, tempDir } from './harness.js';
import { waitUntil } from './sim-rig.js';

const PYTHON = '/usr/bin/python3';

const WRAPPER = `import sys
import masakari.context as mc
_set = mc.RequestContext._set_read_deleted
def _set_read_deleted(self, value):
    _set(self, value or 'no')
mc.RequestContext.read_deleted = property(mc.RequestContext._get_read_deleted, _set_read_deleted, mc.RequestContext._del_read_deleted)
from masakari.cmd.api import main
sys.argv = ['masakari-api'] + sys.argv[1:]
sys.exit(main())
`;
import { freePort } from '../../../core/net.js';

/** Why the real Masakari API cannot run here, or undefined when it can. */
export function masakariMissing(): string | undefined {
  if (!existsSync('/usr/bin/masakari-api') || !existsSync('/usr/bin/masakari-manage')) return 'masakari-api is not installed (apt-get install masakari-api)';
  return undefined;
}

export interface Masakari {
  url: string;
  /** GET /v1/notifications (newest first). */
  list(): Promise<any[]>;
  post(notification: Record<string, unknown>): Promise<{ status: number; json: any }>;
  /** Set a notification's status in Masakari's database, as its engine would. */
  setStatus(uuid: string, status: string): void;
}

export async function startMasakari(t: Test): Promise<Masakari> {
  const dir = tempDir();
  const port = await freePort();
  const db = join(dir, 'masakari.db');
  const conf = join(dir, 'masakari.conf');
  writeFileSync(
    conf,
    `[DEFAULT]
auth_strategy = noauth2
transport_url = fake://
rpc_response_timeout = 1
masakari_api_listen = 127.0.0.1
masakari_api_listen_port = ${port}
masakari_api_workers = 1
log_dir = ${dir}
api_paste_config = /etc/masakari/api-paste.ini
[database]
connection = sqlite:///${db}
[oslo_messaging_notifications]
driver = noop
[oslo_concurrency]
lock_path = ${dir}/locks
`,
  );
  execFileSync('/usr/bin/masakari-manage', ['--config-file', conf, 'db', 'sync'], { timeout: 120_000, stdio: 'ignore' });
  writeFileSync(join(dir, 'run-api.py'), WRAPPER);
  // Its own process group: masakari-api forks its workers, and the teardown ends the whole group.
  const child: ChildProcess = spawn(PYTHON, [join(dir, 'run-api.py'), '--config-file', conf], { cwd: dir, stdio: 'ignore', detached: true });
  t.teardown(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  const url = `http://127.0.0.1:${port}`;
  const call = async (path: string, init: { method?: string; body?: unknown } = {}) => {
    const res = await fetch(url + path, {
      method: init.method ?? 'GET',
      headers: { 'x-auth-token': 'admin:admin', 'content-type': 'application/json' },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  };
  await waitUntil('masakari-api to answer', async () => (await call('/v1')).status === 200, 60_000, 200);
  const segment = await call('/v1/segments', { method: 'POST', body: { segment: { name: 'lab', service_type: 'COMPUTE', recovery_method: 'auto' } } });
  if (segment.status !== 200 && segment.status !== 201) throw new Error(`masakari segment create: ${segment.status} ${JSON.stringify(segment.json)}`);
  const sql = new Database(db);
  try {
    sql
      .prepare(
        `INSERT INTO hosts (created_at, deleted, uuid, name, reserved, type, control_attributes, failover_segment_id, on_maintenance)
         VALUES (datetime('now'), 0, ?, ?, 0, 'COMPUTE', 'XAPI', ?, 0)`,
      )
      .run(HOST_1.uuid, HOST_1.name, segment.json.segment.uuid);
  } finally {
    sql.close();
  }
  return {
    url,
    list: async () => (await call('/v1/notifications')).json.notifications,
    post: (notification) => call('/v1/notifications', { method: 'POST', body: { notification } }),
    setStatus(uuid, status) {
      const sql = new Database(db);
      try {
        sql.prepare("UPDATE notifications SET status = ?, updated_at = datetime('now') WHERE notification_uuid = ?").run(status, uuid);
      } finally {
        sql.close();
      }
    },
  };
}
