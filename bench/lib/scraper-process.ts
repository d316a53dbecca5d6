// A scraper in a process of its own, as Prometheus is: the bench's HTTP client must not run in the exporter's
// process. A client there receives each response's bytes as new Buffers (external memory to V8): right after a poll,
// the 18.6 MB of one gzip scrape crossed V8's external-memory limit and started a full mark of the poll's ~240 MB heap
// during that scrape (--trace-gc: "[IncrementalMarking] Start (external memory pressure)" at the scrape's start,
// 140–200 ms of marking steps and as much on V8's threads) — a cost the exporter's own server path does not cause.
// One request at a time: a line of JSON {url, headers} in, a line {ms, bytes, status} or {error} out.
import { type ChildProcess, spawn } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { timedGet } from './http.js';

export interface Scraper {
  get(url: string, headers?: Record<string, string>): Promise<{ ms: number; bytes: number; status: number }>;
  stop(): void;
}

const SELF = fileURLToPath(import.meta.url);

export function startScraperProcess(): Scraper {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', SELF, 'serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const waiting: { resolve: (v: { ms: number; bytes: number; status: number }) => void; reject: (e: Error) => void }[] = [];
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    const w = waiting.shift()!;
    const r = JSON.parse(line) as { ms: number; bytes: number; status: number; error?: string; code?: string };
    if (r.error) w.reject(Object.assign(new Error(r.error), { code: r.code }));
    else w.resolve(r);
  });
  child.on('exit', () => {
    for (const w of waiting.splice(0)) w.reject(new Error('scraper process exited'));
  });
  return {
    get: (url, headers = {}) =>
      new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        child.stdin!.write(JSON.stringify({ url, headers }) + '\n');
      }),
    stop() {
      process.off('exit', kill);
      child.kill();
    },
  };
}

if (process.argv[1] === SELF && process.argv[2] === 'serve') {
  // Requests arrive one at a time (the parent awaits each answer), so answers keep their order.
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    const { url, headers } = JSON.parse(line) as { url: string; headers: Record<string, string> };
    timedGet(url, headers).then(
      (r) => process.stdout.write(JSON.stringify(r) + '\n'),
      (err: NodeJS.ErrnoException) => process.stdout.write(JSON.stringify({ error: err.message, code: err.code }) + '\n'),
    );
  });
  process.stdin.on('end', () => process.exit(0));
}
