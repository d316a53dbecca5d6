// Host failure: prove the host is down, record what ran on it, fence it, then restart its VMs on other hosts.
// Safety:
// - identity from XAPI: the host is the one of the notification's uuid; a notification whose host name is not XAPI's
//   name_label for that uuid is ignored, and the fence target (name, BMC) comes from XAPI's record, never a label;
// - the restart plan (the VMs running on the host when it was confirmed down) is recorded before the fence: it is the
//   fence's commit point, so VMs a returning host's resync halted are still known and restarted;
// - right before the power-off the host is checked again: a host that is back is not powered off, and its VMs that
//   its resync halted are started again (XAPI's own database says Halted and the host answers: nothing runs twice);
// - the fence itself is fence-proof.ts (shared with the master failover): proof is our power-off followed by the BMC reporting off; a BMC that reports off before we asked,
//   does not answer or never reports off proves nothing: the workflow waits for an operator (confirm-fenced);
// - blast radius: at most fencing.max_hosts_fenced power-offs per pool in fence_window_seconds (store-wide), none
//   while more than max_down_share of the pool's hosts are not live, never the last live host: an operator decides;
// - a paused VM is never touched; a VM already running elsewhere is never started again; the notification does not
//   end `finished` while a VM recorded as running at confirmation is halted.
import { Finish, Ignore, type TaskContext } from '../engine/task.js';
import { implement } from '../engine/wiring.js';
import type { VmMove } from '../store/types.js';
import type { WorkflowDeps } from './deps.js';
import { type FenceResult, proveFenced } from './fence-proof.js';
import { requireProvenOff } from './no-fence-no-restart.js';
import { type CandidateHost, groupByRank, isProtected, placementOrder, restartRank } from './placement.js';
import { HOST } from './signatures.js';
import { type HostRecord, NULL_REF, type VmRecord, type Xapi, hostAnswers, hostByUuid, isGuest, isXapiError, vmByUuid, xapiNumber } from './xapi.js';
import { mapBounded } from '../../core/concurrency.js';

/** Errors after which another host may still work. */
const TRY_NEXT_HOST = [
  'HOST_NOT_ENOUGH_FREE_MEMORY',
  'HOST_OFFLINE',
  'HOST_DISABLED',
  'NO_HOSTS_AVAILABLE',
  'HOST_NOT_LIVE',
  'VM_REQUIRES_SR',
  'VM_REQUIRES_NET',
];
const OTHER_OPERATION_RETRIES = 3;

/** What plan_vm_restarts and restart_vms return: the VM moves by status. */
export interface PlanSummary {
  pending: number;
  ignored: number;
  succeeded: number;
  failed: number;
}

