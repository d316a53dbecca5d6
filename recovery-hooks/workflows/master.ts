// Pool master loss: the master's XAPI answers nothing while members answer. Without XAPI HA nothing in the pool can
// be started until a member is promoted, so the receiver does the operator's manual procedure, with the host
// workflow's safety rules:
// - identity from XAPI, reached by the receiver itself: every known host is asked directly (a login: a member refuses
//   with HOST_IS_SLAVE naming its master — ocaml/xapi/xapi_session.ml login_with_password — which also proves its
//   toolstack answers). The notification's host must be the host the members name; the master must not answer;
// - the old master is fenced first, through fence-proof.ts (the host workflow's fence): our power-off then "off", or
//   an operator's confirm-fenced; blast-radius limits apply. Nothing is promoted before;
// - exactly one member is promoted: the workflow runs under its host's lease (`host:<old master uuid>`, engine.ts),
//   and every notification that gets this far names the same host (the one the members name), so two receivers
//   sharing a store never promote two; right before promoting, every host is asked again and an existing master
//   (another receiver's, an operator's) is followed instead. The choice is a persisted task result: a retry promotes
//   the same member or nobody;
// - promotion: session.slave_local_login_with_password on the member, pool.emergency_transition_to_master (xapi
//   writes pool.conf and restarts after its 10 s fuse: ocaml/xapi/xapi_pool.ml, xapi_pool_transition.ml,
//   xapi_fuse.ml), then wait until it accepts a normal login as master; then pool.recover_slaves on it (returns the
//   hosts it reset: ocaml/xapi/xapi_pool.ml recover_slaves) and, for the answering members it did not reset, a local
//   login and pool.emergency_reset_master(new master) — a member left pointing at the old master would be declared
//   dead by the new one (it heartbeats to its own master: ocaml/xapi/db_gc.ml) and fenced although healthy;
// - the host workflow's plan, disable and VM.power_state_reset (refused with HOST_IS_LIVE while the old master lives:
//   ocaml/xapi/xapi_vm.ml — never worked around) run on the new master before the members are pointed at it: the new
//   master's database is its own old copy, where a VM moved off the old master since may still show resident there
//   while a member runs it, and a member's xapi, restarted by recover_slaves, shuts down a domain whose VM its
//   database places on another host but claims one whose VM is resident nowhere (ocaml/xapi/xapi_xenops.ml
//   resync_resident_on) — reset first, such a VM keeps running where it is;
// - then, before anything is started, the database must agree with what each answering host runs, read from the
//   hosts' RRDs (verify_vm_placement); the VMs the receiver last saw on the old master (its minute-by-minute read of
//   the host records, xapi-hosts.ts) that the copy does not place there join the plan; the restarts follow, exactly
//   once each.
import { Finish, Ignore, type Output, type Requires, type Signature, type Task, type TaskContext, WaitForOperator } from '../engine/task.js';
import { implement } from '../engine/wiring.js';
import type { Notification } from '../store/types.js';
import type { MasterFailoverAccess, PoolHost, WorkflowDeps } from './deps.js';
import { type FenceResult, proveFenced } from './fence-proof.js';
import { hostTasks, planSummary } from './host.js';
import { type HostAnswer, answersAsMaster, answersAsMember, chooseMember, describeAnswer, disagreeing, probeAll } from './master-members.js';
import { requireProvenOff } from './no-fence-no-restart.js';
import { MASTER } from './signatures.js';
import { rrdSourceOf, vmsWithDomainsOn } from './host-domains.js';
import { isProtected, restartRank } from './placement.js';
import { type HostRecord, NULL_REF, type VmRecord, isGuest, isXapiError, waitFor, xapiNumber } from './xapi.js';
import type { LastResidents } from '../xapi-hosts.js';

/** The notification's payload marks a pool master loss: the XcpPoolMasterLost alert's `xcp_failure="pool_master"`
 * label, or a Masakari COMPUTE_HOST payload with `xcp_failure: "pool_master"`. Identity is still XAPI's (above). */
export const MASTER_LOSS = 'pool_master';
export function isMasterLoss(n: Pick<Notification, 'type' | 'payload'>): boolean {
  return n.type === 'COMPUTE_HOST' && n.payload.xcp_failure === MASTER_LOSS;
}

/** The result of confirm_master_lost: the lost master as XAPI's records name it, and the members that answered. */
export interface MasterLost {
  master: PoolHost;
  members: string[];
  /** The pool's hosts with their addresses at confirmation: a receiver restarted during the loss cannot read them. */
  hosts: PoolHost[];
  /** The VMs the receiver's last read of the pool's host records placed on the lost master, read from its live
   * database before it was lost: absent when the receiver never read them (verify_vm_placement). */
  lastResidents?: LastResidents;
}

/**
 * How old the last read of the lost master's host record may be, at confirmation, for its VMs to be restarted
 * (verify_vm_placement): the XcpPoolMasterLost alert's 2 minutes, Alertmanager's waits and one refresh of the host
 * directory (a minute) fit well inside. An older read — the receiver could not read the pool for a while — may list a
 * VM stopped on purpose since.
 */
