// The `recovery_hook:` section of the config. YAML keys are snake_case; the parsed value is camelCase with durations
// in milliseconds. Secrets (API tokens, the BMC password) are read at load time and kept as Secret.
import { hostname } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { type ActionHookConfig, actionHooksSchema } from './action-hooks/config.js';
import { type EmergencyConfig, emergencyShape, emergencyTaskDefaults, resolveEmergency } from './emergency-config.js';
import { FORWARD_TASKS, type ForwardConfig, forwardShape, resolveForward } from './forward/config.js';
import { type NotifiersConfig, notifiersSchema } from './notifiers/config.js';
import { GROUP_COMMIT_DEFAULTS, type GroupCommitLimits } from './intake/recorder.js';
import { type ListenAddress, listenAddress } from '../core/config/listen.js';
import { POOL_NAME, type PoolConfig } from '../core/config/pool.js';
import {
  type Ctx,
  type Path,
  type Problem,
  type Schema,
  type SchemaContext,
  bool,
  dict,
  list,
  num,
  obj,
  oneOf,
  onlyWhenGiven,
  optional,
  report,
  str,
  withDefault,
} from '../core/config/schema.js';
import { type Secret, readSecret, secretKeys } from '../core/config/secret.js';
import type { MasakariNotificationType } from './store/types.js';
import { EMERGENCY_RESUME_TASKS, EMERGENCY_SHUTDOWN_TASKS, MASTER_TASKS, TASKS_BY_TYPE } from './workflows/names.js';
import { taskListProblems } from './workflows/signatures.js';
import { type UiConfig, uiShape } from './ui/config.js';

/** What the recovery hook reads of the bundle's config (cli/config/bundle.ts composes the whole). */
export interface RecoveryHookBundleConfig {
  pools: PoolConfig[];
  recovery_hook: RecoveryHookConfig;
}

export type PoolMode = 'auto' | 'dry-run' | 'notify-only' | 'forward';

/** What a token may do (`recovery_hook.tokens[].scopes`); without `scopes`, DEFAULT_SCOPES. */
export const TOKEN_SCOPES = ['alertmanager', 'notifications:read', 'notifications:write', 'fence:assert', 'fence:confirm', 'emergency:shutdown'] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];
export const DEFAULT_SCOPES: readonly TokenScope[] = ['alertmanager', 'notifications:read'];

export interface ApiToken {
  name: string;
  token: Secret;
  scopes: TokenScope[];
}

export interface FencingConfig {
  user: string;
  password: Secret;
  /** Environment variable the command reads the password from (ipmitool -E reads IPMI_PASSWORD). */
  passwordEnv: string;
  /** Command lines as argument lists; `{bmc}`, `{user}`, `{host}` are replaced per argument. No shell. */
  powerOffCommand: string[];
  powerStatusCommand: string[];
  /** Only the resume after an emergency shutdown powers hosts on. */
  powerOnCommand?: string[];
  /** BMC address per host name. */
  bmc: Record<string, string>;
  commandTimeoutMs: number;
  /** How long to wait for the BMC to report power off after the power-off command. */
  confirmTimeoutMs: number;
  /** Blast radius: at most this many power-offs per pool within fenceWindowMs (across every receiver of the store). */
  maxHostsFenced: number;
  fenceWindowMs: number;
  /** No fence while more than this share of the pool's hosts are not live in XAPI (a partition is likelier). */
  maxDownShare: number;
}

export interface SshConfig {
  user: string;
  port: number;
  privateKeyFile: string;
  /** OpenSSH known_hosts file; or `fingerprints` (host name → SHA256:base64). One of the two is required. */
  knownHostsFile?: string;
  fingerprints: Record<string, string>;
  restartCommand: string;
  commandTimeoutMs: number;
}

/** `recovery_hook.pools.<pool>.master_failover`: promote a member when the pool master is lost (workflows/master.ts). */
export interface MasterFailoverConfig {
  /** The members' local superuser for session.slave_local_login_with_password. */
  username: string;
  password: Secret;
  /** Members to promote first (host names or uuids, resolved through XAPI's host records); then the others. */
  candidates: string[];
  /** How long the promoted member may take to answer as master (xapi's 10 s fuse plus its start). */
  promoteTimeoutMs: number;
  /** How long recovered members may take to answer as members of the new master. */
  membersTimeoutMs: number;
  /** How often every host is asked whether a second master appeared (master-watch.ts). */
  watchIntervalMs: number;
}

