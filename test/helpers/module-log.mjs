// Imported with `node --import`: prints "loaded URL" on stderr for every module the process loads (the ES module
// loader's hooks, which run in a thread of their own: this file registers itself from the main thread).
import { writeSync } from 'node:fs';
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

export async function load(url, context, next) {
  writeSync(2, `loaded ${url}\n`);
  return next(url, context);
}

if (isMainThread) register(import.meta.url);
