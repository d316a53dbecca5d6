// Emergency shutdown on power loss (XCP_EMERGENCY_SHUTDOWN, event POWER_LOST), after Xen Orchestra's "Emergency
// Shutdown": suspend every running VM (its memory written to the suspend SR) in reverse start `order`, a few at a
// time, each confirmed Suspended; a VM that cannot be suspended (PCI/vGPU devices, no suspend SR, XAPI refuses) gets
// a clean shutdown, then a hard one. Then disable and halt the hosts, members first, the master last.
// A time budget (configured, or the UPS's remaining runtime less a reserve) sets three instants: from `hardShutdownAt`
// whatever still runs is hard-shut-down; by `vmDeadline` the VMs are done; by `deadline` the hosts are off. A host
// is never halted with a VM still running on it unless the deadline forces it, and the progress says so.
import { mapSettledLimit } from '../../core/concurrency.js';
import { TimeoutError } from '../../core/errors.js';
import { Finish, Ignore, type TaskContext } from '../engine/task.js';
import { implement } from '../engine/wiring.js';
import type { WorkflowDeps } from './deps.js';
import {
  type EmergencyDeps,
  type EmergencyPlan,
  type PlannedHost,
  type PlannedVm,
  clock,
  emergencyPayload,
  orderGroups,
  repeatOf,
  supersededBy,
} from './emergency.js';
import { EMERGENCY_SHUTDOWN } from './signatures.js';
import { type HostRecord, type PowerState, type VmRecord, type Xapi, hostAnswers, isGuest, isXapiError, waitFor, xapiNumber } from './xapi.js';

type VmOutcome = 'suspended' | 'clean_shutdown' | 'hard_shutdown' | 'already_off' | 'failed' | 'dry_run';

export interface VmReport {
  uuid: string;
  name: string;
  outcome: VmOutcome;
  reason?: string;
}

/** Race `p` against `ms`; the loser is left to settle on its own (its rejection is swallowed). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  p.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new TimeoutError(what, ms)), Math.max(0, ms))));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const reasonOf = (err: unknown) =>
  isXapiError(err) ? `${err.code}${err.params.length > 1 ? ` ${err.params.slice(1).join(' ')}` : ''}` : err instanceof Error ? err.message : String(err);

export function emergencyDepsOf(deps: WorkflowDeps): EmergencyDeps {
  if (!deps.emergency) throw new Ignore('this receiver has no emergency shutdown wired (recovery_hook.emergency)');
  return deps.emergency;
}

/** Power came back (a POWER_RESTORED recorded after this notification): the shutdown stops where it is. */
export async function stopIfRestored(ctx: TaskContext, em: EmergencyDeps): Promise<void> {
  const restored = supersededBy(ctx.notification, await em.history.recent(ctx.notification.poolName));
  if (restored) throw new Finish(`power restored meanwhile (notification ${restored.uuid}): the shutdown stops here`);
}

