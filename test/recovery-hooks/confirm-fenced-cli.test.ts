// `xcp-sentinel confirm-fenced`, in process, against a small server that answers as the receiver does: the request it
// sends (path, body, token header), its exit codes (0 confirmed, 3 not waiting, 1 otherwise) and its usage errors.
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { confirmFencedCommand } from '../../cli/confirm-fenced.js';
import { UsageError } from '../../cli/usage.js';
import { tempDir } from './helpers/harness.js';

const N = '0e5a3f1c-0000-4000-8000-000000000001';
const H = '00000000-0000-4000-8000-000000000002';

t.test('the request, and the exit code for each answer', async (t) => {
  const seen: { url: string; token: string | undefined; body: string }[] = [];
  let answer: [number, unknown] = [202, { notification: { notification_uuid: N, status: 'running' } }];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push({ url: req.url!, token: req.headers['x-auth-token'] as string | undefined, body });
      res.writeHead(answer[0], { 'content-type': 'application/json' }).end(JSON.stringify(answer[1]));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const tokenFile = join(tempDir(), 'token');
  writeFileSync(tokenFile, 'file-token\n');
  // The command prints to stdout/stderr; capture them only while it runs (tap writes its own results to stdout).
  const run = async (args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> => {
    const out: string[] = [];
    const [write, errWrite] = [process.stdout.write, process.stderr.write];
    process.stdout.write = process.stderr.write = ((s: string) => {
      out.push(s);
      return true;
    }) as typeof process.stdout.write;
    try {
      return { code: await confirmFencedCommand(args, env), out: out.join('') };
    } finally {
      [process.stdout.write, process.stderr.write] = [write, errWrite];
    }
  };
  const ok = await run([N, '--host-uuid', H, '--url', url, '--token-file', tokenFile], {});
  t.equal(ok.code, 0);
  t.same(seen[0], { url: `/v1/notifications/${N}/confirm-fenced`, token: 'file-token', body: JSON.stringify({ host_uuid: H }) });
  t.match(ok.out, `confirmed: notification ${N} (host ${H}) resumes; status running`);
  answer = [409, { conflictingRequest: { code: 409, message: 'not waiting for an operator' } }];
  const conflict = await run([N, '--host-uuid', H, '--url', url], { XCP_SENTINEL_TOKEN: 'env-token' });
  t.equal(conflict.code, 3, '409: not waiting');
  t.equal(seen[1]!.token, 'env-token');
  t.match(conflict.out, '409: not waiting for an operator');
  answer = [403, { forbidden: { code: 403, message: 'needs scope fence:confirm' } }];
  const forbidden = await run([N, '--host-uuid', H, '--url', url], { XCP_SENTINEL_TOKEN: 'env-token' });
  t.equal(forbidden.code, 1);
  t.match(forbidden.out, '403: needs scope fence:confirm');
  const down = await run([N, '--host-uuid', H, '--url', 'http://127.0.0.1:1'], { XCP_SENTINEL_TOKEN: 'x' });
  t.equal(down.code, 1, 'no answer');
  t.match(down.out, /did not answer/);
  // --help is answered by the CLI's router (test/cli/cli.test.ts runs it): the command hands it its usage.
  await t.rejects(confirmFencedCommand(['--help'], {}), { name: 'HelpRequested', usage: /^Usage: xcp-sentinel confirm-fenced/ });
});

t.test('usage errors', async (t) => {
  const env = { XCP_SENTINEL_TOKEN: 'x' };
  await t.rejects(confirmFencedCommand(['--host-uuid', H, '--url', 'http://h'], env), UsageError);
  await t.rejects(confirmFencedCommand([N, N, '--host-uuid', H, '--url', 'http://h'], env), { message: 'give exactly one notification uuid' });
  await t.rejects(confirmFencedCommand([N, '--url', 'http://h'], env), { message: '--host-uuid is required' });
  await t.rejects(confirmFencedCommand([N, '--host-uuid', H], env), { message: '--url is required' });
  await t.rejects(confirmFencedCommand([N, '--host-uuid', H, '--url', 'http://h'], {}), { message: /no token/ });
  await t.rejects(confirmFencedCommand([N, '--host-uuid', H, '--url', 'http://h', '--timeout', '0'], env), { message: /--timeout/ });
  await t.rejects(confirmFencedCommand([N, '--force'], env), UsageError);
});
