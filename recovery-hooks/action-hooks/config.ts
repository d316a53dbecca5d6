// The `recovery_hook.action_hooks:` list: HTTP hooks around recovery actions, after Xen Orchestra's web-hooks plugin.
// YAML keys are snake_case; the parsed value is camelCase with durations in milliseconds. The token and the CA file
// are read at load time, so a bad path fails at start with the key that names it.
import { resolveTlsClient, tlsClientShape } from '../../core/config/pool.js';
import { type Ctx, type Path, type Schema, type SchemaContext, bool, list, num, obj, oneOf, report, url, withDefault } from '../../core/config/schema.js';
import { type Secret, readSecret, secretKeys } from '../../core/config/secret.js';
import type { TlsOptions } from '../../core/http/client.js';

/** The recovery actions a hook can be bound to: every action the workflows take (TaskContext.act). */
export const ACTION_METHODS = [
  'host.fence',
  'host.disable',
  'vm.power_state_reset',
  'vm.start',
  'vm.hard_reboot',
  'toolstack.restart',
  // The emergency shutdown and its resume (workflows/emergency*.ts).
  'vm.suspend',
  'vm.unpause',
  'vm.clean_shutdown',
  'vm.hard_shutdown',
  'vm.resume',
  'host.shutdown',
  'host.power_on',
  'host.enable',
  // The pool master failover (workflows/master.ts).
  'pool.emergency_transition_to_master',
  'pool.recover_slaves',
  'pool.emergency_reset_master',
] as const;
export type ActionMethod = (typeof ACTION_METHODS)[number];
/** A hook's `methods` entry: one action, or `*` for every action. */
export type MethodPattern = ActionMethod | '*';

export const HOOK_TYPES = ['pre', 'post', 'pre/post'] as const;
export type HookType = (typeof HOOK_TYPES)[number];

export interface ActionHookConfig {
  /** http(s) URL, without credentials (use `token`). */
  url: string;
  methods: MethodPattern[];
  type: HookType;
  /** A pre hook that must answer 2xx before the action runs; anything else vetoes the action. */
  waitForResponse: boolean;
  /** Deadline of one attempt. */
  timeoutMs: number;
  /** Further attempts after a transport error, a timeout or a 5xx (a 4xx is an answer, never retried). */
  retries: number;
  retryDelayMs: number;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: Secret;
  tls: TlsOptions;
}

const PATTERNS: readonly MethodPattern[] = [...ACTION_METHODS, '*'];

// Names an operator may bring from XO's API (vm.restart, host.restart_agent, …) or spell in another case.
const XO_NAMES: Record<string, ActionMethod> = {
  'vm.restart': 'vm.hard_reboot',
  'vm.reset': 'vm.power_state_reset',
  'host.restart_agent': 'toolstack.restart',
  'host.restartagent': 'toolstack.restart',
};

function suggestion(name: string): MethodPattern | undefined {
  const folded = name.toLowerCase().replace(/[-\s]/g, '_');
  return XO_NAMES[folded] ?? PATTERNS.find((m) => m.replace(/_/g, '') === folded.replace(/_/g, ''));
}

const methodPattern: Schema<MethodPattern> = {
  describe: `one of ${PATTERNS.join(', ')}`,
  parse(v, path, ctx) {
    if (typeof v !== 'string') return report(ctx, path, `expected an action name (${PATTERNS.join(', ')})`);
    if ((PATTERNS as readonly string[]).includes(v)) return v as MethodPattern;
    const near = suggestion(v);
    return report(ctx, path, `unknown action ${JSON.stringify(v)}${near ? ` (did you mean "${near}"?)` : ''}; known actions: ${PATTERNS.join(', ')}`);
  },
};

const hookShape = obj(
  {
    url: url(),
    methods: list(methodPattern, { minItems: 1 }),
    type: oneOf(HOOK_TYPES),
    wait_for_response: withDefault(bool(), false),
    timeout_seconds: withDefault(num({ min: 0.01, max: 600 }), 10),
    retries: withDefault(num({ min: 0, max: 10, integer: true }), 0),
    retry_delay_seconds: withDefault(num({ min: 0, max: 600 }), 1),
    ...secretKeys('token'),
    tls: withDefault(tlsClientShape, { insecure: false, ca_file: undefined, fingerprint: undefined }),
  },
  (hook, path, ctx) => {
    if (hook.wait_for_response && hook.type === 'post')
      report(ctx, [...path, 'wait_for_response'], 'applies to pre hooks only (type is post; use pre or pre/post): a post hook never blocks recovery');
  },
);

function parseHook(value: unknown, path: Path, ctx: Ctx, sc: SchemaContext): ActionHookConfig | undefined {
  const raw = hookShape.parse(value, path, ctx);
  if (!raw) return undefined;
  const before = ctx.problems.length;
  const token = readSecret(raw as unknown as Record<string, unknown>, 'token', path, ctx, { required: false, baseDir: sc.baseDir, env: sc.env });
  const tls = resolveTlsClient(raw.tls, [...path, 'tls'], ctx, sc.baseDir);
  if (ctx.problems.length > before) return undefined;
  return {
    url: raw.url,
    methods: [...new Set(raw.methods)],
    type: raw.type,
    waitForResponse: raw.wait_for_response,
    timeoutMs: raw.timeout_seconds * 1000,
    retries: raw.retries,
    retryDelayMs: raw.retry_delay_seconds * 1000,
    token,
    tls,
  };
}

/** The `action_hooks:` list. Absent, it is empty: no hook is called. */
export function actionHooksSchema(sc: SchemaContext): Schema<ActionHookConfig[]> {
  const item: Schema<ActionHookConfig> = { describe: 'an action hook (url, methods, type…)', parse: (v, path, ctx) => parseHook(v, path, ctx, sc) };
  return withDefault(list(item), []);
}