export function hostTasks(deps: WorkflowDeps) {
  const xapiOf = (ctx: TaskContext) => deps.xapiFor(ctx.notification.poolName);

  /** Reset and start only after the fence (fence_host, or fence_master of a master failover) succeeded in this workflow. */
  const requireFence = (ctx: TaskContext, fenced: FenceResult | undefined) =>
    requireProvenOff(fenced, `host ${ctx.notification.hostName}`, 'no VM is reset or started');

  const confirmHostDown = implement(HOST.confirm_host_down, {
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
  });

  /** Is the host back (live in XAPI and answering its own XAPI), gone (neither), or in between? */
  /** Live and answering: cheap first (the master's view), the probe only then. */
  const isBack = async (xapi: Xapi, ref: string, host: HostRecord): Promise<boolean> =>
    (await xapi.call<boolean>('host_metrics.get_live', host.metrics)) && (await hostAnswers(xapi, ref, deps.probeTimeoutMs));

  const hostState = async (xapi: Xapi, ref: string, host: HostRecord): Promise<'back' | 'down' | 'between'> => {
    const live = await xapi.call<boolean>('host_metrics.get_live', host.metrics);
    const answers = await hostAnswers(xapi, ref, deps.probeTimeoutMs);
    return live && answers ? 'back' : !live && !answers ? 'down' : 'between';
  };

  const fenceHost = implement(HOST.fence_host, {
    async run(ctx) {
      const n = ctx.notification;
      const xapi = xapiOf(ctx);
      const { ref, record: host } = await hostByUuid(xapi, n.hostUuid);
      return proveFenced(
        ctx,
        deps.fencerFor(n.poolName),
        {
          host,
          async recheck() {
            const state = await hostState(xapi, ref, host);
            if (state === 'back') await hostCameBack(ctx, xapi, host, 'before the fence: not powered off');
            if (state === 'between')
              throw new Error(`host ${host.name_label} is half back (live in XAPI or answering, not both): not powered off; checked again at the next attempt`);
          },
          isBack: () => isBack(xapi, ref, host),
          cameBack: (when) => hostCameBack(ctx, xapi, host, when),
          async poolHosts() {
            const hosts = Object.values(await xapi.call<Record<string, HostRecord>>('host.get_all_records'));
            return Promise.all(
              hosts.map(async (h) => ({ uuid: h.uuid, name_label: h.name_label, live: await xapi.call<boolean>('host_metrics.get_live', h.metrics) })),
            );
          },
        },
        deps.pollIntervalMs,
      );
    },
  });

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

  const disableHost = implement(HOST.disable_host, {
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
  });

  const planVmRestarts = implement(HOST.plan_vm_restarts, {
    async run(ctx, { fenced }) {
      if ((await ctx.moves.list()).length) {
        await ctx.progress('restart plan already recorded', 1);
        return planSummary(await ctx.moves.list());
      }
      const xapi = xapiOf(ctx);
      const { ref, record: host } = await hostByUuid(xapi, ctx.notification.hostUuid);
      const all = await xapi.call<Record<string, VmRecord>>('VM.get_all_records');
      const resident = Object.values(all).filter((vm) => vm.resident_on === ref && isGuest(vm));
      await ctx.moves.plan(resident.map((vm) => planMove(vm, host, deps.settings.hostFailure.restartUnprotected)));
      const summary = planSummary(await ctx.moves.list());
      await ctx.progress(`${summary.pending} VM(s) of ${host.name_label} to restart, ${summary.ignored} left alone`, 1);
      if (summary.pending === 0)
        throw new Finish(`no VM to restart from host ${host.name_label}${fenced ? ' (the old pool master, fenced)' : ': not powered off'}`);
      return summary;
    },
  });

  const resetVmPowerStates = implement(HOST.reset_vm_power_states, {
    async run(ctx, { fenced }) {
      requireFence(ctx, fenced);
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
  });

  const restartVms = implement(HOST.restart_vms, {
    async run(ctx, { fenced }) {
      requireFence(ctx, fenced);
      const xapi = xapiOf(ctx);
      const { ref: deadRef } = await hostByUuid(xapi, ctx.notification.hostUuid);
      const todo = (await ctx.moves.list()).filter((m) => m.status === 'pending' || m.status === 'ongoing' || m.status === 'failed');
      const groups = groupByRank(todo);
      let done = 0;
      for (const group of groups) {
        // The hosts are read once per group; what the group's starts take is reserved as they go.
        const candidates = await candidateHosts(xapi, deadRef);
        const reserved = new Map<string, number>();
        await mapBounded(group, deps.settings.hostFailure.parallelStarts, async (move) => {
          await restartOne(ctx, xapi, deadRef, move, candidates, reserved);
          await ctx.progress(`${++done}/${todo.length} VM(s) handled`, done / todo.length);
        });
      }
      const failed = (await ctx.moves.list()).filter((m) => m.status === 'failed');
      if (failed.length) throw new Error(`${failed.length} VM(s) could not be restarted: ${failed.map((m) => `${m.vmName} (${m.message})`).join('; ')}`);
      const restarted = await verifyRunning(ctx, xapi);
      if (restarted.length) await ctx.progress(`restarted: ${restarted.join(', ')}`, 1);
      return planSummary(await ctx.moves.list());
    },
  });

  async function restartOne(
    ctx: TaskContext,
    xapi: Xapi,
    deadRef: string,
    move: VmMove,
    candidates: readonly CandidateHost[],
    reserved: Map<string, number>,
  ): Promise<void> {
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
    const targets = placementOrder(candidates, reserved, need);
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
  async function startVm(
    ctx: TaskContext,
    xapi: Xapi,
    ref: string,
    vm: VmRecord,
    host: string | null,
    start: () => Promise<unknown>,
  ): Promise<'started' | string> {
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
  const base = { vmUuid: vm.uuid, vmName: vm.name_label, sourceHost: host.name_label, rank: restartRank(vm.ha_restart_priority, xapiNumber(vm.order)) };
  if (vm.power_state === 'Paused') return { ...base, status: 'ignored' as const, message: 'paused by an operator: not touched' };
  if (vm.power_state !== 'Running') return { ...base, status: 'ignored' as const, message: `${vm.power_state}: not touched` };
  if (!isProtected(vm.ha_restart_priority) && !restartUnprotected)
    return { ...base, status: 'ignored' as const, message: 'not protected (ha_restart_priority empty) and host_failure.restart_unprotected is false' };
  return { ...base, status: 'pending' as const };
}

export function planSummary(moves: VmMove[]): PlanSummary {
  const count = (pred: (m: VmMove) => boolean) => moves.filter(pred).length;
  return {
    pending: count((m) => m.status === 'pending' || m.status === 'ongoing'),
    ignored: count((m) => m.status === 'ignored'),
    succeeded: count((m) => m.status === 'succeeded'),
    failed: count((m) => m.status === 'failed'),
  };
}

/** Live, enabled hosts other than the failed one, with their free memory now (placement.ts orders them). */
async function candidateHosts(xapi: Xapi, deadRef: string): Promise<CandidateHost[]> {
  const hosts = await xapi.call<Record<string, HostRecord>>('host.get_all_records');
  const out: CandidateHost[] = [];
  for (const [ref, h] of Object.entries(hosts)) {
    if (ref === deadRef || !h.enabled) continue;
    const metrics = await xapi.call<{ live: boolean; memory_free: number | string }>('host_metrics.get_record', h.metrics);
    if (metrics.live) out.push({ ref, name: h.name_label, free: xapiNumber(metrics.memory_free) });
  }
  return out;
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