export const LAST_READ_MAX_AGE_MS = 10 * 60_000;

/** The result of choose_member / promote_member. */
export interface ChosenMaster {
  host: PoolHost;
  /** false: it already was master (promoted by another receiver or an operator), we only follow it. */
  promoted: boolean;
}

export function masterTasks(deps: WorkflowDeps) {
  const host = hostTasks(deps);
  const accessOf = (ctx: TaskContext): MasterFailoverAccess => {
    const access = deps.masterFailoverFor?.(ctx.notification.poolName);
    if (!access)
      throw new WaitForOperator(
        'master_failover',
        `the receiver cannot reach the hosts of pool ${ctx.notification.poolName} directly: promote a member by hand (runbook XcpPoolMasterLost)`,
      );
    return access;
  };
  /** The hosts known now, completed with those recorded at confirmation. */
  const hostsOf = (lost: MasterLost, access: MasterFailoverAccess): PoolHost[] => {
    const byUuid = new Map(lost.hosts.map((h) => [h.uuid, h]));
    for (const h of access.hosts()) byUuid.set(h.uuid, h);
    return [...byUuid.values()];
  };
  const survey = (access: MasterFailoverAccess, hosts: PoolHost[]) => probeAll(access, hosts, deps.probeTimeoutMs);
  const wait = <T>(ctx: TaskContext, timeoutMs: number, check: () => Promise<T | undefined>) =>
    waitFor(check, { timeoutMs, intervalMs: deps.pollIntervalMs, now: ctx.now, sleep: ctx.sleep });

  const confirmMasterLost = implement(MASTER.confirm_master_lost, {
    async run(ctx) {
      const n = ctx.notification;
      const access = accessOf(ctx);
      const hosts = access.hosts();
      if (hosts.length === 0)
        throw new WaitForOperator(
          'master_failover',
          `no host address of pool ${n.poolName} is known (read from XAPI while the master answered, or recovery_hook.pools.${n.poolName}.hosts[].address): the master cannot be identified; promote a member by hand`,
        );
      await ctx.progress(`asking each of the ${hosts.length} hosts of pool ${n.poolName} directly who its master is`, 0);
      const answers = await survey(access, hosts);
      const masters = answers.filter(answersAsMaster);
      const old = masters.find((a) => a.host.uuid === n.hostUuid);
      if (old) throw new Ignore(`${old.host.name} answers as pool master (it accepted a login): the master is not lost; nothing fenced or promoted`);
      // One master that every answering member follows: the pool has a master, this notification has nothing to do.
      // Any other claim (two masters, or members still naming another host) is a pool someone else changed half-way:
      // a person decides — promoting now could make a third master, and the members left on the old one would be
      // declared dead by the new one and fenced although healthy.
      if (masters.length === 1 && disagreeing(answers, [masters[0]!.host.address]).length === 0)
        throw new Ignore(
          `${masters[0]!.host.name} answers as pool master and every answering member follows it: pool ${n.poolName} has a master; nothing fenced or promoted here (a failed ${n.hostName} is the host workflow's)`,
        );
      if (masters.length)
        throw new WaitForOperator(
          'master_failover',
          `the hosts of pool ${n.poolName} disagree about who is master (${describeAnswers(answers)}): nothing fenced or promoted; a person decides (runbook XcpPoolMasterLost), then confirm to look again`,
        );
      const named = new Set(answers.flatMap((a) => (a.result.state === 'member' ? [a.result.master] : [])));
      if (named.size === 0)
        throw new WaitForOperator(
          'master_failover',
          `no host of pool ${n.poolName} answers as a member naming its master (${describeAnswers(answers)}): the master cannot be identified from XAPI; nothing fenced or promoted`,
        );
      if (named.size > 1)
        throw new WaitForOperator(
          'master_failover',
          `the members of pool ${n.poolName} name different masters (${describeAnswers(answers)}): nothing fenced or promoted; a person decides (runbook XcpPoolMasterLost), then confirm to look again`,
        );
      const address = [...named][0]!;
      const master = hosts.find((h) => h.address === address);
      if (!master)
        throw new WaitForOperator(
          'master_failover',
          `the members name ${address} as their master, which is no host of pool ${n.poolName} the receiver knows: nothing fenced or promoted`,
        );
      if (master.uuid !== n.hostUuid)
        throw new Ignore(
          `the members of pool ${n.poolName} name ${master.name} (${master.uuid}) as their master, not the notification's host ${n.hostName} (${n.hostUuid}): nothing fenced or promoted`,
        );
      if (n.hostName && n.hostName !== master.name)
        throw new Ignore(
          `host name "${n.hostName}" in the notification is not XAPI's name_label "${master.name}" of host ${master.uuid}: identity unclear, nothing fenced or promoted`,
        );
      const own = answers.find((a) => a.host.uuid === master.uuid);
      if (own && own.result.state !== 'silent')
        throw new Ignore(
          `pool master ${master.name} answers (${own.result.state === 'answers' ? own.result.code : own.result.state}): not lost; nothing fenced or promoted`,
        );
      if (!access.config)
        throw new WaitForOperator(
          'master_failover',
          `pool master ${master.name} does not answer, but recovery_hook.pools.${n.poolName}.master_failover is not configured (the members' local login): nothing fenced or promoted; promote a member by hand (runbook XcpPoolMasterLost)`,
        );
      const members = answers.filter(answersAsMember).map((a) => a.host.name);
      await ctx.progress(
        `pool master ${master.name} (${master.address}) does not answer within ${deps.probeTimeoutMs / 1000} s; ${members.length} member(s) answer and name it as their master: ${members.join(', ')}`,
        1,
      );
      const read = access.lastResidents?.(master.uuid);
      const age = read && Math.max(0, ctx.now() - read.readAt);
      const lastResidents = read && age! <= LAST_READ_MAX_AGE_MS ? read : undefined;
      await ctx.progress(
        !read
          ? `the receiver has no read of ${master.name}'s host record from before the loss: what it ran is known only from the new master's database copy`
          : `the receiver's last read of ${master.name}'s host record, ${Math.round(age! / 1000)} s ago, lists ${read.vms.length} VM(s) resident on it (domain 0 included)${lastResidents ? '' : `: older than ${LAST_READ_MAX_AGE_MS / 60_000} min, not acted on (a VM stopped on purpose since would be started again)`}`,
        1,
      );
      return { master, members, hosts, ...(lastResidents && { lastResidents }) };
    },
  });

  /** The master host may be up with only xapi dead (XcpPoolMasterLost fires then too): a toolstack restart over SSH
   * is the fix, not a failover. A host that does not answer SSH, or still not as master afterwards, goes on. */
  const restartMasterToolstack = implement(MASTER.restart_master_toolstack, {
    async run(ctx, { lost }) {
      const access = accessOf(ctx);
      const { master } = lost;
      const restart = deps.toolstackRestartFor(ctx.notification.poolName);
      if (!restart) {
        await ctx.progress(`no ssh configured for pool ${ctx.notification.poolName}: no toolstack restart is tried on ${master.name} first`, 1);
        return null;
      }
      const action = {
        method: 'toolstack.restart',
        params: { host: master.name, host_uuid: master.uuid, command: restart.command },
        description: `try "${restart.command}" on ${master.name} over SSH first (the host may be up with only its toolstack dead)`,
      } as const;
      let failed: string | undefined;
      await ctx.act(action, async () => {
        try {
          const out = await restart.shell.run({ name: master.name, address: master.address }, restart.command, restart.timeoutMs);
          if (out.code !== 0) failed = `"${restart.command}" exited with ${out.code ?? 'a signal'}: ${(out.stderr || out.stdout).trim().slice(-200)}`;
        } catch (err) {
          failed = err instanceof Error ? err.message : String(err);
        }
      });
      if (ctx.mode === 'dry-run') return null;
      if (failed) {
        await ctx.progress(`${master.name} was not restarted over SSH (${failed}): the failover goes on`, 1);
        return null;
      }
      const timeoutMs = deps.settings.processFailure.confirmTimeoutMs;
      const back = await wait(ctx, timeoutMs, async () => ((await access.probe(master.address, deps.probeTimeoutMs)).state === 'master' ? true : undefined));
      if (back)
        throw new Finish(`the toolstack of pool master ${master.name} was restarted over SSH and it answers as master again: nothing fenced or promoted`);
      await ctx.progress(`${master.name} does not answer as master within ${timeoutMs / 1000} s of its toolstack restart: the failover goes on`, 1);
      return null;
    },
  });

  const fenceMaster = implement(MASTER.fence_master, {
    async run(ctx, { lost }) {
      const access = accessOf(ctx);
      const { master } = lost;
      const answers = async () => (await access.probe(master.address, deps.probeTimeoutMs)).state !== 'silent';
      return proveFenced(
        ctx,
        deps.fencerFor(ctx.notification.poolName),
        {
          host: { uuid: master.uuid, name_label: master.name },
          async recheck() {
            if (await answers()) throw new Finish(`pool master ${master.name} answers again before the fence: not powered off, nothing promoted`);
          },
          isBack: answers,
          async cameBack(when) {
            throw new WaitForOperator(
              'master_failover',
              `pool master ${master.name} answers again ${when}: nothing promoted; its restart may have halted its VMs — check the pool and start them`,
            );
          },
          async poolHosts() {
            return (await survey(access, hostsOf(lost, access))).map((a) => ({
              uuid: a.host.uuid,
              name_label: a.host.name,
              live: a.result.state !== 'silent',
            }));
          },
        },
        deps.pollIntervalMs,
      );
    },
  });

  /**
   * Every host but the old master, asked now: the one that answers as master, if any (promoted by another receiver or
   * an operator: followed, nobody promoted). A host that answers as another master, or a member naming a master other
   * than the old one or `expected`, means the pool moved since the confirmation: nothing is promoted, a person decides.
   */
  const existingMaster = async (
    ctx: TaskContext,
    lost: MasterLost,
    access: MasterFailoverAccess,
    old: PoolHost,
    expected?: PoolHost,
  ): Promise<HostAnswer | undefined> => {
    const answers = await survey(
      access,
      hostsOf(lost, access).filter((h) => h.uuid !== old.uuid),
    );
    const existing = answers.find(answersAsMaster);
    const stray = disagreeing(answers, [old.address, (existing?.host ?? expected ?? old).address]);
    if (stray.length)
      throw new WaitForOperator(
        'master_failover',
        `the hosts of pool ${ctx.notification.poolName} changed since ${old.name} was found lost (${stray.map(describeAnswer).join(', ')}): nothing promoted; a person decides (runbook XcpPoolMasterLost), then confirm to look again`,
      );
    return existing;
  };

  const chooseMemberTask = implement(MASTER.choose_member, {
    async run(ctx, { lost, fenced }): Promise<ChosenMaster> {
      requireFence(ctx, fenced);
      const access = accessOf(ctx);
      const { master: old } = lost;
      const existing = await existingMaster(ctx, lost, access, old);
      if (existing) {
        await ctx.progress(
          `${existing.host.name} already answers as pool master (promoted by another receiver or an operator): following it, nothing promoted`,
          1,
        );
        return { host: existing.host, promoted: false };
      }
      const config = access.config!;
      const answers = await survey(
        access,
        hostsOf(lost, access).filter((h) => h.uuid !== old.uuid),
      );
      const { chosen, notes } = chooseMember(config.candidates, answers);
      for (const note of notes) await ctx.progress(note, 0.5);
      if (!chosen)
        throw new WaitForOperator(
          'master_failover',
          `no member of pool ${ctx.notification.poolName} answers (${describeAnswers(answers)}): nothing promoted; bring a member back or promote one by hand`,
        );
      await ctx.progress(
        `${chosen.name} chosen to become pool master (${config.candidates.length ? 'first answering member of master_failover.candidates, then by name' : 'the answering member first by name'})`,
        1,
      );
      return { host: chosen, promoted: true };
    },
  });

  const promoteMember = implement(MASTER.promote_member, {
    async run(ctx, { lost, fenced, choice }): Promise<ChosenMaster> {
      requireFence(ctx, fenced);
      const access = accessOf(ctx);
      const n = ctx.notification;
      const { master: old } = lost;
      const config = access.config!;
      // Checked again right before acting: another receiver or an operator may have promoted someone meanwhile.
      const existing = await existingMaster(ctx, lost, access, old, choice.host);
      if (existing && existing.host.uuid !== choice.host.uuid) {
        await ctx.progress(`${existing.host.name} already answers as pool master: following it, ${choice.host.name} not promoted`, 1);
        return followed(access, existing.host, false);
      }
      if (existing) {
        await ctx.progress(`${choice.host.name} answers as pool master`, 1);
        return followed(access, choice.host, choice.promoted);
      }
      const target = choice.host;
      const state = (await access.probe(target.address, deps.probeTimeoutMs)).state;
      // A silent chosen member may be restarting after an earlier run's transition: only wait for it, never choose another.
      if (state !== 'silent') {
        const transition = {
          method: 'pool.emergency_transition_to_master',
          params: { host: target.name, host_uuid: target.uuid, pool: n.poolName, old_master: old.name },
          description: `promote ${target.name} to pool master (local login, pool.emergency_transition_to_master; its xapi restarts)`,
        } as const;
        await ctx.act(transition, async () => {
          const session = await localLogin(access, target, config, n.poolName);
          try {
            await access.callAt(target.address, 'pool.emergency_transition_to_master', [session], access.callTimeoutMs);
          } catch (err) {
            if (isXapiError(err, 'HA_IS_ENABLED'))
              throw new WaitForOperator(
                'master_failover',
                `${target.name} refuses pool.emergency_transition_to_master: HA_IS_ENABLED (XAPI HA recovers the pool itself); nothing promoted`,
              );
            throw err;
          }
        });
      }
      // Without a promotion there is no master to ask what would follow: the dry run ends here.
      if (ctx.mode === 'dry-run')
        throw new Finish(
          `dry-run: ${target.name} was not promoted; a promotion would be followed by pool.recover_slaves on it and the restart of the VMs of ${old.name} elsewhere`,
        );
      const up = await wait(ctx, config.promoteTimeoutMs, async () =>
        (await access.probe(target.address, deps.probeTimeoutMs)).state === 'master' ? true : undefined,
      );
      if (!up)
        throw new WaitForOperator(
          'master_failover',
          `${target.name} does not answer as pool master within master_failover.promote_timeout_seconds (${config.promoteTimeoutMs / 1000} s) of its promotion: no other member is promoted; check ${target.name}`,
        );
      await ctx.progress(`${target.name} answers as pool master (a normal login is accepted)`, 1);
      return followed(access, target, true);
    },
  });

  /** A host workflow task, run on the new master: a receiver restarted since the promotion follows it first. */
  function onNewMaster<R extends Requires & { newMaster: Output<ChosenMaster> }, O>(signature: Signature<R, O>, task: Task<Requires, O>) {
    return implement(signature, {
      async run(ctx, input) {
        accessOf(ctx).follow(input.newMaster.host.address);
        return task.run(ctx, input);
      },
    });
  }

  function followed(access: MasterFailoverAccess, h: PoolHost, promoted: boolean): ChosenMaster {
    access.follow(h.address);
    return { host: h, promoted };
  }

  /** The host workflow's plan on the new master, before the members follow it: nothing to restart does not end the
   * failover there — the members must still be pointed at the new master. */
  const planVmRestarts = implement(MASTER.plan_vm_restarts, {
    async run(ctx, input) {
      accessOf(ctx).follow(input.newMaster.host.address);
      try {
        return await host.plan_vm_restarts.run(ctx, input);
      } catch (err) {
        if (!(err instanceof Finish)) throw err;
        await ctx.progress(`${err.message}; the members are pointed at the new master all the same`, 1);
        return planSummary(await ctx.moves.list());
      }
    },
  });

  const recoverMembers = implement(MASTER.recover_members, {
    async run(ctx, { lost, master: promoted }) {
      const access = accessOf(ctx);
      const n = ctx.notification;
      const { master: old } = lost;
      const { host: master } = promoted;
      const config = access.config!;
      access.follow(master.address);
      const xapi = deps.xapiFor(n.poolName);
      const follows = (a: HostAnswer) => a.result.state === 'member' && a.result.master === master.address;
      // The members that answer now must end up following the new master; one whose xapi is restarting (silent
      // for a moment after its reset) still counts until it answers as the new master's member.
      const expected = (
        await survey(
          access,
          hostsOf(lost, access).filter((h) => h.uuid !== old.uuid && h.uuid !== master.uuid),
        )
      ).filter((a) => a.result.state !== 'silent');
      const others = expected.map((a) => a.host);
      const lagging = async () => (await survey(access, others)).filter((a) => !follows(a));
      if (expected.every(follows)) {
        await ctx.progress(`every answering member follows ${master.name}`, 1);
        return { recovered: [] };
      }
      const recover = {
        method: 'pool.recover_slaves',
        params: { host: master.name, host_uuid: master.uuid, pool: n.poolName },
        description: `point the members at the new master (pool.recover_slaves on ${master.name})`,
      } as const;
      // A dead host costs recover_slaves a connection timeout each, which may outlast our call timeout: then every
      // member is pointed at the new master one by one below (the same call recover_slaves makes).
      // Only the XAPI call's own failure is caught: a lost lease or a hook's veto still stops the task.
      let failure: string | undefined;
      const refs =
        (await ctx.act(recover, async () => {
          try {
            return await xapi.call<string[]>('pool.recover_slaves');
          } catch (err) {
            failure = err instanceof Error ? err.message : String(err);
            return [];
          }
        })) ?? [];
      if (failure) await ctx.progress(`pool.recover_slaves failed (${failure}): each member is pointed at ${master.name} directly`, 0.5);
      const recovered = await Promise.all(refs.map((ref) => xapi.call<string>('host.get_uuid', ref)));
      const names = others.filter((h) => recovered.includes(h.uuid)).map((h) => h.name);
      if (ctx.mode !== 'dry-run') await ctx.progress(`pool.recover_slaves reset ${names.length ? names.join(', ') : 'no host'}`, 0.5);
      for (const a of expected) {
        if (recovered.includes(a.host.uuid) || follows(a)) continue;
        const reset = {
          method: 'pool.emergency_reset_master',
          params: { host: a.host.name, host_uuid: a.host.uuid, pool: n.poolName, master: master.name },
          description: `point ${a.host.name} at the new master ${master.name} (local login, pool.emergency_reset_master)`,
        } as const;
        await ctx.act(reset, async () => {
          const session = await localLogin(access, a.host, config, n.poolName);
          await access.callAt(a.host.address, 'pool.emergency_reset_master', [session, master.address], access.callTimeoutMs);
        });
      }
      if (ctx.mode === 'dry-run') return { recovered: names };
      // Their xapi restarts (fuse, start): VMs can be placed on them once they answer as members of the new master.
      const behind = await wait(ctx, config.membersTimeoutMs, async () => {
        const left = await lagging();
        return left.length === 0 ? [] : undefined;
      });
      if (!behind) {
        const left = (await lagging()).map((a) => a.host.name);
        throw new WaitForOperator(
          'master_failover',
          `${left.join(', ')} still do(es) not follow the new master ${master.name} within master_failover.members_timeout_seconds (${config.membersTimeoutMs / 1000} s): a member left on the old master is declared dead by the new one; point it at ${master.address} (xe pool-emergency-reset-master)`,
        );
      }
      await ctx.progress(`every answering member follows ${master.name}`, 1);
      return { recovered: names };
    },
  });

  /**
   * Nothing is started while the new master's database disagrees with what the hosts run. A promoted member starts on
   * its own copy of the database, up to (members − 1) × pool_db_sync_interval old (simulator/db-backup.ts): a VM moved
   * off the old master since shows resident there (reset to Halted by now), one moved onto it shows running on a
   * member. Each xapi corrects its own VMs when it starts (ocaml/xapi/xapi_xenops.ml resync_resident_on), well after
   * it answers again. Until every answering host's rrdd (host-domains.ts: what runs there, independent of any
   * database) agrees with the database, a VM of the plan may still run on a member, and starting it would run it
   * twice: the task waits up to members_timeout_seconds, then a person decides. Once they agree, what the reads saw
   * on the way decides the rest: a VM seen running where the database placed it elsewhere, and since shut down, was
   * shut down by a resync (which stops no other) and ran, so it joins the plan — one seen running where the database
   * agreed and halted since was stopped by a person or its guest, and is left so; one the receiver's last read of the
   * old master's host record (from its live database, before the loss) listed there, halted now and running nowhere,
   * ran on the old master — started or moved there since the copy — and is restarted; one the copy had running on a
   * member that never ran it, and no read placed on the old master, is listed, not restarted (the copy cannot tell
   * where it ran); one unknown to the database that a resync shut down is named for a person (nothing here can
   * restart it).
   */
  const verifyVmPlacement = implement(MASTER.verify_vm_placement, {
    async run(ctx, { lost, master: promoted }) {
      const access = accessOf(ctx);
      const n = ctx.notification;
      const { master: old } = lost;
      access.follow(promoted.host.address);
      const xapi = deps.xapiFor(n.poolName);
      const source = rrdSourceOf(xapi);
      if (!source)
        throw new WaitForOperator(
          'master_failover',
          `the receiver cannot read the hosts' RRDs of pool ${n.poolName}: what runs where cannot be checked against the new master's database; check by hand, then confirm`,
        );
      const config = access.config!;
      /** Evidence kept across the reads: VMs the database had running on a host that did not run them (uuid → why),
       * every VM seen running on an answering host (uuid → host), and those of them the database placed elsewhere
       * (or not running, or nowhere) at some read: only such a VM can a resync shut down. */
      const unaccounted = new Map<string, string>();
      const seen = new Map<string, string>();
      const disputed = new Set<string>();
      let last: (Placement & { vms: Record<string, VmRecord> }) | undefined;
      const read = async () => {
        const hosts = await xapi.call<Record<string, HostRecord>>('host.get_all_records');
        const vms = await xapi.call<Record<string, VmRecord>>('VM.get_all_records');
        const answers = await survey(
          access,
          hostsOf(lost, access).filter((h) => h.uuid !== old.uuid),
        );
        const running = new Map<string, Set<string>>();
        const unread: string[] = [];
        await Promise.all(
          answers
            .filter((a) => a.result.state !== 'silent')
            .map(async (a) => {
              try {
                running.set(a.host.uuid, await vmsWithDomainsOn(source, a.host.address, deps.probeTimeoutMs));
              } catch (err) {
                unread.push(`${a.host.name} (${err instanceof Error ? err.message : String(err)})`);
              }
            }),
        );
        // A member that answered when the master was found lost and is silent now (its xapi restarting) may run a VM
        // of the plan: not settled until it is read. One silent since then is another failure (the host workflow's).
        const silent = answers.filter((a) => a.result.state === 'silent').map((a) => a.host.name);
        for (const name of silent) if (lost.members.includes(name)) unread.push(`${name} (answers nothing now)`);
        const placement = comparePlacement(hosts, vms, running);
        for (const [uuid, why] of placement.missing) unaccounted.set(uuid, why);
        for (const [uuid, on] of placement.runningOn) seen.set(uuid, on);
        for (const uuid of placement.runningAgainst) disputed.add(uuid);
        return { ...placement, vms, unread, silent: silent.filter((name) => !lost.members.includes(name)) };
      };
      const settled = await wait(ctx, config.membersTimeoutMs, async () => {
        last = await read();
        return last.disagreements.length === 0 && last.unread.length === 0 ? last : undefined;
      });
      if (!settled) {
        const p = last ?? (await read());
        throw new WaitForOperator(
          'master_failover',
          `the database of the new master ${promoted.host.name} still disagrees with what the hosts run after master_failover.members_timeout_seconds (${config.membersTimeoutMs / 1000} s): ${[...p.disagreements, ...p.unread.map((u) => `what ${u} runs cannot be read`)].join('; ')}. Nothing is restarted while they disagree (a VM could run twice); check each, then confirm to look again`,
        );
      }
      if (settled.silent.length)
        await ctx.progress(`${settled.silent.join(', ')} answer(s) nothing: what they run cannot be read (their failure is the host workflow's)`, 0.5);
      const byUuid = new Map(Object.values(settled.vms).map((vm) => [vm.uuid, vm]));
      const halted = (uuid: string) => !settled.runningOn.has(uuid) && byUuid.get(uuid)?.power_state === 'Halted';
      // Seen running where the database placed it elsewhere, now halted and running nowhere: shut down by a resync
      // (xapi_xenops.ml: "This can cause data corruption, therefore terminating"). It ran, so it is restarted. Seen
      // running only where the database agreed, and halted since: no resync stops such a VM — a person or its guest
      // did, and it stays halted.
      const shutDown = [...seen].filter(([uuid]) => halted(uuid) && disputed.has(uuid));
      const stopped = [...seen].filter(([uuid]) => halted(uuid) && !disputed.has(uuid));
      // On the old master at the receiver's last read of its live database, before the loss (xapi-hosts.ts): a VM
      // listed there, halted now, seen on no answering host and not in the plan yet ran there — started or moved
      // there since the copy, which has it halted or on a member — and runs nowhere now that the old master is fenced.
      // It is restarted, unless a host that was not read could run it (moved there since the read).
      const planned = new Set((await ctx.moves.list()).map((m) => m.vmUuid));
      const lastRead = lost.lastResidents;
      const listed = (lastRead?.vms ?? []).map((ref) => ({ ref, vm: settled.vms[ref] }));
      const ranOnOld = listed.flatMap(({ vm }) => (vm && isGuest(vm) && halted(vm.uuid) && !seen.has(vm.uuid) && !planned.has(vm.uuid) ? [vm] : []));
      const ranOnOldUuids = new Set(ranOnOld.map((vm) => vm.uuid));
      const unknownToCopy = listed.flatMap(({ ref, vm }) => (vm ? [] : [ref]));
      const readAt = lastRead && new Date(lastRead.readAt).toISOString();
      const unreadHosts = settled.silent.length ? `${settled.silent.join(', ')} answer(s) nothing and could run it now` : undefined;
      // Never seen running: the copy cannot tell where it ran, if anywhere.
      const unproven = [...unaccounted].filter(([uuid]) => halted(uuid) && !seen.has(uuid) && !ranOnOldUuids.has(uuid));
      const restartable = (vm: VmRecord) => isProtected(vm.ha_restart_priority) || deps.settings.hostFailure.restartUnprotected;
      await ctx.moves.plan([
        ...ranOnOld.map((vm) => {
          const base = { vmUuid: vm.uuid, vmName: vm.name_label, sourceHost: old.name, rank: restartRank(vm.ha_restart_priority, xapiNumber(vm.order)) };
          if (unreadHosts) return { ...base, status: 'ignored' as const, message: `unproven: ran on ${old.name} at ${readAt}; ${unreadHosts}` };
          return restartable(vm)
            ? { ...base, status: 'pending' as const }
            : { ...base, status: 'ignored' as const, message: `ran on ${old.name} at ${readAt}; not protected and host_failure.restart_unprotected is false` };
        }),
        ...shutDown.map(([uuid, on]) => {
          const vm = byUuid.get(uuid)!;
          const base = { vmUuid: uuid, vmName: vm.name_label, sourceHost: on, rank: restartRank(vm.ha_restart_priority, xapiNumber(vm.order)) };
          return restartable(vm)
            ? { ...base, status: 'pending' as const }
            : { ...base, status: 'ignored' as const, message: `shut down by ${on}'s resync; not protected and host_failure.restart_unprotected is false` };
        }),
        ...unproven.map(([uuid, why]) => ({
          vmUuid: uuid,
          vmName: byUuid.get(uuid)!.name_label,
          sourceHost: old.name,
          rank: 0,
          status: 'ignored' as const,
          message: `unproven: ${why}`,
        })),
      ]);
      for (const [uuid, on] of shutDown) {
        const vm = byUuid.get(uuid)!;
        await ctx.progress(
          `VM ${vm.name_label} ran on ${on} until xapi's resync there shut it down (the database copy placed it elsewhere): ${restartable(vm) ? 'restarted with the plan' : 'not restarted (not protected)'}`,
          0.5,
        );
      }
      for (const [uuid, on] of stopped)
        await ctx.progress(
          `VM ${byUuid.get(uuid)!.name_label} ran on ${on}, where the database placed it, and is halted now: stopped meanwhile by a person or its guest (a resync stops only a VM placed elsewhere) — not restarted`,
          0.5,
        );
      // Unknown to the new master (created since its copy): a resync shuts such a domain down (xapi_xenops.ml
      // xenopsd_vms_not_in_xapi), and no record is left here to start it from.
      for (const [uuid, on] of [...seen].filter(([uuid]) => !byUuid.has(uuid) && !settled.runningOn.has(uuid)))
        await ctx.progress(
          `VM ${uuid} ran on ${on} but is unknown to the database of ${promoted.host.name} (created since its copy): xapi's resync there shut it down, and it cannot be restarted from this database — recover it by hand`,
          0.5,
        );
      for (const vm of ranOnOld)
        await ctx.progress(
          `VM ${vm.name_label} ran on ${old.name} when the receiver last read its host record (${readAt}), and no answering host runs it now; the database copy has it ${vm.power_state}: ${unreadHosts ? `not restarted, unproven: ${unreadHosts} — start it by hand if it runs nowhere` : restartable(vm) ? 'restarted with the plan' : 'not restarted (not protected)'}`,
          0.5,
        );
      if (unknownToCopy.length)
        await ctx.progress(
          `${unknownToCopy.length} VM(s) ran on ${old.name} when the receiver last read its host record (${readAt}) but are unknown to the database of ${promoted.host.name} (created since its copy): they cannot be restarted from this database — recover them by hand (${unknownToCopy.slice(0, 10).join(', ')}${unknownToCopy.length > 10 ? ', …' : ''})`,
          0.5,
        );
      for (const [, why] of unproven)
        await ctx.progress(
          `not restarted, unproven: ${why}; it ran on ${old.name}, or was stopped or moved since the database copy — start it by hand if it should run`,
          0.5,
        );
      await ctx.progress(`the database of ${promoted.host.name} agrees with what every answering host runs (read from each host's RRDs)`, 1);
      return {
        shutDown: shutDown.map(([uuid]) => uuid),
        unaccounted: unproven.map(([uuid]) => uuid),
        ranOnOldMaster: ranOnOld.map((vm) => vm.uuid),
      };
    },
  });

  return {
    confirm_master_lost: confirmMasterLost,
    restart_master_toolstack: restartMasterToolstack,
    fence_master: fenceMaster,
    choose_member: chooseMemberTask,
    promote_member: promoteMember,
    recover_members: recoverMembers,
    verify_vm_placement: verifyVmPlacement,
    plan_vm_restarts: planVmRestarts,
    disable_host: onNewMaster(MASTER.disable_host, host.disable_host),
    reset_vm_power_states: onNewMaster(MASTER.reset_vm_power_states, host.reset_vm_power_states),
    restart_vms: onNewMaster(MASTER.restart_vms, host.restart_vms),
  };
}