export interface PoolRecoveryConfig {
  mode: PoolMode;
  /** Hosts of the pool known without XAPI (the rest come from the pool's XAPI inventory, xapi-hosts.ts). */
  hosts: { name: string; uuid: string; address?: string }[];
  fencing?: FencingConfig;
  masterFailover?: MasterFailoverConfig;
  ssh?: SshConfig;
  /** The remote Instance-HA API a `forward` pool's notifications go to (forward/config.ts). */
  forward?: ForwardConfig;
}

export interface TaskSettings {
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
}

/** The shared store of several receivers (`store.postgres`). */
export interface PostgresStoreConfig {
  /** postgres://user:password@host:port/database?sslmode=… (a secret: it holds the password). */
  url: Secret;
  poolSize: number;
  connectTimeoutMs: number;
  /** Deadline of each statement, so a hung database answers 503 instead of holding requests. */
  statementTimeoutMs: number;
}

export interface RecoveryHookConfig {
  listen: ListenAddress;
  /** The embedded SQLite store's file (one receiver per file); unused when `postgres` is set. */
  storePath: string;
  /** Run the SQLite store in a worker thread (off the event loop), or on the event loop. */
  storeWorkerThread: boolean;
  postgres?: PostgresStoreConfig;
  /** Webhook deliveries committed together (one transaction, one fsync) at most, and waiting for a commit at most. */
  groupCommit: Omit<GroupCommitLimits, 'commitsInFlight'>;
  /** Names this receiver in leases and logs; unique among the receivers sharing a store. */
  receiverId: string;
  /** How long a receiver's claim on a host's workflow (or a notifier channel) lasts without renewal. */
  leaseMs: number;
  alertmanagerPath: string;
  maxBodyBytes: number;
  tokens: ApiToken[];
  dedupWindowMs: number;
  retry: { attempts: number; intervalMs: number };
  expireAfterMs: number;
  /** Ended notifications (with their tasks, moves, forwards), delivered messages and stale leases older than this are purged. */
  retentionMs: number;
  maxConcurrentWorkflows: number;
  tickMs: number;
  shutdownGraceMs: number;
  notifiers: NotifiersConfig;
  /** Web hooks around recovery actions (like Xen Orchestra's web-hooks plugin). */
  actionHooks: ActionHookConfig[];
  workflows: Record<MasakariNotificationType, string[]>;
  taskDefaults: TaskSettings;
  tasks: Record<string, TaskSettings>;
  hostFailure: { restartUnprotected: boolean; parallelStarts: number; startTimeoutMs: number };
  instanceFailure: { heartbeatTimeoutMs: number; confirmTimeoutMs: number };
  processFailure: { confirmTimeoutMs: number };
  /** The emergency shutdown on power loss and its resume (emergency-config.ts). */
  emergency: EmergencyConfig;
  pools: Record<string, PoolRecoveryConfig>;
  /** The notifications web UI under /ui/. */
  ui: UiConfig;
}

const seconds = (opts: { min?: number; max?: number } = {}) => num({ min: opts.min ?? 0, max: opts.max ?? 7 * 86400 });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SSH_FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}=?$/;
const HTTP_PATH = /^\/[A-Za-z0-9._~/-]*$/;

const taskSettingsShape = obj({
  timeout_seconds: optional(seconds({ min: 0.01 })),
  retries: optional(num({ min: 0, max: 100, integer: true })),
  retry_delay_seconds: optional(seconds()),
});

