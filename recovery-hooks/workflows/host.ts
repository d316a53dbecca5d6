// Host failure: prove the host is down, record what ran on it, fence it, then restart its VMs on other hosts.
// Safety:
// - identity from XAPI: the host is the one of the notification's uuid; a notification whose host name is not XAPI's
//   name_label for that uuid is ignored, and the fence target (name, BMC) comes from XAPI's record, never a label;
// - the restart plan (the VMs running on the host when it was confirmed down) is recorded before the fence: it is the
//   fence's commit point, so VMs a returning host's resync halted are still known and restarted;
// - right before the power-off the host is checked again: a host that is back is not powered off, and its VMs that
//   its resync halted are started again (XAPI's own database says Halted and the host answers: nothing runs twice);
// - proof of the fence is our power-off followed by the BMC reporting off; a BMC that reports off before we asked,
//   does not answer or never reports off proves nothing: the workflow waits for an operator (confirm-fenced);
// - blast radius: at most fencing.max_hosts_fenced power-offs per pool in fence_window_seconds (store-wide), none
//   while more than max_down_share of the pool's hosts are not live, never the last live host: an operator decides;
// - a paused VM is never touched; a VM already running elsewhere is never started again; the notification does not
//   end `finished` while a VM recorded as running at confirmation is halted.
import { Finish, Ignore, type Task, type TaskContext, WaitForOperator } from '../engine/task.js';
import type { VmMove } from '../store/types.js';
import type { PoolFencing, WorkflowDeps } from './deps.js';
import { resolveBmcMap } from './fence.js';
import type { HOST_TASKS } from './names.js';
import {
  type HostRecord,
  NULL_REF,
  type VmRecord,
  type Xapi,
  hostAnswers,
  hostByUuid,
  isXapiError,
  vmByUuid,
  waitFor,
  xapiNumber,
} from './xapi.js';
import type { FenceTarget, PowerStatus } from '../../core/fencing.js';
import { mapBounded } from '../../core/concurrency.js';

type HostTaskName = (typeof HOST_TASKS)[number];

const PRIORITY_RANK: Record<string, number> = { restart: 0, 'best-effort': 1, '': 2 };
/** Errors after which another host may still work. */
const TRY_NEXT_HOST = ['HOST_NOT_ENOUGH_FREE_MEMORY', 'HOST_OFFLINE', 'HOST_DISABLED', 'NO_HOSTS_AVAILABLE', 'HOST_NOT_LIVE', 'VM_REQUIRES_SR', 'VM_REQUIRES_NET'];
const OTHER_OPERATION_RETRIES = 3;

export interface FenceResult {
  /** bmc: our power-off, then the BMC reported off; operator: confirm-fenced, or a fence:assert token's host_status NORMAL. */
  fencedBy: 'operator' | 'bmc';
}

interface TargetHost {
  ref: string;
  name: string;
  free: number;
}