export function emergencyShutdownTasks(deps: WorkflowDeps) {
  const xapiOf = (ctx: TaskContext) => deps.xapiFor(ctx.notification.poolName);
  const em = () => emergencyDepsOf(deps);
  const poll = (ctx: TaskContext, timeoutMs: number) => ({
    timeoutMs: Math.max(0, timeoutMs),
    intervalMs: deps.pollIntervalMs,
    now: ctx.now,
    sleep: ctx.sleep,
  });

  const plan = implement(EMERGENCY_SHUTDOWN.plan_emergency_shutdown, {
    async run(ctx) {
      const { history, settings: s } = em();
      const n = ctx.notification;
      const recent = await history.recent(n.poolName);
      const repeat = repeatOf(
        n,
        recent.filter((e) => e.id < n.id),
      );
      if (repeat) throw new Ignore(`a repeat of emergency notification ${repeat.uuid} (${repeat.status}) for pool ${n.poolName}: no second shutdown`);
      await stopIfRestored(ctx, em());
      const payload = emergencyPayload(n);
      const xapi = xapiOf(ctx);
      const [poolRef] = await xapi.call<string[]>('pool.get_all');
      const masterRef = await xapi.call<string>('pool.get_master', poolRef);
      const records = Object.entries(await xapi.call<Record<string, HostRecord>>('host.get_all_records'));
      const inScope = records.filter(([, h]) => payload.scope === 'pool' || h.uuid === n.hostUuid);
      if (!inScope.length) throw new Ignore(`host ${n.hostName} (${n.hostUuid}) is not a host of pool ${n.poolName} in XAPI: nothing done`);
      const byRef = new Map(inScope);
      const hosts: PlannedHost[] = inScope
        .map(([ref, h]) => ({ uuid: h.uuid, name: h.name_label, address: h.address, master: ref === masterRef }))
        .sort((a, b) => Number(a.master) - Number(b.master) || a.name.localeCompare(b.name));
      const vms: PlannedVm[] = Object.values(await xapi.call<Record<string, VmRecord>>('VM.get_all_records'))
        .filter((vm) => isGuest(vm) && (vm.power_state === 'Running' || vm.power_state === 'Paused') && byRef.has(vm.resident_on))
        .map((vm) => {
          const h = byRef.get(vm.resident_on)!;
          return {
            uuid: vm.uuid,
            name: vm.name_label,
            order: xapiNumber(vm.order),
            hostUuid: h.uuid,
            hostName: h.name_label,
            paused: vm.power_state === 'Paused',
          };
        });

      const fromUps = payload.runtimeSeconds !== undefined ? payload.runtimeSeconds * 1000 - s.runtimeReserveMs : undefined;
      const budgetMs = Math.max(0, Math.min(s.budgetMs, fromUps ?? Infinity));
      // A short budget (little UPS runtime left) shrinks each share rather than leaving none for the VMs.
      const hostShare = Math.min(s.hostHaltMs, budgetMs / 2);
      const hardShare = Math.min(s.hardShutdownMs, (budgetMs - hostShare) / 2);
      const deadline = ctx.firstStartedAt + budgetMs;
      const result: EmergencyPlan = {
        scope: payload.scope,
        hosts,
        vms,
        deadline,
        vmDeadline: deadline - hostShare,
        hardShutdownAt: deadline - hostShare - hardShare,
        budgetMs,
      };
      const source =
        fromUps !== undefined && budgetMs === fromUps
          ? `the UPS's runtime ${payload.runtimeSeconds} s less the ${s.runtimeReserveMs / 1000} s reserve`
          : 'configured';
      const master = hosts.find((h) => h.master);
      await ctx.progress(
        `${vms.length} VM(s) to suspend on ${hosts.length} host(s) of pool ${n.poolName}${payload.scope === 'host' ? ` (host ${n.hostName} only)` : ''}; ` +
          `budget ${Math.round(budgetMs / 1000)} s (${source}): VMs still running at ${clock(result.hardShutdownAt)} UTC are hard-shut-down, ` +
          `hosts halted by ${clock(deadline)} UTC${master && hosts.length > 1 ? `, master ${master.name} last` : ''}`,
        1,
      );
      return result;
    },
  });

  /** Suspend one VM, else shut it down cleanly, else hard; what happened, never thrown. */
  async function putDown(ctx: TaskContext, xapi: Xapi, p: EmergencyPlan, vm: PlannedVm): Promise<VmReport> {
    const report = (outcome: VmOutcome, reason?: string): VmReport => ({ uuid: vm.uuid, name: vm.name, outcome, ...(reason ? { reason } : {}) });
    let ref: string;
    try {
      ref = await xapi.call<string>('VM.get_by_uuid', vm.uuid);
    } catch (err) {
      if (isXapiError(err, 'UUID_INVALID', 'HANDLE_INVALID')) return report('already_off', 'the VM no longer exists');
      throw err;
    }
    const state = () => xapi.call<PowerState>('VM.get_power_state', ref);
    const params = { vm: vm.uuid, vm_name: vm.name, host: vm.hostName };
    const hard = async (why: string): Promise<VmReport> => {
      const now = await state();
      if (now === 'Halted' || now === 'Suspended') return report(now === 'Halted' ? 'clean_shutdown' : 'suspended', why);
      try {
        await ctx.act({ method: 'vm.hard_shutdown', params, description: `hard-shut-down VM ${vm.name} (VM.hard_shutdown): ${why}` }, () =>
          xapi.call('VM.hard_shutdown', ref),
        );
        if ((await state()) === 'Halted') return report('hard_shutdown', why);
        return report('failed', `${why}; still ${await state()} after VM.hard_shutdown`);
      } catch (err) {
        return report('failed', `${why}; VM.hard_shutdown failed: ${reasonOf(err)}`);
      }
    };

    const before = await state();
    if (before === 'Suspended') return report('suspended', 'already suspended');
    if (before === 'Halted') return report('already_off', 'already halted');
    if (ctx.mode === 'dry-run') {
      await ctx.act({ method: 'vm.suspend', params, description: `suspend VM ${vm.name} on ${vm.hostName} (VM.suspend)` }, async () => undefined);
      return report('dry_run');
    }
    if (ctx.now() >= p.hardShutdownAt) return hard(`no time left to suspend (hard shutdowns from ${clock(p.hardShutdownAt)} UTC)`);
    let why: string;
    try {
      if (before === 'Paused')
        await ctx.act({ method: 'vm.unpause', params, description: `unpause VM ${vm.name} to suspend it (VM.unpause)` }, () => xapi.call('VM.unpause', ref));
      const suspend = ctx.act({ method: 'vm.suspend', params, description: `suspend VM ${vm.name} on ${vm.hostName} (VM.suspend)` }, () =>
        xapi.call('VM.suspend', ref),
      );
      await within(suspend, p.hardShutdownAt - ctx.now(), `VM.suspend of ${vm.name}`);
      const after = await state();
      if (after === 'Suspended') {
        await ctx.progress(`VM ${vm.name} is Suspended`, 0.5);
        return report('suspended');
      }
      why = `VM.suspend returned but the VM is ${after}`;
    } catch (err) {
      why = err instanceof TimeoutError ? `VM.suspend did not finish by ${clock(p.hardShutdownAt)} UTC` : `cannot be suspended: ${reasonOf(err)}`;
    }
    const now = await state();
    if (now === 'Suspended') return report('suspended', 'suspended late');
    if (now === 'Halted') return report('already_off', why);
    const cleanMs = Math.min(em().settings.cleanShutdownTimeoutMs, p.hardShutdownAt - ctx.now());
    if (now !== 'Running' || cleanMs <= 0) return hard(why);
    await ctx.progress(`VM ${vm.name} ${why}: clean shutdown instead (at most ${Math.round(cleanMs / 1000)} s)`, 0.5);
    try {
      const clean = ctx.act({ method: 'vm.clean_shutdown', params, description: `shut down VM ${vm.name} cleanly (VM.clean_shutdown)` }, () =>
        xapi.call('VM.clean_shutdown', ref),
      );
      await within(clean, cleanMs, `VM.clean_shutdown of ${vm.name}`);
      if ((await state()) === 'Halted') return report('clean_shutdown', why);
    } catch (err) {
      why = `${why}; clean shutdown: ${reasonOf(err)}`;
    }
    return hard(why);
  }

  const suspendVms = implement(EMERGENCY_SHUTDOWN.suspend_vms, {
    async run(ctx, { plan: p }) {
      await stopIfRestored(ctx, em());
      const xapi = xapiOf(ctx);
      const reports: VmReport[] = [];
      for (const group of orderGroups(p.vms, 'shutdown')) {
        const settled = await mapSettledLimit(group, em().settings.parallelSuspends, (vm) => putDown(ctx, xapi, p, vm));
        for (const [i, r] of settled.entries())
          reports.push(r.status === 'fulfilled' ? r.value : { uuid: group[i]!.uuid, name: group[i]!.name, outcome: 'failed', reason: reasonOf(r.reason) });
      }
      const not = reports.filter((r) => r.outcome !== 'suspended' && r.outcome !== 'dry_run' && r.outcome !== 'already_off');
      for (const r of not) await ctx.progress(`VM ${r.name}: ${r.outcome.replace('_', ' ')}${r.reason ? ` (${r.reason})` : ''}`, 0.9);
      await ctx.progress(summary(ctx.mode === 'dry-run', reports), 1);
      return { vms: reports };
    },
  });

  /** Non-control-domain VMs running (or paused) on `hostRef`, by name. */
  async function runningOn(xapi: Xapi, hostRef: string): Promise<string[]> {
    const vms = await xapi.call<Record<string, VmRecord>>('VM.get_all_records');
    return Object.values(vms)
      .filter((vm) => vm.resident_on === hostRef && !vm.is_control_domain && (vm.power_state === 'Running' || vm.power_state === 'Paused'))
      .map((vm) => vm.name_label);
  }

  /** Disable and halt one host; how it ended. */
  async function halt(ctx: TaskContext, xapi: Xapi, p: EmergencyPlan, h: PlannedHost): Promise<string> {
    const ref = await xapi.call<string>('host.get_by_uuid', h.uuid);
    if (!(await hostAnswers(xapi, ref, deps.probeTimeoutMs))) {
      await ctx.progress(`host ${h.name} does not answer: taken as already down`, 0.9);
      return `${h.name}: already down`;
    }
    const params = { host: h.name, host_uuid: h.uuid };
    let left = await runningOn(xapi, ref);
    if (left.length && ctx.mode !== 'dry-run') {
      await ctx.progress(
        `host ${h.name} still runs ${left.length} VM(s) (${left.slice(0, 5).join(', ')}): not halted before ${clock(p.deadline)} UTC unless they stop`,
        0.6,
      );
      await waitFor(async () => ((left = await runningOn(xapi, ref)).length === 0 ? true : undefined), poll(ctx, p.deadline - ctx.now()));
      if (left.length)
        await ctx.progress(
          `deadline ${clock(p.deadline)} UTC reached: halting host ${h.name} with ${left.length} VM(s) still running (${left.slice(0, 5).join(', ')}): they lose their state`,
          0.7,
        );
    }
    const record = await xapi.call<HostRecord>('host.get_record', ref);
    if (record.enabled)
      await ctx.act({ method: 'host.disable', params, description: `disable host ${h.name} (host.disable)` }, () => xapi.call('host.disable', ref));
    await ctx.act({ method: 'host.shutdown', params, description: `halt host ${h.name}${h.master ? ' (the master, last)' : ''} (host.shutdown)` }, () =>
      xapi.call('host.shutdown', ref),
    );
    if (ctx.mode === 'dry-run') return `${h.name}: would halt${left.length ? ` (${left.length} VM(s) run there now; they would be suspended first)` : ''}`;
    const fencing = deps.fencerFor(ctx.notification.poolName);
    const isOff = async () => {
      if (fencing) return (await fencing.fencer.powerStatus({ name: h.name, uuid: h.uuid }).catch(() => 'unknown')) === 'off';
      return !(await hostAnswers(xapi, ref, deps.probeTimeoutMs));
    };
    const confirmMs = Math.max(p.deadline - ctx.now(), em().settings.hostHaltMs);
    const off = await waitFor(async () => ((await isOff()) ? true : undefined), poll(ctx, confirmMs));
    if (!off)
      throw new Error(`host ${h.name} was asked to halt but is not ${fencing ? 'powered off (BMC)' : 'silent'} after ${Math.round(confirmMs / 1000)} s`);
    await ctx.progress(`host ${h.name} is ${fencing ? 'powered off (BMC)' : 'halted (XAPI no longer answers)'} at ${clock(ctx.now())} UTC`, 0.9);
    return `${h.name}: halted`;
  }

  const haltHosts = implement(EMERGENCY_SHUTDOWN.halt_hosts, {
    async run(ctx, { plan: p, putDown }) {
      await stopIfRestored(ctx, em());
      const xapi = xapiOf(ctx);
      const members = p.hosts.filter((h) => !h.master);
      const settled = await mapSettledLimit(members, Math.max(1, members.length), (h) => halt(ctx, xapi, p, h));
      const failed = settled.flatMap((r, i) => (r.status === 'rejected' ? [`${members[i]!.name}: ${reasonOf(r.reason)}`] : []));
      // The master last, and only after its members: halting it first would leave them without a pool database.
      for (const master of p.hosts.filter((h) => h.master)) {
        if (failed.length && ctx.now() < p.deadline)
          await ctx.progress(`${failed.length} member(s) not confirmed halted: the master ${master.name} is halted anyway (the power is going)`, 0.95);
        await halt(ctx, xapi, p, master).catch((err) => failed.push(`${master.name}: ${reasonOf(err)}`));
      }
      if (failed.length) throw new Error(`not every host was confirmed halted: ${failed.join('; ')}`);
      const vms = putDown?.vms ?? [];
      const done = ctx.now();
      throw new Finish(
        ctx.mode === 'dry-run'
          ? `dry-run: nothing was changed; ${summary(true, vms)}; ${p.hosts.length} host(s) would be halted`
          : `${summary(false, vms)}; ${p.hosts.length} host(s) halted at ${clock(done)} UTC, ${done <= p.deadline ? 'within' : 'AFTER'} the budget (deadline ${clock(p.deadline)} UTC)`,
      );
    },
  });

  return [plan, suspendVms, haltHosts];
}

function summary(dryRun: boolean, reports: VmReport[]): string {
  if (dryRun) return `would suspend ${reports.filter((r) => r.outcome === 'dry_run').length} VM(s)`;
  const count = (o: VmOutcome) => reports.filter((r) => r.outcome === o);
  const parts = [`${count('suspended').length} VM(s) suspended`];
  const clean = count('clean_shutdown');
  const hard = count('hard_shutdown');
  const failed = count('failed');
  if (clean.length) parts.push(`${clean.length} shut down cleanly (${clean.map((r) => r.name).join(', ')})`);
  if (hard.length) parts.push(`${hard.length} hard-shut-down (${hard.map((r) => r.name).join(', ')})`);
  if (failed.length) parts.push(`${failed.length} still running (${failed.map((r) => `${r.name}: ${r.reason ?? ''}`).join(', ')})`);
  return parts.join(', ');
}