const fencingShape = obj({
  user: str({ minLength: 1 }),
  ...secretKeys('password'),
  password_env_name: withDefault(str({ pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, patternHint: 'an environment variable name' }), 'IPMI_PASSWORD'),
  power_off_command: withDefault(str({ minLength: 1 }), 'ipmitool -I lanplus -H {bmc} -U {user} -E chassis power off'),
  power_status_command: withDefault(str({ minLength: 1 }), 'ipmitool -I lanplus -H {bmc} -U {user} -E chassis power status'),
  // Used by the resume after an emergency shutdown only (never by a recovery).
  power_on_command: withDefault(str({ minLength: 1 }), 'ipmitool -I lanplus -H {bmc} -U {user} -E chassis power on'),
  bmc: dict(str({ minLength: 1 })),
  command_timeout_seconds: withDefault(seconds({ min: 1, max: 600 }), 30),
  confirm_timeout_seconds: withDefault(seconds({ min: 0, max: 600 }), 60),
  max_hosts_fenced: withDefault(num({ min: 1, max: 1000, integer: true }), 1),
  fence_window_seconds: withDefault(seconds({ min: 1, max: 7 * 86400 }), 600),
  max_down_share: withDefault(num({ min: 0, max: 1 }), 0.5),
});

const sshShape = obj({
  user: withDefault(str({ minLength: 1 }), 'root'),
  port: withDefault(num({ min: 1, max: 65535, integer: true }), 22),
  private_key_file: str({ minLength: 1 }),
  known_hosts_file: optional(str({ minLength: 1 })),
  fingerprints: withDefault(dict(str({ pattern: SSH_FINGERPRINT, patternHint: 'an OpenSSH fingerprint like SHA256:base64' })), {}),
  restart_command: withDefault(str({ minLength: 1 }), 'xe-toolstack-restart'),
  command_timeout_seconds: withDefault(seconds({ min: 1, max: 3600 }), 300),
});

const masterFailoverShape = obj({
  username: withDefault(str({ minLength: 1 }), 'root'),
  ...secretKeys('password'),
  candidates: withDefault(list(str({ minLength: 1 })), []),
  promote_timeout_seconds: withDefault(seconds({ min: 1, max: 3600 }), 180),
  members_timeout_seconds: withDefault(seconds({ min: 1, max: 3600 }), 120),
  watch_interval_seconds: withDefault(seconds({ min: 1, max: 3600 }), 30),
});

const poolShape = obj({
  mode: withDefault(oneOf(['auto', 'dry-run', 'notify-only', 'forward'] as const), 'auto'),
  hosts: withDefault(
    list(obj({ name: str({ minLength: 1 }), uuid: str({ pattern: UUID, patternHint: 'a UUID' }), address: optional(str({ minLength: 1 })) })),
    [],
  ),
  fencing: optional(fencingShape),
  master_failover: onlyWhenGiven(masterFailoverShape),
  ssh: optional(sshShape),
  forward: optional(forwardShape),
});

function workflowList(type: MasakariNotificationType): Schema<string[]> {
  const known = TASKS_BY_TYPE[type];
  return withDefault(list(oneOf(known), { minItems: 1 }), [...known]);
}