export function hostTasks(deps: WorkflowDeps): Record<HostTaskName, Task> {
  const xapiOf = (ctx: TaskContext) => deps.xapiFor(ctx.notification.poolName);
  const wait = <T>(ctx: TaskContext, timeoutMs: number, check: () => Promise<T | undefined>) =>
    waitFor(check, { timeoutMs, intervalMs: deps.pollIntervalMs, now: ctx.now, sleep: ctx.sleep });

  /** Reset and start only after fence_host succeeded in this workflow. */
  const requireFence = (ctx: TaskContext) => {
    if (!ctx.results.fence_host) throw new Ignore(`host ${ctx.notification.hostName} is not proven fenced: no VM is reset or started`);
  };

  const confirmHostDown: Task = {
    name: 'confirm_host_down',
    async run(ctx) {
      const xapi = xapiOf(ctx);
      const n = ctx.notification;
      const { ref, record } = await hostByUuid(xapi, n.hostUuid);
      if (n.hostName && n.hostName !== record.name_label)
        throw new Ignore(
          `host name "${n.hostName}" in the notification does not match XAPI's name_label "${record.name_label}" for host uuid ${n.hostUuid}: identity unclear, nothing powered off or restarted`,
        );
      await ctx.progress(`checking host ${record.name_label} in the pool master's view`, 0);
      if (await xapi.call<boolean>('host_metrics.get_live', record.metrics))
        throw new Ignore(`XAPI reports host ${record.name_label} live (host_metrics.live = true): not confirmed down, nothing restarted`);
      if (await hostAnswers(xapi, ref, deps.probeTimeoutMs))
        throw new Ignore(`host ${record.name_label} is not live in XAPI but still answers calls: not confirmed down, nothing restarted`);
      await ctx.progress(`host ${record.name_label} is not live (host_metrics.live = false) and does not answer`, 1);
      return null;
    },
  };

  /** Is the host back (live in XAPI and answering its own XAPI), gone (neither), or in between? */
  /** Live and answering: cheap first (the master's view), the probe only then. */
  const isBack = async (xapi: Xapi, ref: string, host: HostRecord): Promise<boolean> =>
    (await xapi.call<boolean>('host_metrics.get_live', host.metrics)) && (await hostAnswers(xapi, ref, deps.probeTimeoutMs));

  const hostState = async (xapi: Xapi, ref: string, host: HostRecord): Promise<'back' | 'down' | 'between'> => {
    const live = await xapi.call<boolean>('host_metrics.get_live', host.metrics);
    const answers = await hostAnswers(xapi, ref, deps.probeTimeoutMs);
    return live && answers ? 'back' : !live && !answers ? 'down' : 'between';
  };

  const fenceHost: Task = {
    name: 'fence_host',
    async run(ctx): Promise<FenceResult> {
      const n = ctx.notification;
      const xapi = xapiOf(ctx);
      const { ref, record: host } = await hostByUuid(xapi, n.hostUuid);
      const recheck = async () => {
        const state = await hostState(xapi, ref, host);
        if (state === 'back') await hostCameBack(ctx, xapi, host, 'before the fence: not powered off');
        if (state === 'between')
          throw new Error(`host ${host.name_label} is half back (live in XAPI or answering, not both): not powered off; checked again at the next attempt`);
      };
      await recheck();

      const confirmation = await ctx.fence.operatorWait();
      if (confirmation?.confirmedAt) {
        await ctx.progress(`an operator (token ${confirmation.confirmedBy}) confirmed ${host.name_label} is off at ${new Date(confirmation.confirmedAt).toISOString()}`, 1);
        return { fencedBy: 'operator' };
      }
      const asserted = n.source === 'api' && String(n.payload.host_status ?? '').toUpperCase() === 'NORMAL';
      const fencing = deps.fencerFor(n.poolName);
      if (!fencing) {
        if (asserted) return assertedOff(ctx, host, 'no fencing is configured for the pool');
        throw new WaitForOperator('fence_confirmation', `no fencing configured for pool ${n.poolName}: ${host.name_label} cannot be proven off; confirm it is off to restart its VMs`);
      }
      const bmcMap = resolveBmcMap(fencing.bmc, Object.values(await xapi.call<Record<string, HostRecord>>('host.get_all_records')));
      const bmc = bmcMap.byUuid.get(host.uuid);
      if (bmcMap.problems.length || (!bmc && Object.keys(fencing.bmc).length > 0))
        throw new WaitForOperator('fence_confirmation', bmcMap.problems.length ? bmcMap.problems.join('; ') : `fencing.bmc has no entry for ${host.name_label} (${host.uuid})`);
      const target: FenceTarget = { name: host.name_label, uuid: host.uuid, ...(bmc ? { bmc } : {}) };

      const before = await readPower(fencing, target);
      const ours = await ctx.fence.recorded();
      if (before.status === 'off' && ours) {
        await ctx.progress(`BMC of ${host.name_label} reports power off after our power-off of ${new Date(ours.at).toISOString()}`, 1);
        return { fencedBy: 'bmc' };
      }
      if (before.status !== 'on') {
        if (before.status === 'unknown' && asserted) return assertedOff(ctx, host, `the BMC does not answer (${before.why})`);
        throw new WaitForOperator(
          'fence_confirmation',
          before.status === 'off'
            ? `the BMC of ${host.name_label} reports power off although we sent no power-off: not proof (a BMC can report off while the host runs); confirm ${host.name_label} is off`
            : `the BMC of ${host.name_label} does not answer (${before.why}): ${host.name_label} cannot be proven off; confirm it is off`,
        );
      }
      await checkBlastRadius(ctx, xapi, host, fencing);
      await recheck();
      if (ctx.mode !== 'dry-run') {
        const reserved = await ctx.fence.reserve({ windowMs: fencing.limits.fenceWindowMs, max: fencing.limits.maxHostsFenced });
        if (!reserved.granted)
          throw new WaitForOperator(
            'blast_radius',
            `pool ${n.poolName} already had ${reserved.recent.length} power-off(s) in the last ${fencing.limits.fenceWindowMs / 1000} s (fencing.max_hosts_fenced ${fencing.limits.maxHostsFenced}): ${host.name_label} is not powered off automatically; confirm it is off`,
          );
      }
      const fence = {
        method: 'host.fence',
        params: { host: host.name_label, host_uuid: host.uuid, pool: n.poolName },
        description: `power off ${host.name_label} through its BMC and wait for it to report power off`,
      } as const;
      let failure: string | undefined;
      const outcome = await ctx.act(fence, async () => {
        try {
          await fencing.fencer.powerOff(target);
        } catch (err) {
          // A failed or timed-out command may still have landed (its process group is killed): read the state again.
          failure = err instanceof Error ? err.message : String(err);
        }
        // Off, or back: a host that answers again after our power-off has rebooted (its resync halted its VMs).
        const seen = await wait(ctx, fencing.confirmTimeoutMs, async () =>
          (await readPower(fencing, target)).status === 'off' ? 'off' : (await isBack(xapi, ref, host)) ? 'back' : undefined,
        );
        if (!seen)
          throw new WaitForOperator(
            'fence_confirmation',
            `the BMC of ${host.name_label} does not report power off within ${fencing.confirmTimeoutMs / 1000} s of the power-off${failure ? ` (${failure})` : ''}: confirm ${host.name_label} is off`,
          );
        return seen;
      });
      if (outcome === 'back') await hostCameBack(ctx, xapi, host, 'after our power-off (it rebooted): not powered off again');
      if (ctx.mode === 'dry-run') {
        await ctx.progress(`dry-run: ${host.name_label} was not powered off; what follows is what a confirmed power-off would lead to`, 1);
        return { fencedBy: 'bmc' };
      }
      await ctx.progress(`${host.name_label} fenced (BMC power off${failure ? ` after: ${failure}` : ''})`, 1);
      return { fencedBy: 'bmc' };
    },
  };

  async function assertedOff(ctx: TaskContext, host: HostRecord, why: string): Promise<FenceResult> {
    await ctx.progress(`fence asserted by the sender (host_status NORMAL from a token with fence:assert) and ${why}: ${host.name_label} is taken as off`, 1);
    return { fencedBy: 'operator' };
  }

  /** The BMC's answer; unknown (with why) when it does not answer or answers something else than on/off. */
  async function readPower(fencing: PoolFencing, target: FenceTarget): Promise<{ status: PowerStatus; why?: string }> {
    try {
      const status = await fencing.fencer.powerStatus(target);
      return status === 'unknown' ? { status, why: 'no power state in its answer' } : { status };
    } catch (err) {
      return { status: 'unknown', why: err instanceof Error ? err.message : String(err) };
    }
  }

  /** Too many hosts down at once (a partition is likelier) or the last live host: a person decides. */
  async function checkBlastRadius(ctx: TaskContext, xapi: Xapi, host: HostRecord, fencing: PoolFencing): Promise<void> {
    const hosts = Object.values(await xapi.call<Record<string, HostRecord>>('host.get_all_records'));
    let notLive = 0;
    let liveOthers = 0;
    for (const h of hosts) {
      const live = await xapi.call<boolean>('host_metrics.get_live', h.metrics);
      if (!live) notLive++;
      else if (h.uuid !== host.uuid) liveOthers++;
    }
    const pool = ctx.notification.poolName;
    if (liveOthers === 0)
      throw new WaitForOperator('blast_radius', `no other host of pool ${pool} is live: ${host.name_label} is not powered off automatically (never the last live host); confirm it is off`);
    if (notLive / hosts.length > fencing.limits.maxDownShare)
      throw new WaitForOperator(
        'blast_radius',
        `${notLive} of ${hosts.length} hosts of pool ${pool} are not live in XAPI (more than fencing.max_down_share ${fencing.limits.maxDownShare}): a partition is likelier than dead hosts; ${host.name_label} is not powered off automatically; confirm it is off`,
      );
  }

  /**
   * The host answers again and is live: it is not powered off. When xapi starts on a host it resyncs its VMs with
   * xenopsd and marks those not running Halted (ocaml/xapi/xapi_xenops.ml resync; xen-api design "Handling of
   * resident_on and power_state"), so recorded VMs now Halted in XAPI's database are started again: safe, since the
   * host answers and its own database says they do not run.
   */
  /** `when`: the moment and what it means, e.g. "before the fence: not powered off". */
  async function hostCameBack(ctx: TaskContext, xapi: Xapi, host: HostRecord, when: string): Promise<never> {
    await ctx.progress(`host ${host.name_label} is back (live in XAPI and answering) ${when}`, 0.5);
    const outcomes: string[] = [];
    for (const move of (await ctx.moves.list()).filter((m) => m.status !== 'ignored' && m.status !== 'succeeded')) {
      const { ref, record: vm } = await vmByUuid(xapi, move.vmUuid);
      if (vm.power_state === 'Running' || vm.power_state === 'Paused') {
        const where = await hostName(xapi, vm.resident_on);
        await ctx.moves.update(move.vmUuid, { status: 'succeeded', destHost: where, message: `runs on ${where} (host came back)`, endTime: ctx.now() });
        outcomes.push(`${vm.name_label} runs on ${where}`);
        continue;
      }
      if (vm.power_state !== 'Halted') {
        await ctx.moves.update(move.vmUuid, { status: 'ignored', message: `${vm.power_state}: not touched`, endTime: ctx.now() });
        continue;
      }
      if (ctx.mode === 'dry-run') {
        await ctx.moves.update(move.vmUuid, { status: 'ignored', message: 'dry-run: would start again (halted by the host resync)' });
        outcomes.push(`${vm.name_label} would be started again`);
        continue;
      }
      await ctx.moves.update(move.vmUuid, { status: 'ongoing', destHost: null, startTime: ctx.now() });
      const outcome = await startVm(ctx, xapi, ref, vm, null, () => xapi.call('VM.start', ref, false, false));
      if (outcome !== 'started') {
        await ctx.moves.update(move.vmUuid, { status: 'failed', message: outcome, endTime: ctx.now() });
        throw new Error(`host ${host.name_label} came back (not powered off) but VM ${vm.name_label}, halted by its resync, did not start: ${outcome}`);
      }
      const where = await hostName(xapi, await xapi.call<string>('VM.get_resident_on', ref));
      await ctx.moves.update(move.vmUuid, { status: 'succeeded', destHost: where, message: 'halted by the host resync, started again', endTime: ctx.now() });
      outcomes.push(`${vm.name_label} started again on ${where}`);
    }
    await verifyRunning(ctx, xapi);
    throw new Finish(`host ${host.name_label} came back ${when}${outcomes.length ? `; ${outcomes.join(', ')}` : ''}`);
  }

  const disableHost: Task = {
    name: 'disable_host',
    async run(ctx) {
      const xapi = xapiOf(ctx);
      const { ref, record } = await hostByUuid(xapi, ctx.notification.hostUuid);
      if (!record.enabled) {
        await ctx.progress(`host ${record.name_label} is already disabled`, 1);
        return null;
      }
      const disable = {
        method: 'host.disable',
        params: { host: record.name_label, host_uuid: ctx.notification.hostUuid, pool: ctx.notification.poolName },
        description: `disable host ${record.name_label} (host.disable) so that nothing starts there`,
      } as const;
      await ctx.act(disable, async () => {
        try {
          await xapi.call('host.disable', ref);
        } catch (err) {
          if (!isXapiError(err, 'HOST_OFFLINE')) throw err;
          await ctx.progress(`host ${record.name_label} is offline: XAPI cannot disable it (it is fenced, VMs are placed elsewhere explicitly)`, 1);
        }
      });
      return null;
    },
  };

  const planVmRestarts: Task = {
    name: 'plan_vm_restarts',
    async run(ctx) {
      if ((await ctx.moves.list()).length) {
        await ctx.progress('restart plan already recorded', 1);
        return planSummary((await ctx.moves.list()));
      }
      const xapi = xapiOf(ctx);
      const { ref, record: host } = await hostByUuid(xapi, ctx.notification.hostUuid);
      const all = await xapi.call<Record<string, VmRecord>>('VM.get_all_records');
      const resident = Object.values(all).filter((vm) => vm.resident_on === ref && !vm.is_control_domain && !vm.is_a_template && !vm.is_a_snapshot);
      await ctx.moves.plan(resident.map((vm) => planMove(vm, host, deps.settings.hostFailure.restartUnprotected)));
      const summary = planSummary((await ctx.moves.list()));
      await ctx.progress(`${summary.pending} VM(s) of ${host.name_label} to restart, ${summary.ignored} left alone`, 1);
      if (summary.pending === 0) throw new Finish(`no VM to restart from host ${host.name_label}: not powered off`);
      return summary;
    },
  };

  const resetVmPowerStates: Task = {
    name: 'reset_vm_power_states',
    async run(ctx) {
      requireFence(ctx);
      const xapi = xapiOf(ctx);
      const { ref: deadRef } = await hostByUuid(xapi, ctx.notification.hostUuid);
      const todo = (await ctx.moves.list()).filter((m) => m.status !== 'succeeded' && m.status !== 'ignored');
      for (const [i, move] of todo.entries()) {
        const { ref, record: vm } = await vmByUuid(xapi, move.vmUuid);
        if (vm.resident_on !== deadRef || vm.power_state === 'Halted') continue;
        const reset = {
          method: 'vm.power_state_reset',
          params: { vm: move.vmUuid, vm_name: vm.name_label, power_state: vm.power_state, host: ctx.notification.hostName },
          description: `reset the power state of VM ${vm.name_label} (VM.power_state_reset: ${vm.power_state} on the dead host → Halted)`,
        } as const;
        await ctx.act(reset, () => xapi.call('VM.power_state_reset', ref));
        if (ctx.mode !== 'dry-run') await ctx.progress(`VM ${vm.name_label} reset`, (i + 1) / todo.length);
      }
      return null;
    },
  };

  const restartVms: Task = {
    name: 'restart_vms',
    async run(ctx) {
      requireFence(ctx);
      const xapi = xapiOf(ctx);
      const { ref: deadRef } = await hostByUuid(xapi, ctx.notification.hostUuid);
      const todo = (await ctx.moves.list()).filter((m) => m.status === 'pending' || m.status === 'ongoing' || m.status === 'failed');
      const groups = groupByRank(todo);
      let done = 0;
      for (const group of groups) {
        const reserved = new Map<string, number>();
        await mapBounded(group, deps.settings.hostFailure.parallelStarts, async (move) => {
          await restartOne(ctx, xapi, deadRef, move, reserved);
          await ctx.progress(`${++done}/${todo.length} VM(s) handled`, done / todo.length);
        });
      }
      const failed = (await ctx.moves.list()).filter((m) => m.status === 'failed');
      if (failed.length) throw new Error(`${failed.length} VM(s) could not be restarted: ${failed.map((m) => `${m.vmName} (${m.message})`).join('; ')}`);
      const restarted = await verifyRunning(ctx, xapi);
      if (restarted.length) await ctx.progress(`restarted: ${restarted.join(', ')}`, 1);
      return planSummary((await ctx.moves.list()));
    },
  };

  async function restartOne(ctx: TaskContext, xapi: Xapi, deadRef: string, move: VmMove, reserved: Map<string, number>): Promise<void> {
    const { ref, record: vm } = await vmByUuid(xapi, move.vmUuid);
    const running = vm.power_state === 'Running' || vm.power_state === 'Paused';
    if (running && vm.resident_on !== deadRef && vm.resident_on !== NULL_REF) {
      const where = await hostName(xapi, vm.resident_on);
      await ctx.moves.update(move.vmUuid, { status: 'succeeded', destHost: where, message: `already running on ${where}`, endTime: ctx.now() });
      return;
    }
    // In dry-run the power state was not reset: a VM still recorded on the failed host is what would be started.
    const startable = vm.power_state === 'Halted' || (ctx.mode === 'dry-run' && running);
    if (!startable) {
      const why = running ? 'still recorded on the failed host (power state not reset)' : `${vm.power_state}: not touched`;
      await ctx.moves.update(move.vmUuid, { status: running ? 'failed' : 'ignored', message: why, endTime: ctx.now() });
      return;
    }
    const need = xapiNumber(vm.memory_static_max);
    const targets = (await candidateHosts(xapi, deadRef)).filter((h) => h.free - (reserved.get(h.ref) ?? 0) >= need);
    if (ctx.mode === 'dry-run') {
      const dest = targets[0]?.name ?? 'a host chosen by XAPI';
      await ctx.progress(`dry-run: would start VM ${vm.name_label} on ${dest}`, 0.5);
      await ctx.moves.update(move.vmUuid, { status: 'ignored', destHost: targets[0]?.name ?? null, message: `dry-run: would start on ${dest}` });
      return;
    }
    for (const target of targets) {
      reserved.set(target.ref, (reserved.get(target.ref) ?? 0) + need);
      await ctx.moves.update(move.vmUuid, { status: 'ongoing', destHost: target.name, startTime: ctx.now() });
      const outcome = await startVm(ctx, xapi, ref, vm, target.name, () => xapi.call('VM.start_on', ref, target.ref, false, false));
      if (outcome === 'started') {
        await ctx.moves.update(move.vmUuid, { status: 'succeeded', destHost: target.name, message: null, endTime: ctx.now() });
        return;
      }
      reserved.set(target.ref, (reserved.get(target.ref) ?? 0) - need);
      if (outcome.startsWith('VM.start did not return')) {
        // Still starting, maybe: another start would only collide with it. The next attempt looks again.
        await ctx.moves.update(move.vmUuid, { status: 'failed', message: outcome, endTime: ctx.now() });
        return;
      }
      await ctx.progress(`VM ${vm.name_label} cannot start on ${target.name}: ${outcome}`, 0.5);
    }
    // No planned host fits (or all refused): let XAPI choose among the live hosts.
    await ctx.moves.update(move.vmUuid, { status: 'ongoing', destHost: null, startTime: ctx.now() });
    const outcome = await startVm(ctx, xapi, ref, vm, null, () => xapi.call('VM.start', ref, false, false));
    if (outcome === 'started') {
      const where = await hostName(xapi, await xapi.call<string>('VM.get_resident_on', ref));
      await ctx.moves.update(move.vmUuid, { status: 'succeeded', destHost: where, message: null, endTime: ctx.now() });
    } else await ctx.moves.update(move.vmUuid, { status: 'failed', message: outcome, endTime: ctx.now() });
  }

  /**
   * Before a host recovery may end `finished`: every VM recorded as running at confirmation (its move not ignored) runs
   * now, as XAPI says. One found halted is marked failed and the task fails (a retry starts it). Returns "vm on host".
   */
  async function verifyRunning(ctx: TaskContext, xapi: Xapi): Promise<string[]> {
    if (ctx.mode === 'dry-run') return [];
    const where: string[] = [];
    const halted: string[] = [];
    for (const move of await ctx.moves.list()) {
      if (move.status === 'ignored') continue;
      const { record: vm } = await vmByUuid(xapi, move.vmUuid);
      if (vm.power_state === 'Running' || vm.power_state === 'Paused') {
        where.push(`${vm.name_label} on ${await hostName(xapi, vm.resident_on)}`);
        continue;
      }
      halted.push(`${vm.name_label} (${vm.power_state})`);
      await ctx.moves.update(move.vmUuid, { status: 'failed', message: `${vm.power_state} after its recovery`, endTime: ctx.now() });
    }
    if (halted.length) throw new Error(`${halted.length} VM(s) that ran on ${ctx.notification.hostName} do not run: ${halted.join(', ')}`);
    return where;
  }

  /** Start once (on `host`, or where XAPI chooses); 'started', or the reason it did not. Re-reads the state on VM_BAD_POWER_STATE. */
  async function startVm(ctx: TaskContext, xapi: Xapi, ref: string, vm: VmRecord, host: string | null, start: () => Promise<unknown>): Promise<'started' | string> {
    const action = {
      method: 'vm.start',
      params: { vm: vm.uuid, vm_name: vm.name_label, host, failed_host: ctx.notification.hostName },
      description: `starting VM ${vm.name_label}`,
    } as const;
    const timeoutMs = deps.settings.hostFailure.startTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await ctx.act(action, () => withDeadline(start(), timeoutMs));
        return 'started';
      } catch (err) {
        if (isXapiError(err, 'OTHER_OPERATION_IN_PROGRESS') && attempt < OTHER_OPERATION_RETRIES) {
          await ctx.sleep(deps.pollIntervalMs);
          continue;
        }
        if (isXapiError(err, 'VM_BAD_POWER_STATE')) {
          const state = await xapi.call<string>('VM.get_power_state', ref);
          if (state === 'Running') return 'started';
          return `VM_BAD_POWER_STATE: now ${state}`;
        }
        if (isXapiError(err, ...TRY_NEXT_HOST)) return err.code;
        if (err instanceof StartTimeout) {
          // XAPI may still finish the start (it serializes operations on a VM, so it cannot start twice): look again.
          const state = await xapi.call<string>('VM.get_power_state', ref);
          return state === 'Running' ? 'started' : `VM.start did not return within host_failure.start_timeout_seconds (${timeoutMs / 1000} s); now ${state}`;
        }
        throw err;
      }
    }
  }

  return {
    confirm_host_down: confirmHostDown,
    fence_host: fenceHost,
    disable_host: disableHost,
    plan_vm_restarts: planVmRestarts,
    reset_vm_power_states: resetVmPowerStates,
    restart_vms: restartVms,
  };
}