/** Nothing is promoted before the old master is proven off. */
function requireFence(ctx: TaskContext, fenced: FenceResult | undefined): void {
  requireProvenOff(fenced, `pool master ${ctx.notification.hostName}`, 'nothing promoted');
}

/** session.slave_local_login_with_password on one host (its local superuser; ocaml/xapi/xapi_session.ml). The password
 * file is read again each time, so an operator who fixed it only confirms: no restart. */
async function localLogin(access: MasterFailoverAccess, h: PoolHost, config: NonNullable<MasterFailoverAccess['config']>, pool: string): Promise<string> {
  try {
    return await access.callAt<string>(
      h.address,
      'session.slave_local_login_with_password',
      [config.username, config.password.reread().reveal()],
      access.callTimeoutMs,
    );
  } catch (err) {
    if (isXapiError(err, 'SESSION_AUTHENTICATION_FAILED'))
      throw new WaitForOperator(
        'master_failover',
        `${h.name} refuses the local login of ${config.username} (SESSION_AUTHENTICATION_FAILED): nothing promoted; fix recovery_hook.pools.${pool}.master_failover's password (a password_file is read again), then confirm to try again`,
      );
    throw err;
  }
}

/** The new master's database against what each read host runs (uuids of VMs with a domain there). */
interface Placement {
  /** Each VM where the two disagree, said for a person. */
  disagreements: string[];
  /** VMs the database had running on a read host that did not run them: uuid → what was seen. */
  missing: Map<string, string>;
  /** Every VM with a domain on a read host → that host's name. */
  runningOn: Map<string, string>;
  /** Those of them the database does not have running on that host (elsewhere, halted, or unknown to it). */
  runningAgainst: Set<string>;
  unread: string[];
  silent: string[];
}