const shape = obj({
  // 15868 is Masakari's API port; the receiver answers the same API.
  listen: withDefault(listenAddress(), { host: '127.0.0.1', port: 15868 }),
  store_path: withDefault(str({ minLength: 1 }), '/var/lib/xcp-sentinel/recovery-hook.sqlite'),
  store_worker_thread: withDefault(bool(), false),
  store: onlyWhenGiven(
    obj({
      postgres: onlyWhenGiven(
        obj({
          ...secretKeys('url'),
          pool_size: withDefault(num({ min: 1, max: 100, integer: true }), 10),
          connect_timeout_seconds: withDefault(seconds({ min: 0.1, max: 600 }), 10),
          statement_timeout_seconds: withDefault(seconds({ min: 0.1, max: 600 }), 15),
        }),
      ),
    }),
  ),
  group_commit: withDefault(
    obj({
      max_deliveries: withDefault(num({ min: 1, max: 10_000, integer: true }), GROUP_COMMIT_DEFAULTS.maxDeliveries),
      max_waiting: withDefault(num({ min: 1, max: 100_000, integer: true }), GROUP_COMMIT_DEFAULTS.maxWaiting),
    }),
    { max_deliveries: GROUP_COMMIT_DEFAULTS.maxDeliveries, max_waiting: GROUP_COMMIT_DEFAULTS.maxWaiting },
  ),
  receiver_id: withDefault(str({ pattern: /^[A-Za-z0-9._-]{1,64}$/, patternHint: 'letters, digits, ".", "_" or "-"' }), () =>
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .slice(0, 64),
  ),
  lease_seconds: withDefault(seconds({ min: 1, max: 3600 }), 30),
  alertmanager_path: withDefault(str({ pattern: HTTP_PATH, patternHint: 'a URL path like /alertmanager' }), '/alertmanager'),
  max_body_bytes: withDefault(num({ min: 1024, max: 64 * 1024 * 1024, integer: true }), 1024 * 1024),
  tokens: withDefault(list(obj({ name: str({ minLength: 1 }), ...secretKeys('token'), scopes: optional(list(oneOf(TOKEN_SCOPES), { minItems: 1 })) })), []),
  dedup_window_seconds: withDefault(seconds(), 180),
  retry: withDefault(obj({ attempts: withDefault(num({ min: 0, max: 100, integer: true }), 1), interval_seconds: withDefault(seconds(), 120) }), {
    attempts: 1,
    interval_seconds: 120,
  }),
  expire_after_seconds: withDefault(seconds({ min: 1 }), 86400),
  retention_days: withDefault(num({ min: 1, max: 36500 }), 90),
  max_concurrent_workflows: withDefault(num({ min: 1, max: 256, integer: true }), 4),
  tick_seconds: withDefault(seconds({ min: 0.01, max: 600 }), 5),
  shutdown_grace_seconds: withDefault(seconds({ max: 3600 }), 30),
  // Parsed in resolveConfig with the config file's folder (secrets and templates are files).
  notifiers: optional<unknown>({ describe: 'the notifiers (email, XMPP, webhooks)', parse: (v) => v }),
  action_hooks: optional<unknown>({ describe: 'the web hooks around recovery actions', parse: (v) => v }),
  workflows: withDefault(
    obj({ host: workflowList('COMPUTE_HOST'), instance: workflowList('COMPUTE_INSTANCE'), process: workflowList('COMPUTE_PROCESS') }),
    () => ({ host: [...TASKS_BY_TYPE.COMPUTE_HOST], instance: [...TASKS_BY_TYPE.COMPUTE_INSTANCE], process: [...TASKS_BY_TYPE.COMPUTE_PROCESS] }),
  ),
  task_defaults: withDefault(
    obj({
      timeout_seconds: withDefault(seconds({ min: 0.01 }), 300),
      retries: withDefault(num({ min: 0, max: 100, integer: true }), 2),
      retry_delay_seconds: withDefault(seconds(), 10),
    }),
    { timeout_seconds: 300, retries: 2, retry_delay_seconds: 10 },
  ),
  tasks: withDefault(dict(taskSettingsShape), {}),
  host_failure: withDefault(
    obj({
      restart_unprotected: withDefault(bool(), true),
      // XAPI's own HA starts every VM of an `order` group at once; 8 at a time restarts a 200-VM host in seconds
      // without a boot storm (Masakari's 3 threads are sized for Nova evacuations, which copy far more).
      parallel_starts: withDefault(num({ min: 1, max: 64, integer: true }), 8),
      start_timeout_seconds: withDefault(seconds({ min: 1 }), 300),
    }),
    { restart_unprotected: true, parallel_starts: 8, start_timeout_seconds: 300 },
  ),
  instance_failure: withDefault(
    obj({ heartbeat_timeout_seconds: withDefault(seconds({ min: 1 }), 600), confirm_timeout_seconds: withDefault(seconds({ min: 0 }), 180) }),
    { heartbeat_timeout_seconds: 600, confirm_timeout_seconds: 180 },
  ),
  process_failure: withDefault(obj({ confirm_timeout_seconds: withDefault(seconds({ min: 0 }), 120) }), { confirm_timeout_seconds: 120 }),
  emergency: withDefault(emergencyShape, () => emergencyShape.parse({}, [], { problems: [] })!),
  pools: withDefault(dict(poolShape), {}),
  ui: uiShape,
});

type Raw = NonNullable<ReturnType<typeof shape.parse>>;

/** Split a command line on whitespace (no shell: quoting is not interpreted, so nothing is ever evaluated). */
function argv(command: string): string[] {
  return command.trim().split(/\s+/);
}