function planMove(vm: VmRecord, host: HostRecord, restartUnprotected: boolean) {
  const priority = PRIORITY_RANK[vm.ha_restart_priority] ?? PRIORITY_RANK['']!;
  const base = { vmUuid: vm.uuid, vmName: vm.name_label, sourceHost: host.name_label, rank: priority * 1_000_000 + Math.max(0, Math.min(999_999, xapiNumber(vm.order))) };
  if (vm.power_state === 'Paused') return { ...base, status: 'ignored' as const, message: 'paused by an operator: not touched' };
  if (vm.power_state !== 'Running') return { ...base, status: 'ignored' as const, message: `${vm.power_state}: not touched` };
  if (priority === PRIORITY_RANK['']! && !restartUnprotected)
    return { ...base, status: 'ignored' as const, message: 'not protected (ha_restart_priority empty) and host_failure.restart_unprotected is false' };
  return { ...base, status: 'pending' as const };
}

function planSummary(moves: VmMove[]): { pending: number; ignored: number; succeeded: number; failed: number } {
  const count = (pred: (m: VmMove) => boolean) => moves.filter(pred).length;
  return {
    pending: count((m) => m.status === 'pending' || m.status === 'ongoing'),
    ignored: count((m) => m.status === 'ignored'),
    succeeded: count((m) => m.status === 'succeeded'),
    failed: count((m) => m.status === 'failed'),
  };
}

