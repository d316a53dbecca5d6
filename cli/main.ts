#!/usr/bin/env node
// xcp-sentinel: one CLI for the bundle. Each subcommand lives in its own module; this file only routes.
import { ConfigError } from '../core/config/load.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './demo/paths.js';
import { HelpRequested, UsageError } from './usage.js';

const USAGE = `Usage: xcp-sentinel <command> [options]

Commands:
  exporter --config F        serve xcp_* metrics for the configured pools on /metrics and /health
  recovery-hook --config F   receive Alertmanager webhooks and Masakari notifications, and recover
  simulate [options]         run a simulated XCP-ng pool on loopback (see: xcp-sentinel simulate --help)
  simulate <fault> ...       inject a fault into a running simulator (fail-host, crash-vm, kill-toolstack, ...)
  confirm-fenced UUID --host-uuid U --url URL   tell a waiting host recovery that its host is off
  emergency-shutdown --pool P [--host H]   power lost: suspend the VMs and halt the hosts (master last)
  emergency-resume --pool P [--host H]     power back: power the hosts on and resume the VMs
  demo                       run the whole bundle on a simulated pool
  rules generate [--values F] [--out F]   generate the Prometheus alerting rules (your values over the defaults)
  grafana build [--out DIR]  write the Grafana dashboards
  check-config --config F    validate a configuration file as the daemons do and exit (0 valid, 2 invalid)
  --version                  print the version

Every command answers --help.
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'check-config':
        return await (await import('./check-config.js')).checkConfigCommand(rest);
      case 'simulate':
        return await (await import('./simulate.js')).simulateCommand(rest);
      case 'demo':
        return await (await import('./demo.js')).demoCommand(rest);
      case 'exporter':
        return await (await import('./exporter.js')).exporterCommand(rest);
      case 'recovery-hook':
        return await (await import('./recovery-hook.js')).recoveryHookCommand(rest);
      case 'confirm-fenced':
        return await (await import('./confirm-fenced.js')).confirmFencedCommand(rest);
      case 'emergency-shutdown':
        return await (await import('./emergency.js')).emergencyShutdownCommand(rest);
      case 'emergency-resume':
        return await (await import('./emergency.js')).emergencyResumeCommand(rest);
      case 'rules':
        return await (await import('./tools.js')).rulesCommand(rest);
      case 'grafana':
        return await (await import('./tools.js')).grafanaCommand(rest);
      case '-V':
      case '--version':
        process.stdout.write(`xcp-sentinel ${(JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version}\n`);
        return 0;
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(USAGE);
        return command ? 0 : 1;
      default:
        process.stderr.write(`xcp-sentinel: unknown command "${command}"\n\n${USAGE}`);
        return 1;
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n');
      return err.exitCode;
    }
    if (err instanceof HelpRequested) {
      process.stdout.write(err.usage);
      return 0;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`xcp-sentinel ${command}: ${err.message} (see: xcp-sentinel ${command} --help)\n`);
      return 1;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`xcp-sentinel: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
