// `xcp-sentinel emergency-shutdown` and `xcp-sentinel emergency-resume`: an operator starts the emergency shutdown
// of a pool (or one host) on power loss, or the resume when power is back, through the receiver's API
// (POST /v1/notifications, type XCP_EMERGENCY_SHUTDOWN; the token needs notifications:write and emergency:shutdown,
// plus notifications:read to find the pool's hosts and for --wait). The token comes from --token-file or the
// environment variable XCP_SENTINEL_TOKEN, never from the command line.
import { readFileSync } from 'node:fs';
import { UsageError, parse } from './usage.js';

const COMMON = `  --pool P          the pool (as configured: the Masakari segment name)
  --host H          one host of the pool (its name): only its VMs and itself (default: the whole pool)
  --url URL         the recovery hook's base URL (default http://127.0.0.1:15868)
  --token-file F    a file holding an API token with scopes notifications:write, notifications:read and
                    emergency:shutdown (default: $XCP_SENTINEL_TOKEN)
  --wait            follow the notification's progress until it ends (exit 0 finished, 3 ignored, 1 otherwise)
  --timeout S       seconds to wait for each answer of the API (default 30)
`;

const SHUTDOWN_HELP = `Usage: xcp-sentinel emergency-shutdown --pool P [--host H] [--runtime S] [--url URL] [--token-file F] [--wait]

Power is lost: suspend every running VM of the pool (or of one host), shut down those that cannot be suspended,
then halt the hosts, members first and the master last, within the time budget (recovery_hook.emergency). Honours
the pool's mode (dry-run: nothing is changed, every step says what it would do; notify-only: recorded only).
${COMMON}  --runtime S       the UPS's remaining runtime in seconds: the budget is this less runtime_reserve_seconds
`;

const RESUME_HELP = `Usage: xcp-sentinel emergency-resume --pool P [--host H] [--url URL] [--token-file F] [--wait]

Power is back: power the hosts the last emergency shutdown halted on through their BMC (when configured), wait
for them, and resume the suspended VMs in start order (VMs that had to be shut down are started).
${COMMON}`;

type Event = 'POWER_LOST' | 'POWER_RESTORED';

export function emergencyShutdownCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return emergencyCommand('emergency-shutdown', 'POWER_LOST', SHUTDOWN_HELP, args, env);
}

export function emergencyResumeCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return emergencyCommand('emergency-resume', 'POWER_RESTORED', RESUME_HELP, args, env);
}

const TERMINAL = ['finished', 'ignored', 'failed'];

async function emergencyCommand(name: string, event: Event, help: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const options = {
    pool: { type: 'string' },
    host: { type: 'string' },
    url: { type: 'string' },
    'token-file': { type: 'string' },
    wait: { type: 'boolean' },
    timeout: { type: 'string' },
    runtime: { type: 'string' },
  } as const;
  const { values: v } = parse(args, options, help);
  if (!v.pool) throw new UsageError('--pool is required');
  if (event === 'POWER_RESTORED' && v.runtime !== undefined) throw new UsageError('--runtime is for emergency-shutdown');
  const token = v['token-file'] ? readFileSync(v['token-file'], 'utf8').trim() : env.XCP_SENTINEL_TOKEN?.trim();
  if (!token) throw new UsageError('no token: give --token-file or set XCP_SENTINEL_TOKEN');
  const timeoutS = v.timeout === undefined ? 30 : Number(v.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new UsageError('--timeout must be a positive number of seconds');
  const runtime = v.runtime === undefined ? undefined : Number(v.runtime);
  if (runtime !== undefined && !(Number.isFinite(runtime) && runtime > 0)) throw new UsageError('--runtime must be a positive number of seconds');

  const base = (v.url ?? 'http://127.0.0.1:15868').replace(/\/+$/, '');
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, {
      method,
      // 1.1: the notification's view carries its progress (recovery_workflow_details).
      headers: { 'X-Auth-Token': token, 'OpenStack-API-Version': 'instance-ha 1.1', ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(timeoutS * 1000),
    });
    return { status: res.status, json: (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined };
  };
  const fail = (what: string, r: { status: number; json?: Record<string, unknown> }) => {
    const fault = r.json && (Object.values(r.json)[0] as { message?: string } | undefined);
    process.stderr.write(`xcp-sentinel ${name}: ${what}: ${r.status}: ${fault?.message ?? JSON.stringify(r.json)}\n`);
    return r.status === 409 ? 3 : 1;
  };

  try {
    // The API names a host: the one given, else any host of the pool (the workflow reads the pool from XAPI).
    let hostname = v.host;
    if (!hostname) {
      const segments = await api('GET', '/v1/segments');
      if (segments.status !== 200) return fail('listing the pools (segments)', segments);
      const segment = ((segments.json?.segments ?? []) as { uuid: string; name: string }[]).find((s) => s.name === v.pool);
      if (!segment) throw new UsageError(`no pool ${v.pool} in the receiver's configuration`);
      const hosts = await api('GET', `/v1/segments/${segment.uuid}/hosts`);
      if (hosts.status !== 200) return fail(`listing the hosts of ${v.pool}`, hosts);
      hostname = ((hosts.json?.hosts ?? []) as { name: string }[])[0]?.name;
      if (!hostname) throw new UsageError(`the receiver knows no host of pool ${v.pool} yet`);
    }
    const payload = { event, scope: v.host ? 'host' : 'pool', source: `xcp-sentinel ${name}`, ...(runtime ? { runtime_seconds: runtime } : {}) };
    const generated = new Date().toISOString().replace(/\.\d+Z$/, '');
    const created = await api('POST', '/v1/notifications', { notification: { type: 'XCP_EMERGENCY_SHUTDOWN', hostname, generated_time: generated, payload } });
    if (created.status !== 202) return fail('POST /v1/notifications', created);
    const uuid = (created.json?.notification as { notification_uuid?: string } | undefined)?.notification_uuid ?? '';
    process.stdout.write(`${name}: notification ${uuid} for ${v.host ? `host ${v.host} of ` : ''}pool ${v.pool} (${event})\n`);
    if (!v.wait) return 0;
    return await follow(api, uuid);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    process.stderr.write(`xcp-sentinel ${name}: ${base} did not answer: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/** What `follow` reads of GET /v1/notifications/{uuid}. */
interface NotificationJson {
  status: string;
  message?: string;
  recovery_workflow_details?: { name: string; progress_details: { message: string }[] }[];
}

/** Print each new progress line of the notification until it ends; its exit code. */
async function follow(api: (method: string, path: string) => Promise<{ status: number; json?: Record<string, unknown> }>, uuid: string): Promise<number> {
  let printed = 0;
  for (;;) {
    const r = await api('GET', `/v1/notifications/${uuid}`);
    const n = r.json?.notification as NotificationJson | undefined;
    if (r.status !== 200 || !n) {
      process.stderr.write(`xcp-sentinel: reading notification ${uuid}: ${r.status}\n`);
      return 1;
    }
    const lines = (n.recovery_workflow_details ?? []).flatMap((t) => t.progress_details.map((d) => `  ${t.name}: ${d.message}`));
    for (const line of lines.slice(printed)) process.stdout.write(`${line}\n`);
    printed = lines.length;
    if (TERMINAL.includes(n.status)) {
      process.stdout.write(`${n.status}${n.message ? `: ${n.message}` : ''}\n`);
      return n.status === 'finished' ? 0 : n.status === 'ignored' ? 3 : 1;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
