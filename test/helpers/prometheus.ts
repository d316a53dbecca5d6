// A real Prometheus (Debian's `prometheus`, started by core/peer.ts) on a loopback port with a temporary data dir;
// stopped by the test, and killed if the test process exits first.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrometheusPeer } from '../../core/peer.js';

export interface RunningPrometheus {
  url: string;
  dir: string;
  query<T = unknown>(expr: string): Promise<T>;
  api<T = unknown>(path: string): Promise<T>;
  stop(): Promise<void>;
}

/** `config` is prometheus.yml text; `files` are written beside it (rules, token files). */
export async function startPrometheus(config: string, files: Record<string, string> = {}, extraArgs: string[] = []): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'xcp-prom-'));
  writeFileSync(join(dir, 'prometheus.yml'), config);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const peer = await startPrometheusPeer({ dir, extraArgs });
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(peer.url + path, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error}`);
    return body.data;
  };
  return {
    url: peer.url,
    dir,
    api,
    query: <T>(expr: string) => api<T>(`/api/v1/query?query=${encodeURIComponent(expr)}`),
    async stop() {
      await peer.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
