// `xcp-sentinel recovery-hook`: open the store (schema migrated), start the engine (resuming unfinished work) and the
// HTTP intake. stop() stops the intake first, lets the running tasks finish (or hands them back to the store after
// the shutdown grace), then closes the store.
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../core/config/load.js';
import type { PoolConfig } from '../core/config/pool.js';
import type { Logger } from '../core/log.js';
import { SshClient } from '../core/ssh/index.js';
import { XapiClient } from '../core/xapi/client.js';
import { type RecoveryHookBundleConfig, crossCheckRecoveryHook } from './config.js';
import { ActionHooks, createActionHookCounter } from './action-hooks/index.js';
import { RecoveryEngine } from './engine/engine.js';
import { createRecoveryMetrics } from './engine/metrics.js';
import { type Forwarding, combineBuilders, forwardTaskSettings, startForwarding } from './forward/index.js';
import { type Notifiers, startNotifiers } from './notifiers/index.js';
import type { HostDirectory } from './hosts.js';
import { NotificationRecorder } from './intake/recorder.js';
import { MasterWatch } from './master-watch.js';
import { startRetention } from './retention.js';
import { createApp, listen } from './server.js';
import { registerUiInfo } from './ui/metrics.js';
import { XapiHostDirectory } from './xapi-hosts.js';
import { commitsInFlight, describeStore, openStore } from './store/open.js';
import { buildWorkflows } from './workflows/catalog.js';
import type { WorkflowDeps } from './workflows/deps.js';
import { storeEmergencyHistory } from './workflows/emergency-history.js';
import { CommandFencer } from './workflows/fence.js';
import type { Xapi } from './workflows/xapi.js';
import type { Fencer } from '../core/fencing.js';
import type { RemoteShell } from '../core/ssh/shell.js';

export interface RecoveryHookOptions {
  /** The XAPI client of a pool; defaults to core/xapi's XapiClient, one per pool, logged out at stop. */
  xapiFor?: (pool: PoolConfig) => Xapi;
  /** Defaults to each pool's hosts from XAPI plus the configured `hosts:`. */
  hosts?: HostDirectory;
  /** How often the default host directory reads the pools' inventories again (default 60 s). */
  hostRefreshMs?: number;
  /** Defaults to the ipmitool command fencer of `recovery_hook.pools.<name>.fencing`. */
  fencerFor?: (pool: string) => Fencer | undefined;
  /** Defaults to core/ssh's SshClient with the pinned host keys of `recovery_hook.pools.<name>.ssh`. */
  shellFor?: (pool: string) => RemoteShell | undefined;
  now?: () => number;
  pollIntervalMs?: number;
  probeTimeoutMs?: number;
}

export interface RunningRecoveryHook {
  url: string;
  stop(): Promise<void>;
}

