// The old master coming back as a second master. We keep a fenced old master off (the receiver never powers a host
// on), and real xapi, starting as master from its own pool.conf, asks every other host of its database whether it is
// master and becomes the slave of one that says so — but skips the hosts that do not answer at that moment ("just a
// sanity check, not a guarantee": ocaml/xapi/xapi.ml check_no_other_masters), and runs the check only at start. So an
// old master powered on while the new one was unreachable acts as a second master, with its own stale database.
// Every `watch_interval_seconds` this watch asks each host of the pools with master_failover configured (mode auto);
// when two or more accept a login as master, and every answering member AND this receiver's own XAPI session follow
// the same one, each other master is demoted at once: a local login and pool.emergency_reset_master(that master)
// (ocaml/xapi/xapi_pool.ml; it also works on a master: xapi_pool_transition.ml become_another_masters_slave). It is
// logged as an error, counted in xcp_recovery_master_demotions_total and written into the progress of the demoted
// host's latest master-failover notification (its recover_members task), where an operator reads the failover's
// story. When the hosts disagree, nothing is done (logged; the exporter's XcpPoolMasterConflict alert asks a person).
import type { Counter } from 'prom-client';
import type { Logger } from '../core/log.js';
import type { NotificationStore } from './store/store.js';
import type { MasterFailoverAccess, PoolHost } from './workflows/deps.js';
import { isMasterLoss } from './workflows/master.js';
import { type HostAnswer, probeAll } from './workflows/master-members.js';

export interface MasterWatchOptions {
  /** Pools watched: in auto mode, with master_failover configured. */
  pools: string[];
  accessFor(pool: string): MasterFailoverAccess | undefined;
  probeTimeoutMs: number;
  intervalMs: number;
  logger: Logger;
  demotions: Counter<'pool_name' | 'host_name'>;
  /** Where a demotion is written into the failover notification's progress. */
  store: Pick<NotificationStore, 'list' | 'addProgress'>;
  now(): number;
}

/** The task of the master workflow whose progress tells the demotion (the members following the new master). */
const DEMOTION_TASK = 'recover_members';

export class MasterWatch {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** Pools whose last check found masters it could not tell apart (logged once per episode). */
  readonly #unclear = new Set<string>();

  constructor(private readonly o: MasterWatchOptions) {}

  start(): void {
    if (this.o.pools.length === 0) return;
    this.#timer = setInterval(() => void (this.#running ??= this.checkAll().finally(() => (this.#running = undefined))), this.o.intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  async checkAll(): Promise<void> {
    for (const pool of this.o.pools) {
      try {
        await this.check(pool);
      } catch (err) {
        this.o.logger.warn('master watch: check failed', { pool, error: err });
      }
    }
  }

  /** One check of `pool`; the names of the hosts demoted. */
  async check(pool: string): Promise<string[]> {
    const access = this.o.accessFor(pool);
    const config = access?.config;
    if (!access || !config) return [];
    const answers = await probeAll(access, access.hosts(), this.o.probeTimeoutMs);
    const masters = answers.filter((a) => a.result.state === 'master');
    if (masters.length < 2) {
      this.#unclear.delete(pool);
      return [];
    }
    const keep = this.#followed(access, answers, masters);
    if (!keep) {
      if (!this.#unclear.has(pool))
        this.o.logger.error(
          'two masters in the pool and the members do not agree on one (or this receiver follows another): nothing demoted; a person decides',
          {
            pool,
            masters: masters.map((m) => m.host.name),
          },
        );
      this.#unclear.add(pool);
      return [];
    }
    const demoted: string[] = [];
    for (const m of masters) {
      if (m === keep) continue;
      const session = await access.callAt<string>(
        m.host.address,
        'session.slave_local_login_with_password',
        [config.username, config.password.reread().reveal()],
        access.callTimeoutMs,
      );
      await access.callAt(m.host.address, 'pool.emergency_reset_master', [session, keep.host.address], access.callTimeoutMs);
      this.o.demotions.inc({ pool_name: pool, host_name: m.host.name });
      this.o.logger.error('a second pool master was demoted: it now follows the master its members follow', {
        pool,
        demoted: m.host.name,
        master: keep.host.name,
      });
      await this.#record(pool, m.host, keep.host);
      demoted.push(m.host.name);
    }
    return demoted;
  }

  /** Write the demotion into the progress of `demoted`'s latest master-failover notification of `pool`, if any. */
  async #record(pool: string, demoted: PoolHost, master: PoolHost): Promise<void> {
    try {
      const recent = await this.o.store.list({ type: 'COMPUTE_HOST', hostUuid: demoted.uuid }, { limit: 20, sort: [{ key: 'id', dir: 'desc' }] });
      const n = recent.find((x) => x.poolName === pool && isMasterLoss(x));
      if (!n) {
        this.o.logger.warn('the demoted master has no master-failover notification: the demotion is only logged and counted', { pool, demoted: demoted.name });
        return;
      }
      await this.o.store.addProgress(
        n.uuid,
        DEMOTION_TASK,
        `master watch: ${demoted.name} came back acting as a second pool master while every answering member and the receiver follow ${master.name}: demoted (local login, pool.emergency_reset_master(${master.address})); it restarts as a member of ${master.name}`,
        1,
        this.o.now(),
      );
    } catch (err) {
      this.o.logger.warn('master watch: the demotion could not be written into the notification', { pool, demoted: demoted.name, error: err });
    }
  }

  /** The master every answering member names and this receiver's session follows; undefined when that is not one. */
  #followed(access: MasterFailoverAccess, answers: HostAnswer[], masters: HostAnswer[]): HostAnswer | undefined {
    const named = new Set(answers.flatMap((a) => (a.result.state === 'member' ? [a.result.master] : [])));
    if (named.size !== 1) return undefined;
    const address = [...named][0]!;
    const keep = masters.find((m) => m.host.address === address);
    return keep && access.follows(keep.host.address) ? keep : undefined;
  }
}