function filePath(file: string, baseDir: string): string {
  return isAbsolute(file) ? file : resolve(baseDir, file);
}

function resolvePool(raw: Raw['pools'][string], path: Path, ctx: Ctx, sc: SchemaContext): PoolRecoveryConfig {
  const pool: PoolRecoveryConfig = { mode: raw.mode, hosts: raw.hosts };
  if (raw.mode === 'forward' && !raw.forward)
    report(ctx, [...path, 'forward'], 'is required with mode: forward (the url and token of the Instance-HA API to forward to)');
  if (raw.forward) pool.forward = resolveForward(raw.forward, [...path, 'forward'], ctx, sc);
  if (raw.fencing) {
    const f = raw.fencing;
    const password = readSecret(f as unknown as Record<string, unknown>, 'password', [...path, 'fencing'], ctx, {
      required: true,
      baseDir: sc.baseDir,
      env: sc.env,
    });
    if (!argv(f.power_off_command).includes('{bmc}')) report(ctx, [...path, 'fencing', 'power_off_command'], 'must contain {bmc}');
    if (!argv(f.power_status_command).includes('{bmc}')) report(ctx, [...path, 'fencing', 'power_status_command'], 'must contain {bmc}');
    if (!argv(f.power_on_command).includes('{bmc}')) report(ctx, [...path, 'fencing', 'power_on_command'], 'must contain {bmc}');
    if (password)
      pool.fencing = {
        user: f.user,
        password,
        passwordEnv: f.password_env_name,
        powerOffCommand: argv(f.power_off_command),
        powerStatusCommand: argv(f.power_status_command),
        powerOnCommand: argv(f.power_on_command),
        bmc: f.bmc,
        commandTimeoutMs: f.command_timeout_seconds * 1000,
        confirmTimeoutMs: f.confirm_timeout_seconds * 1000,
        maxHostsFenced: f.max_hosts_fenced,
        fenceWindowMs: f.fence_window_seconds * 1000,
        maxDownShare: f.max_down_share,
      };
  }
  if (raw.master_failover) {
    const m = raw.master_failover;
    const password = readSecret(m as unknown as Record<string, unknown>, 'password', [...path, 'master_failover'], ctx, {
      required: true,
      baseDir: sc.baseDir,
      env: sc.env,
    });
    const seen = new Set<string>();
    m.candidates.forEach((c, i) => {
      if (seen.has(c.toLowerCase())) report(ctx, [...path, 'master_failover', 'candidates', i], `"${c}" is listed twice`);
      seen.add(c.toLowerCase());
    });
    if (password)
      pool.masterFailover = {
        username: m.username,
        password,
        candidates: m.candidates,
        promoteTimeoutMs: m.promote_timeout_seconds * 1000,
        membersTimeoutMs: m.members_timeout_seconds * 1000,
        watchIntervalMs: m.watch_interval_seconds * 1000,
      };
  }
  if (raw.ssh) {
    const s = raw.ssh;
    if (!s.known_hosts_file && Object.keys(s.fingerprints).length === 0)
      report(ctx, [...path, 'ssh'], 'needs known_hosts_file or fingerprints: host keys are always pinned');
    pool.ssh = {
      user: s.user,
      port: s.port,
      privateKeyFile: filePath(s.private_key_file, sc.baseDir),
      knownHostsFile: s.known_hosts_file ? filePath(s.known_hosts_file, sc.baseDir) : undefined,
      fingerprints: s.fingerprints,
      restartCommand: s.restart_command,
      commandTimeoutMs: s.command_timeout_seconds * 1000,
    };
  }
  return pool;
}

