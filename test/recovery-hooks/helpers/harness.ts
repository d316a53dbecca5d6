// Test harness: a bundle config for the receiver (parsed through the real loader), and a started receiver on a
// loopback port with helpers to call it.
import { join } from 'node:path';
import { memoryLogger } from '../../../core/log.js';
import { type RecoveryHookOptions, type RunningRecoveryHook, startRecoveryHook } from '../../../recovery-hooks/main.js';
import { type BundleConfig, parseConfig } from '../../../cli/config/bundle.js';
import { tempDir as makeTempDir } from '../../helpers/tmp.js';

export const TOKEN = 'test-token-0123456789';
/** The test token may do everything (tests of the scopes configure tokens of their own). */
export const ALL_SCOPES = ['alertmanager', 'notifications:read', 'notifications:write', 'fence:assert', 'fence:confirm', 'emergency:shutdown'];
export const HOST_1 = { name: 'host-1', uuid: '00000000-0000-4000-8000-000000000001' };
export const HOST_2 = { name: 'host-2', uuid: '00000000-0000-4000-8000-000000000002' };
export const HOST_3 = { name: 'host-3', uuid: '00000000-0000-4000-8000-000000000003' };

export function tempDir(): string {
  return makeTempDir('xcp-rh-');
}

/** YAML of the recovery_hook section, indented under it; `extra` lines are appended as given (2-space indented). */
export function testConfig(dir: string, extra = ''): BundleConfig {
  const yaml = `
pools:
  - name: pool-a
    url: https://pool-a.example
    username: root
    password: not-used
recovery_hook:
  listen: 127.0.0.1:0
  store_path: ${join(dir, 'recovery.sqlite')}
  tokens:
    - name: test
      token: ${TOKEN}
      scopes: [${ALL_SCOPES.join(', ')}]
  tick_seconds: 0.02
  shutdown_grace_seconds: 2
  task_defaults: { timeout_seconds: 5, retries: 0, retry_delay_seconds: 0.01 }
  pools:
    pool-a:
      hosts:
        - { name: ${HOST_1.name}, uuid: ${HOST_1.uuid} }
        - { name: ${HOST_2.name}, uuid: ${HOST_2.uuid} }
        - { name: ${HOST_3.name}, uuid: ${HOST_3.uuid} }
${extra}`;
  return parseConfig(yaml, join(dir, 'config.yaml'));
}

export interface Hook extends RunningRecoveryHook {
  logger: ReturnType<typeof memoryLogger>;
  request(
    method: string,
    path: string,
    opts?: { body?: unknown; raw?: string; headers?: Record<string, string>; auth?: boolean },
  ): Promise<{ status: number; headers: Headers; json: any; text: string }>;
}

export async function startHook(config: BundleConfig, options: RecoveryHookOptions = {}): Promise<Hook> {
  const logger = memoryLogger('debug');
  const running = await startRecoveryHook(config, logger, { pollIntervalMs: 10, probeTimeoutMs: 200, ...options });
  return { ...running, logger, request: requestTo(running.url) };
}

/** HTTP requests to a receiver at `url` (in this process or another), as TOKEN unless told otherwise. */
export function requestTo(url: string): Hook['request'] {
  return async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.auth === false ? {} : { 'X-Auth-Token': TOKEN }), ...opts.headers };
    let body: string | undefined = opts.raw;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['Content-Type'] ??= 'application/json';
    }
    const res = await fetch(url + path, { method, headers, body });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, json, text };
  };
}