export async function startRecoveryHook(config: RecoveryHookBundleConfig, logger: Logger, options: RecoveryHookOptions = {}): Promise<RunningRecoveryHook> {
  const rh = config.recovery_hook;
  const problems = crossCheckRecoveryHook(
    rh,
    config.pools.map((p) => p.name),
  );
  if (problems.length) throw new ConfigError('configuration', problems);
  const log = logger.child({ component: 'recovery-hook' });
  const now = options.now ?? Date.now;

  const store = await openStore(rh, log);
  // Unique per process: a restarted receiver is a new owner and waits for its predecessor's leases to expire.
  const owner = `${rh.receiverId}/${process.pid}/${randomBytes(3).toString('hex')}`;
  let notifiers: Notifiers | undefined;
  let forwarding: Forwarding | undefined;
  try {
    const metrics = createRecoveryMetrics(store);
    // Delivery workers drain the outbox; status changes enqueue their messages in the same transaction.
    // Messages link each notification's page of the web UI when its external URL is known.
    const links = { ...rh.notifiers.links, uiBaseUrl: rh.ui.enabled ? rh.ui.externalUrl : undefined };
    notifiers = await startNotifiers(store, { ...rh.notifiers, links }, log, metrics, { now, owner, leaseMs: rh.leaseMs });
    // Pools in `forward` mode queue each new notification for their remote Instance-HA API in the same commit.
    forwarding = startForwarding(store, rh, log, metrics, { now, owner, leaseMs: rh.leaseMs });
    const events = combineBuilders(notifiers.statusEvents, forwarding.events);
    const recorder = new NotificationRecorder({
      store,
      metrics,
      events,
      dedupWindowMs: rh.dedupWindowMs,
      now,
      modeOf: (pool) => rh.pools[pool]?.mode ?? 'auto',
      groupCommit: { ...rh.groupCommit, commitsInFlight: commitsInFlight(store) },
    });
    const poolByName = new Map(config.pools.map((p) => [p.name, p]));
    const fencers = new Map(Object.entries(rh.pools).flatMap(([name, p]) => (p.fencing ? [[name, new CommandFencer(p.fencing)] as const] : [])));
    const shells = new Map(
      Object.entries(rh.pools).flatMap(([name, p]) =>
        p.ssh
          ? [
              [
                name,
                new SshClient({
                  user: p.ssh.user,
                  port: p.ssh.port,
                  privateKeyFile: p.ssh.privateKeyFile,
                  hostKeys: { fingerprints: p.ssh.fingerprints, knownHostsFile: p.ssh.knownHostsFile },
                  connectTimeoutMs: Math.min(p.ssh.commandTimeoutMs, 30_000),
                }),
              ] as const,
            ]
          : [],
      ),
    );
    const xapiClients = new Map<string, XapiClient>();
    const deps: WorkflowDeps = {
      xapiFor(pool) {
        const poolConfig = poolByName.get(pool);
        if (!poolConfig) throw new Error(`pool ${pool} is not configured`);
        if (options.xapiFor) return options.xapiFor(poolConfig);
        let client = xapiClients.get(pool);
        if (!client) xapiClients.set(pool, (client = XapiClient.forPool(poolConfig, log)));
        return client;
      },
      fencerFor(pool) {
        const fencer = options.fencerFor ? options.fencerFor(pool) : fencers.get(pool);
        const f = rh.pools[pool]?.fencing;
        return fencer
          ? {
              fencer,
              confirmTimeoutMs: f?.confirmTimeoutMs ?? 60_000,
              bmc: f?.bmc ?? {},
              limits: { maxHostsFenced: f?.maxHostsFenced ?? 1, fenceWindowMs: f?.fenceWindowMs ?? 600_000, maxDownShare: f?.maxDownShare ?? 0.5 },
            }
          : undefined;
      },
      toolstackRestartFor(pool) {
        const ssh = rh.pools[pool]?.ssh;
        const shell = options.shellFor ? options.shellFor(pool) : shells.get(pool);
        return shell ? { shell, command: ssh?.restartCommand ?? 'xe-toolstack-restart', timeoutMs: ssh?.commandTimeoutMs ?? 300_000 } : undefined;
      },
      masterFailoverFor(pool) {
        const poolConfig = poolByName.get(pool);
        if (!poolConfig || options.xapiFor) return undefined;
        const client = deps.xapiFor(pool) as XapiClient;
        return {
          config: rh.pools[pool]?.masterFailover,
          hosts: () => hosts.hostsOf(pool).flatMap((h) => (h.address ? [{ uuid: h.uuid, name: h.name, address: h.address }] : [])),
          probe: (address, timeoutMs) => client.probe(address, timeoutMs),
          callAt: (address, method, params, timeoutMs) => client.callAt(address, method, params, timeoutMs),
          follows: (address) => new URL(client.masterUrl).hostname === client.hostUrl(address, '/').hostname,
          follow: (address) => {
            if (new URL(client.masterUrl).hostname !== client.hostUrl(address, '/').hostname) client.follow(address);
          },
          callTimeoutMs: poolConfig.timeouts.callMs,
          lastResidents: (uuid) => xapiHosts?.residentsOf(pool, uuid),
        };
      },
      settings: rh,
      pollIntervalMs: options.pollIntervalMs ?? 2000,
      probeTimeoutMs: options.probeTimeoutMs ?? 10_000,
      emergency: { settings: rh.emergency, history: storeEmergencyHistory(store) },
    };

    // Segments and hosts from each pool's XAPI inventory (plus the configured `hosts:`), kept current.
    const xapiHosts = options.hosts
      ? undefined
      : new XapiHostDirectory({
          pools: config.pools.map((p) => ({ name: p.name, hosts: rh.pools[p.name]?.hosts ?? [] })),
          xapiFor: (pool) => deps.xapiFor(pool),
          logger: log,
          refreshMs: options.hostRefreshMs,
        });
    const hosts = options.hosts ?? xapiHosts!;
    await xapiHosts?.start();

    const hooks = new ActionHooks(rh.actionHooks, { logger: log, now, counter: createActionHookCounter([metrics.registry]), activity: store });
    const engine = new RecoveryEngine({
      store,
      recorder,
      metrics,
      events,
      logger: log,
      config: { ...rh, tasks: forwardTaskSettings(rh) },
      workflows: buildWorkflows(rh.workflows, deps),
      forwardWorkflows: forwarding.workflows,
      owner,
      hooks,
      waitEvents: notifiers.waitEvents,
      now,
    });
    const app = createApp({
      config: rh,
      pools: config.pools.map((p) => ({ name: p.name, mode: rh.pools[p.name]?.mode ?? 'auto' })),
      store,
      recorder,
      alertEvents: (alert) => notifiers!.alertEvents(alert),
      hosts,
      metrics,
      logger: log,
      now,
      onConfirmed: () => engine.wake(),
    });
    const { server, url } = await listen(app, rh.listen.host, rh.listen.port);
    if (rh.ui.enabled) registerUiInfo(metrics.registry, rh.ui.externalUrl ?? url);
    engine.start();
    // A fenced old master powered on while the new one was unreachable acts as a second master: demote it.
    const watched = Object.entries(rh.pools).filter(([, p]) => p.mode === 'auto' && p.masterFailover);
    const masterWatch = new MasterWatch({
      pools: watched.map(([name]) => name),
      accessFor: (pool) => deps.masterFailoverFor?.(pool),
      probeTimeoutMs: deps.probeTimeoutMs,
      intervalMs: Math.min(...watched.map(([, p]) => p.masterFailover!.watchIntervalMs), 3_600_000),
      logger: log.child({ component: 'master-watch' }),
      demotions: metrics.masterDemotions,
      store,
      now,
    });
    masterWatch.start();
    // The holder of the lease `maintenance:retention` purges what ended more than `retention_days` ago, hourly.
    const retention = startRetention({ store, retentionMs: rh.retentionMs, owner, leaseMs: rh.leaseMs, logger: log, now });
    log.info('recovery hook listening', { url, store: describeStore(rh), receiver: owner, pools: config.pools.map((p) => p.name) });

    let stopping: Promise<void> | undefined;
    return {
      url,
      stop: () =>
        (stopping ??= (async () => {
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          server.closeIdleConnections();
          await closed;
          xapiHosts?.stop();
          await masterWatch.stop();
          await retention.stop();
          await engine.stop(rh.shutdownGraceMs);
          await hooks.drain(rh.shutdownGraceMs);
          await notifiers!.stop();
          await forwarding!.stop();
          await Promise.allSettled([...[...shells.values()].map((c) => c.close()), ...[...xapiClients.values()].map((c) => c.logout())]);
          await store.close();
          log.info('recovery hook stopped');
        })()),
    };
  } catch (err) {
    await notifiers?.stop();
    await forwarding?.stop();
    await store.close();
    throw err;
  }
}