/** Groups of equal rank, in ascending rank (protected first, then by VM.order), as XAPI HA restarts them. */
function groupByRank(moves: VmMove[]): VmMove[][] {
  const groups = new Map<number, VmMove[]>();
  for (const m of [...moves].sort((a, b) => a.rank - b.rank)) groups.set(m.rank, [...(groups.get(m.rank) ?? []), m]);
  return [...groups.values()];
}

/** Live, enabled hosts other than the failed one, most free memory first. */
async function candidateHosts(xapi: Xapi, deadRef: string): Promise<TargetHost[]> {
  const hosts = await xapi.call<Record<string, HostRecord>>('host.get_all_records');
  const out: TargetHost[] = [];
  for (const [ref, h] of Object.entries(hosts)) {
    if (ref === deadRef || !h.enabled) continue;
    const metrics = await xapi.call<{ live: boolean; memory_free: number | string }>('host_metrics.get_record', h.metrics);
    if (metrics.live) out.push({ ref, name: h.name_label, free: xapiNumber(metrics.memory_free) });
  }
  return out.sort((a, b) => b.free - a.free);
}

async function hostName(xapi: Xapi, ref: string): Promise<string> {
  return ref && ref !== NULL_REF ? xapi.call<string>('host.get_name_label', ref) : 'unknown host';
}

class StartTimeout extends Error {
  override name = 'StartTimeout';
}

/** `promise`, or a StartTimeout after `ms` (the call itself goes on: XAPI decides its outcome). */
async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new StartTimeout(`no answer within ${ms} ms`)), ms)));
  promise.catch(() => {});
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