function comparePlacement(
  hosts: Record<string, HostRecord>,
  vms: Record<string, VmRecord>,
  running: Map<string, Set<string>>,
): Omit<Placement, 'unread' | 'silent'> {
  const hostByUuid = new Map(Object.entries(hosts).map(([ref, h]) => [h.uuid, { ref, ...h }]));
  const nameOf = (ref: string) => (ref === NULL_REF ? 'no host' : (hosts[ref]?.name_label ?? ref));
  const vmByUuid = new Map(Object.values(vms).map((vm) => [vm.uuid, vm]));
  const disagreements: string[] = [];
  const missing = new Map<string, string>();
  const runningOn = new Map<string, string>();
  const runningAgainst = new Set<string>();
  for (const [hostUuid, uuids] of running) {
    const host = hostByUuid.get(hostUuid);
    if (!host) continue;
    for (const uuid of uuids) {
      const vm = vmByUuid.get(uuid);
      if (vm?.is_control_domain) continue;
      runningOn.set(uuid, host.name_label);
      if (!vm) {
        disagreements.push(`VM ${uuid} runs on ${host.name_label} but is unknown to the database`);
        runningAgainst.add(uuid);
        continue;
      }
      const up = vm.power_state === 'Running' || vm.power_state === 'Paused';
      if (!up || vm.resident_on !== host.ref) {
        disagreements.push(`VM ${vm.name_label} runs on ${host.name_label} but the database says ${vm.power_state} on ${nameOf(vm.resident_on)}`);
        runningAgainst.add(uuid);
      }
    }
  }
  for (const vm of Object.values(vms)) {
    if (!isGuest(vm)) continue;
    if (vm.power_state !== 'Running' && vm.power_state !== 'Paused') continue;
    const host = hosts[vm.resident_on];
    const onHost = host && running.get(host.uuid);
    if (!onHost || onHost.has(vm.uuid)) continue;
    const why = `VM ${vm.name_label}: the database says ${vm.power_state} on ${host.name_label}, which does not run it`;
    disagreements.push(why);
    missing.set(vm.uuid, why);
  }
  return { disagreements, missing, runningOn, runningAgainst };
}

function describeAnswers(answers: HostAnswer[]): string {
  return answers.map(describeAnswer).join(', ');
}
