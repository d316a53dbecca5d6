// Which Chromium draws the preview's screenshots, looked up before anything starts: without one, the preview says
// what to install and leaves nothing behind (no stack started, no folder written).
import { accessSync, constants } from 'node:fs';
import { findBinary } from '../../cli/demo/peers.js';

export const NO_CHROMIUM = `grafana:preview takes its screenshots with headless Chromium, and none was found (CHROMIUM is not set; no chromium,
chromium-browser or google-chrome on PATH). Install it (Debian: apt-get install chromium) or point CHROMIUM at
the browser (CHROMIUM=/path/to/chrome npm run grafana:preview). Nothing was started or written.
`;

/** $CHROMIUM if it is an executable path (or a command on PATH), else the first Chromium on PATH, else undefined. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const set = env.CHROMIUM;
  if (set) {
    if (!set.includes('/')) return /^[\w.+-]+$/.test(set) ? findBinary(set) : undefined;
    try {
      accessSync(set, constants.X_OK);
      return set;
    } catch {
      return undefined;
    }
  }
  return findBinary('chromium', 'chromium-browser', 'google-chrome');
}

/** Headless Chromium on a machine with no network but loopback: without the background-networking flags it keeps
 * trying (and failing) to reach Google's hosts. Shared by grafana:preview and the UI's browser tests. */
export const HEADLESS_CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