function resolveConfig(raw: Raw, path: Path, ctx: Ctx, sc: SchemaContext): RecoveryHookConfig {
  const tokens: ApiToken[] = [];
  const names = new Set<string>();
  raw.tokens.forEach((t, i) => {
    if (names.has(t.name)) report(ctx, [...path, 'tokens', i, 'name'], `duplicate token name "${t.name}"`);
    names.add(t.name);
    const token = readSecret(t as unknown as Record<string, unknown>, 'token', [...path, 'tokens', i], ctx, {
      required: true,
      baseDir: sc.baseDir,
      env: sc.env,
    });
    if (token) tokens.push({ name: t.name, token, scopes: [...new Set(t.scopes ?? DEFAULT_SCOPES)] });
  });
  const pools: Record<string, PoolRecoveryConfig> = {};
  for (const [name, p] of Object.entries(raw.pools)) {
    if (!POOL_NAME.test(name)) report(ctx, [...path, 'pools', name], 'is not a valid pool name');
    pools[name] = resolvePool(p, [...path, 'pools', name], ctx, sc);
  }
  // Each task's inputs come from earlier tasks (workflows/signatures.ts): e.g. no VM is reset or started before the
  // fence, the host is fenced only after it was confirmed down and what ran on it was recorded.
  for (const [key, type] of [
    ['host', 'COMPUTE_HOST'],
    ['instance', 'COMPUTE_INSTANCE'],
    ['process', 'COMPUTE_PROCESS'],
  ] as const)
    for (const problem of taskListProblems(type, raw.workflows[key])) report(ctx, [...path, 'workflows', key], problem);
  const known = new Set([...Object.values(TASKS_BY_TYPE).flat(), ...MASTER_TASKS, ...FORWARD_TASKS, ...EMERGENCY_SHUTDOWN_TASKS, ...EMERGENCY_RESUME_TASKS]);
  for (const name of Object.keys(raw.tasks)) if (!known.has(name)) report(ctx, [...path, 'tasks', name], `unknown task; known tasks: ${[...known].join(', ')}`);
  const d = raw.task_defaults;
  const emergency = resolveEmergency(raw.emergency, [...path, 'emergency'], ctx);
  const taskDefaults = { timeoutMs: d.timeout_seconds * 1000, retries: d.retries, retryDelayMs: d.retry_delay_seconds * 1000 };
  const tasks: Record<string, TaskSettings> = Object.fromEntries(
    Object.entries(raw.tasks).map(([name, t]) => [
      name,
      {
        timeoutMs: (t.timeout_seconds ?? d.timeout_seconds) * 1000,
        retries: t.retries ?? d.retries,
        retryDelayMs: (t.retry_delay_seconds ?? d.retry_delay_seconds) * 1000,
      },
    ]),
  );
  // A wait longer than its task's timeout would end in a bare task timeout instead of the operator wait it promises.
  for (const [name, p] of Object.entries(pools)) {
    const waits: [string, string, number | undefined][] = [
      ['promote_timeout_seconds', 'promote_member', p.masterFailover?.promoteTimeoutMs],
      ['members_timeout_seconds', 'recover_members', p.masterFailover?.membersTimeoutMs],
      ['members_timeout_seconds', 'verify_vm_placement', p.masterFailover?.membersTimeoutMs],
    ];
    for (const [key, task, ms] of waits) {
      const taskMs = tasks[task]?.timeoutMs ?? d.timeout_seconds * 1000;
      if (ms !== undefined && ms >= taskMs)
        report(
          ctx,
          [...path, 'pools', name, 'master_failover', key],
          `must be below the ${task} task's timeout (${taskMs / 1000} s: tasks.${task}.timeout_seconds or task_defaults.timeout_seconds)`,
        );
    }
  }
  return {
    listen: raw.listen,
    storePath: raw.store_path === ':memory:' ? raw.store_path : filePath(raw.store_path, sc.baseDir),
    storeWorkerThread: raw.store_worker_thread,
    postgres: resolvePostgres(raw.store?.postgres, [...path, 'store', 'postgres'], ctx, sc),
    groupCommit: { maxDeliveries: raw.group_commit.max_deliveries, maxWaiting: raw.group_commit.max_waiting },
    receiverId: raw.receiver_id,
    leaseMs: raw.lease_seconds * 1000,
    alertmanagerPath: raw.alertmanager_path,
    maxBodyBytes: raw.max_body_bytes,
    tokens,
    dedupWindowMs: raw.dedup_window_seconds * 1000,
    retry: { attempts: raw.retry.attempts, intervalMs: raw.retry.interval_seconds * 1000 },
    expireAfterMs: raw.expire_after_seconds * 1000,
    retentionMs: raw.retention_days * 86_400_000,
    maxConcurrentWorkflows: raw.max_concurrent_workflows,
    tickMs: raw.tick_seconds * 1000,
    shutdownGraceMs: raw.shutdown_grace_seconds * 1000,
    notifiers: resolveNotifiers(raw.notifiers, path, ctx, sc),
    actionHooks: resolveSection(actionHooksSchema(sc), raw.action_hooks, [...path, 'action_hooks'], ctx),
    workflows: { COMPUTE_HOST: raw.workflows.host, COMPUTE_INSTANCE: raw.workflows.instance, COMPUTE_PROCESS: raw.workflows.process },
    taskDefaults,
    tasks: { ...emergencyTaskDefaults(emergency, taskDefaults), ...tasks },
    hostFailure: {
      restartUnprotected: raw.host_failure.restart_unprotected,
      parallelStarts: raw.host_failure.parallel_starts,
      startTimeoutMs: raw.host_failure.start_timeout_seconds * 1000,
    },
    instanceFailure: {
      heartbeatTimeoutMs: raw.instance_failure.heartbeat_timeout_seconds * 1000,
      confirmTimeoutMs: raw.instance_failure.confirm_timeout_seconds * 1000,
    },
    processFailure: { confirmTimeoutMs: raw.process_failure.confirm_timeout_seconds * 1000 },
    emergency,
    pools,
    ui: raw.ui,
  };
}

