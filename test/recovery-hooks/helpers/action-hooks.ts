// Helpers for the action-hook tests: the config list parsed through its real schema, a local HTTP(S) hook receiver
// that records what it was sent, and counter readings.
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import type { Test } from 'tap';
import type { Problem } from '../../../core/config/schema.js';
import { type ActionHookConfig, actionHooksSchema } from '../../../recovery-hooks/action-hooks/config.js';
import type { ActionHookCounter } from '../../../recovery-hooks/action-hooks/hooks.js';
import { tempDir as makeTempDir } from '../../helpers/tmp.js';

export function tempDir(): string {
  return makeTempDir('xcp-ah-');
}

export function parseHooks(value: unknown, opts: { baseDir?: string; env?: NodeJS.ProcessEnv } = {}): { hooks?: ActionHookConfig[]; problems: string[] } {
  const ctx = { problems: [] as Problem[] };
  const schema = actionHooksSchema({ baseDir: opts.baseDir ?? tmpdir(), env: opts.env ?? {} });
  const hooks = schema.parse(value, ['recovery_hook', 'action_hooks'], ctx);
  return { hooks, problems: ctx.problems.map((p) => `${p.path}: ${p.message}`) };
}

export function mustParseHooks(value: unknown, opts: { baseDir?: string; env?: NodeJS.ProcessEnv } = {}): ActionHookConfig[] {
  const { hooks, problems } = parseHooks(value, opts);
  if (!hooks) throw new Error(`config problems: ${problems.join('; ')}`);
  return hooks;
}

export interface Hit {
  path: string;
  headers: IncomingMessage['headers'];
  raw: string;
  body: any;
  /** When the request was complete (epoch ms). */
  at: number;
}

/** Answer, or leave `res` unanswered to make the receiver hang. */
export type Handler = (hit: Hit, res: ServerResponse, index: number) => void;

export interface HookServer {
  hits: Hit[];
  base: string;
  /** Resolves once `n` requests have arrived. */
  waitForHits(n: number): Promise<void>;
}

export async function hookServer(t: Test, handle: Handler, tls?: { key: string; cert: string }): Promise<HookServer> {
  const hits: Hit[] = [];
  const waiters: (() => void)[] = [];
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const hit = { path: req.url!, headers: req.headers, raw, body: JSON.parse(raw), at: Date.now() };
      hits.push(hit);
      handle(hit, res, hits.length - 1);
      for (const w of waiters.splice(0)) w();
    });
  };
  const server = tls ? createHttpsServer(tls, onRequest) : createServer(onRequest);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  const waitForHits = async (n: number) => {
    while (hits.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { hits, base: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, waitForHits };
}

export async function counterValue(counter: ActionHookCounter, type: string, outcome: string): Promise<number> {
  return (await counter.get()).values.find((v) => v.labels.type === type && v.labels.outcome === outcome)?.value ?? 0;
}
