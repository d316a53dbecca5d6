// Temporary folders of a test process, removed when the process exits however its tests ended (a failed assertion
// skips a test's own clean-up): a run of the suite leaves nothing behind in the temporary directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made = new Set<string>();

/** A new folder under the system's temporary directory, named `<prefix>XXXXXX`, removed at process exit. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (made.size === 0) process.once('exit', removeAll);
  made.add(dir);
  return dir;
}

function removeAll(): void {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  made.clear();
}