function resolvePostgres(raw: NonNullable<Raw['store']>['postgres'] | undefined, path: Path, ctx: Ctx, sc: SchemaContext): PostgresStoreConfig | undefined {
  if (!raw) return undefined;
  const url = readSecret(raw as unknown as Record<string, unknown>, 'url', path, ctx, { required: true, baseDir: sc.baseDir, env: sc.env });
  if (!url) return undefined;
  if (!/^postgres(ql)?:\/\//.test(url.reveal())) report(ctx, [...path, 'url'], 'must be a postgres:// or postgresql:// connection URL');
  return {
    url,
    poolSize: raw.pool_size,
    connectTimeoutMs: raw.connect_timeout_seconds * 1000,
    statementTimeoutMs: raw.statement_timeout_seconds * 1000,
  };
}

function resolveNotifiers(raw: unknown, path: Path, ctx: Ctx, sc: SchemaContext): NotifiersConfig {
  return resolveSection(notifiersSchema(sc), raw, [...path, 'notifiers'], ctx);
}

/** A subsection parsed with the config file's folder (it reads files): its default when absent. */
function resolveSection<T>(schema: Schema<T>, raw: unknown, path: Path, ctx: Ctx): T {
  const parsed = raw === undefined ? undefined : schema.parse(raw, path, ctx);
  return parsed ?? schema.defaultValue!();
}

export function recoveryHookSchema(sc: SchemaContext): Schema<RecoveryHookConfig> {
  const schema: Schema<RecoveryHookConfig> = {
    describe: 'the recovery_hook section',
    parse(value, path, ctx) {
      const raw = shape.parse(value, path, ctx);
      if (!raw) return undefined;
      const before = ctx.problems.length;
      const config = resolveConfig(raw, path, ctx, sc);
      return ctx.problems.length > before ? undefined : config;
    },
  };
  const ctx = { problems: [] as Problem[] };
  // Every key has a default, so an absent section is the defaults (validated once here).
  return withDefault(schema, () => schema.parse({}, ['recovery_hook'], ctx)!);
}

/**
 * Problems the section alone cannot see: a `recovery_hook.pools` key that names no configured pool, and a receiver
 * started without any API token. The bundle check (or startRecoveryHook) reports them.
 */
export function crossCheckRecoveryHook(config: RecoveryHookConfig, poolNames: string[]): Problem[] {
  const problems: Problem[] = [];
  for (const name of Object.keys(config.pools))
    if (!poolNames.includes(name)) problems.push({ path: `recovery_hook.pools.${name}`, message: `names no configured pool; pools: ${poolNames.join(', ')}` });
  if (config.tokens.length === 0)
    problems.push({
      path: 'recovery_hook.tokens',
      message: 'configure at least one API token (token, token_file or token_env): the receiver never runs without authentication',
    });
  return problems;
}
