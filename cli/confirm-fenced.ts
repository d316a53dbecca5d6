// `xcp-sentinel confirm-fenced <notification-uuid> --host-uuid U --url URL [--token-file F]`: an operator tells a
// waiting host recovery that the host is off (POST /v1/notifications/{uuid}/confirm-fenced, scope fence:confirm).
// The token comes from --token-file or the environment variable XCP_SENTINEL_TOKEN, never from the command line.
import { readFileSync } from 'node:fs';
import { UsageError, parse } from './usage.js';

const HELP = `Usage: xcp-sentinel confirm-fenced <notification-uuid> --host-uuid U --url URL [--token-file F]

Confirm that the host of a host recovery waiting for an operator is powered off; the recovery then restarts its
VMs elsewhere. Only confirm a host you made sure is off: a VM must never run on two hosts.
  --host-uuid U     the uuid of the host you powered off (must be the notification's host)
  --url URL         the recovery hook's base URL (e.g. http://127.0.0.1:15868)
  --token-file F    a file holding an API token with scope fence:confirm (default: $XCP_SENTINEL_TOKEN)
  --timeout S       seconds to wait for the answer (default 30)
`;

export async function confirmFencedCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parse(
    args,
    { 'host-uuid': { type: 'string' }, url: { type: 'string' }, 'token-file': { type: 'string' }, timeout: { type: 'string' } },
    HELP,
    true,
  );
  const [uuid, ...extra] = positionals;
  if (!uuid || extra.length) throw new UsageError('give exactly one notification uuid');
  if (!values['host-uuid']) throw new UsageError('--host-uuid is required');
  if (!values.url) throw new UsageError('--url is required');
  const token = values['token-file'] ? readFileSync(values['token-file'], 'utf8').trim() : env.XCP_SENTINEL_TOKEN?.trim();
  if (!token) throw new UsageError('no token: give --token-file or set XCP_SENTINEL_TOKEN');
  const timeoutS = values.timeout === undefined ? 30 : Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new UsageError('--timeout must be a positive number of seconds');

  const url = `${values.url.replace(/\/+$/, '')}/v1/notifications/${encodeURIComponent(uuid)}/confirm-fenced`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Auth-Token': token },
      body: JSON.stringify({ host_uuid: values['host-uuid'] }),
      signal: AbortSignal.timeout(timeoutS * 1000),
    });
  } catch (err) {
    process.stderr.write(`xcp-sentinel confirm-fenced: ${values.url} did not answer: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  // biome-ignore lint/suspicious/noExplicitAny: the receiver's JSON answer, read field by field below
  const body = (await res.json().catch(() => undefined)) as Record<string, any> | undefined;
  if (res.status === 202) {
    const n = body?.notification ?? {};
    process.stdout.write(`confirmed: notification ${n.notification_uuid ?? uuid} (host ${values['host-uuid']}) resumes; status ${n.status ?? 'unknown'}\n`);
    return 0;
  }
  const fault = body && Object.values(body)[0];
  process.stderr.write(`xcp-sentinel confirm-fenced: ${res.status}: ${fault?.message ?? JSON.stringify(body) ?? res.statusText}\n`);
  return res.status === 409 ? 3 : 1;
}
