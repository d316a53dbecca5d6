// The configuration as the daemons accept it: the file's validation plus what only a daemon needs (the receiver's
// token and pool names, listen ports that do not collide). `check-config` runs exactly this, so a config it passes is
// one the daemons start with.
import { ConfigError } from '../core/config/load.js';
import { type BundleConfig, loadConfig } from './config/bundle.js';
import { type ListenAddress, formatListen } from '../core/config/listen.js';
import type { Problem } from '../core/config/schema.js';
import { crossCheckRecoveryHook } from '../recovery-hooks/config.js';

export type Daemon = 'exporter' | 'recovery-hook';
export const DAEMONS: Daemon[] = ['exporter', 'recovery-hook'];

/** Load `file` and check it for `daemons`; throws ConfigError (exit 2) naming the file and every key at fault. */
export function loadDaemonConfig(file: string, daemons: Daemon[], env: NodeJS.ProcessEnv = process.env): BundleConfig {
  const config = loadConfig(file, env);
  const problems = daemonProblems(config, daemons);
  if (problems.length) throw new ConfigError(file, problems);
  return config;
}

export function daemonProblems(config: BundleConfig, daemons: Daemon[]): Problem[] {
  const problems: Problem[] = [];
  if (daemons.includes('recovery-hook'))
    problems.push(
      ...crossCheckRecoveryHook(
        config.recovery_hook,
        config.pools.map((p) => p.name),
      ),
    );
  // Both daemons read the same file (the systemd units run one of each), so a shared port is refused for either.
  const a = config.exporter.listen;
  const b = config.recovery_hook.listen;
  if (a.port !== 0 && a.port === b.port && overlap(a, b))
    problems.push({
      path: 'recovery_hook.listen',
      message: `${formatListen(b)} is the port of exporter.listen (${formatListen(a)}): the two daemons need different ports`,
    });
  return problems;
}

const ANY = new Set(['0.0.0.0', '::', '']);
function overlap(a: ListenAddress, b: ListenAddress): boolean {
  return a.host === b.host || ANY.has(a.host) || ANY.has(b.host);
}

/**
 * One line for a listener that could not start (port in use, not allowed, address not local), naming the port and
 * the config key; undefined for any other error.
 */
export function listenFailure(err: unknown, key: string, address: ListenAddress): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why: Record<string, string> = {
    EADDRINUSE: 'the port is already in use (another process listens there)',
    EACCES: 'not allowed to listen on this port (ports below 1024 need privileges)',
    EADDRNOTAVAIL: 'the address is not one of this machine',
  };
  if (!code || !why[code]) return undefined;
  return `cannot listen on ${formatListen(address)} (${key}): ${why[code]}; change ${key} in the config`;
}
