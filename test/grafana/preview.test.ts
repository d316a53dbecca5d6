// `npm run grafana:preview` on a machine without Chromium: it says what to install, exits 1 without a stack trace,
// and leaves nothing behind (no --out folder, nothing in TMPDIR), because it looks Chromium up before it starts
// anything. Run with a PATH holding only node and sh (Debian's /bin is /usr/bin, where chromium may well be).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { findChromium } from '../../grafana/preview/chromium.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'xcp-preview-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('without Chromium: one message saying what to install, exit 1, nothing left behind', async (t) => {
  const bin = join(dir, 'bin');
  const tmp = join(dir, 'tmp');
  mkdirSync(bin);
  mkdirSync(tmp);
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync('/bin/sh', join(bin, 'sh'));
  const out = join(dir, 'shots');
  const env: NodeJS.ProcessEnv = { PATH: bin, TMPDIR: tmp, HOME: dir };
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'grafana/preview/main.ts', '--seconds', '1', '--out', out], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(r.status, 1, `exit 1\n${r.stderr}`);
  t.match(r.stderr, /apt-get install chromium/, 'says what to install');
  t.match(r.stderr, /CHROMIUM=/, 'and how to point at another browser');
  t.notMatch(r.stderr, /^\s+at /m, 'no stack trace');
  t.notOk(existsSync(out), 'no --out folder created');
  // tsx keeps its compile cache there (tsx-<uid>): the runner's, not the preview's.
  t.same(
    readdirSync(tmp).filter((f) => !/^tsx-\d+$/.test(f)),
    [],
    'nothing left in TMPDIR',
  );
});

t.test('findChromium: $CHROMIUM when executable, else PATH', async (t) => {
  const fake = join(dir, 'my-chrome');
  writeFileSync(fake, '#!/bin/sh\n');
  chmodSync(fake, 0o755);
  t.equal(findChromium({ CHROMIUM: fake }), fake, 'an executable path');
  t.equal(findChromium({ CHROMIUM: join(dir, 'missing') }), undefined, 'a path that is not there');
  t.equal(findChromium({ CHROMIUM: 'sh; rm -rf x' }), undefined, 'not a command name: not given to the shell');
});
