// Where a worker thread of the store starts: the module itself (its own URL). Run from its TypeScript source (tests,
// `npm run` scripts), the worker registers tsx first: Node 20 does not hand a loader registered with --import to
// worker threads.
import type { WorkerOptions } from 'node:worker_threads';

/** The Worker constructor's filename and `eval` option for the module at `moduleUrl` (its import.meta.url). */
export function workerEntry(moduleUrl: string): { filename: URL | string; options: Pick<WorkerOptions, 'eval'> } {
  if (!moduleUrl.endsWith('.ts')) return { filename: new URL(moduleUrl), options: { eval: false } };
  const tsx = import.meta.resolve('tsx/esm/api');
  return {
    filename: `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(moduleUrl)}); });`,
    options: { eval: true },
  };
}
