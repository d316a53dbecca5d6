// Instance failure: start a crashed (Halted) VM, or hard-reboot one that runs but whose guest stopped reporting; then
// confirm it runs and its guest heartbeat is back. A VM an operator paused, suspended or shut down is never touched.
import { Finish, Ignore, type Precheck, type TaskContext } from '../engine/task.js';
import { implement } from '../engine/wiring.js';
import type { WorkflowDeps } from './deps.js';
import { guestMemoryReport } from './guest-report.js';
import { INSTANCE } from './signatures.js';
import { type VmRecord, type Xapi, guestHeartbeat, isXapiError, vmByUuid, waitFor, xapiTime } from './xapi.js';

/** Masakari's actionable (event, vir_domain_event) pairs; everything else is `ignored`. */
const ACTIONABLE: Record<string, string[]> = {
  LIFECYCLE: ['STOPPED_FAILED'],
  QEMU_GUEST_AGENT_ERROR: ['STOPPED_FAILED'],
  IO_ERROR: ['IO_ERROR_REPORT'],
};
/** Events that mean "the guest stopped answering", not "the domain died". */
const HEARTBEAT_EVENTS = ['QEMU_GUEST_AGENT_ERROR'];

export type InstanceAction = 'start' | 'hard_reboot';

export const instancePrecheck: Precheck = (n) => {
  const event = String(n.payload.event ?? '').toUpperCase();
  const detail = String(n.payload.vir_domain_event ?? '').toUpperCase();
  if (ACTIONABLE[event]?.includes(detail)) return undefined;
  return { status: 'ignored', reason: `event ${event}/${detail} is not actionable (a deliberate stop or an informational event)` };
};

export function instanceTasks(deps: WorkflowDeps) {
  const xapiOf = (ctx: TaskContext) => deps.xapiFor(ctx.notification.poolName);
  const vmOf = async (ctx: TaskContext) => {
    try {
      return await vmByUuid(xapiOf(ctx), String(ctx.notification.payload.instance_uuid));
    } catch (err) {
      if (isXapiError(err, 'UUID_INVALID', 'HANDLE_INVALID')) throw new Ignore(`VM ${String(ctx.notification.payload.instance_uuid)} does not exist`);
      throw err;
    }
  };
  /** Paused/Suspended VMs and VMs whose start is blocked were put so by an operator. */
  const refuseOperatorState = (vm: VmRecord) => {
    if (vm.is_a_template || vm.is_control_domain) throw new Ignore(`${vm.name_label} is a template or a control domain: not recovered`);
    if (vm.power_state === 'Paused' || vm.power_state === 'Suspended')
      throw new Ignore(`VM ${vm.name_label} is ${vm.power_state} (an operator's choice): not touched`);
    if (vm.blocked_operations?.start !== undefined) throw new Ignore(`VM ${vm.name_label} has "start" in blocked_operations: not touched`);
  };

  const checkInstance = implement(INSTANCE.check_instance, {
    async run(ctx) {
      const { record: vm } = await vmOf(ctx);
      const named = ctx.notification.payload.vm_name;
      if (typeof named === 'string' && named && named !== vm.name_label)
        throw new Ignore(
          `VM name "${named}" in the notification does not match XAPI's name_label "${vm.name_label}" for VM uuid ${vm.uuid}: identity unclear, nothing done`,
        );
      refuseOperatorState(vm);
      const event = String(ctx.notification.payload.event ?? '').toUpperCase();
      if (vm.power_state === 'Halted') {
        if (HEARTBEAT_EVENTS.includes(event))
          throw new Ignore(`VM ${vm.name_label} is Halted after a heartbeat alert: treated as a deliberate shutdown, not touched`);
        await ctx.progress(`VM ${vm.name_label} is Halted after a crash: it will be started`, 1);
        return { action: 'start' };
      }
      // The guest's memory report in its RRD, not VM_guest_metrics.last_updated (see guest-report.ts).
      const report = await guestMemoryReport(xapiOf(ctx), vm, deps.settings.instanceFailure.heartbeatTimeoutMs / 1000, deps.probeTimeoutMs);
      if (report.kind === 'unknown') throw new Ignore(`VM ${vm.name_label} runs, ${report.reason}: a hung guest cannot be told from a live one`);
      if (report.kind === 'changing') throw new Finish(`VM ${vm.name_label} runs and its guest's memory report changed ${report.ageS} s ago: nothing to do`);
      await ctx.progress(`VM ${vm.name_label} runs but its guest's memory report has not changed for ${report.forS} s: it will be hard-rebooted`, 1);
      return { action: 'hard_reboot' };
    },
  });

  const recoverInstance = implement(INSTANCE.recover_instance, {
    async run(ctx, { check }) {
      const { action } = check;
      const xapi = xapiOf(ctx);
      const { ref, record: vm } = await vmOf(ctx);
      refuseOperatorState(vm);
      if (action === 'start') {
        if (vm.power_state === 'Running') {
          await ctx.progress(`VM ${vm.name_label} already runs`, 1);
          return { actedAt: ctx.firstStartedAt };
        }
        const start = {
          method: 'vm.start',
          params: { vm: vm.uuid, vm_name: vm.name_label, host: null },
          description: `start VM ${vm.name_label} (VM.start)`,
        } as const;
        await ctx.act(start, () => startTolerant(xapi, ref));
      } else {
        if (vm.power_state === 'Halted') throw new Ignore(`VM ${vm.name_label} was shut down meanwhile: treated as deliberate, not touched`);
        if (await rebootedSince(xapi, vm, ctx.firstStartedAt)) await ctx.progress(`VM ${vm.name_label} already rebooted by this task`, 1);
        else {
          const reboot = {
            method: 'vm.hard_reboot',
            params: { vm: vm.uuid, vm_name: vm.name_label },
            description: `hard-reboot VM ${vm.name_label} (VM.hard_reboot)`,
          } as const;
          await ctx.act(reboot, () => xapi.call('VM.hard_reboot', ref));
        }
      }
      return { actedAt: ctx.firstStartedAt };
    },
  });

  const confirmInstanceRunning = implement(INSTANCE.confirm_instance_running, {
    async run(ctx, { acted }) {
      if (ctx.mode === 'dry-run') {
        await ctx.progress('dry-run: would confirm the VM runs and its guest reports', 1);
        return null;
      }
      const xapi = xapiOf(ctx);
      const { actedAt } = acted ?? { actedAt: ctx.firstStartedAt };
      const since = Math.floor(actedAt / 1000) * 1000;
      const ok = await waitFor(
        async () => {
          const { record: vm } = await vmOf(ctx);
          if (vm.power_state !== 'Running') return undefined;
          const heartbeat = await guestHeartbeat(xapi, vm);
          return heartbeat === undefined || heartbeat >= since ? vm : undefined;
        },
        { timeoutMs: deps.settings.instanceFailure.confirmTimeoutMs, intervalMs: deps.pollIntervalMs, now: ctx.now, sleep: ctx.sleep },
      );
      if (!ok) throw new Error(`VM did not run with a fresh guest heartbeat within ${deps.settings.instanceFailure.confirmTimeoutMs / 1000} s`);
      await ctx.progress(`VM ${ok.name_label} runs and its guest reports`, 1);
      return null;
    },
  });

  return { check_instance: checkInstance, recover_instance: recoverInstance, confirm_instance_running: confirmInstanceRunning };
}

/** VM.start, accepting "it is already running" (started by someone else, or by us before a restart). */
async function startTolerant(xapi: Xapi, ref: string): Promise<void> {
  try {
    await xapi.call('VM.start', ref, false, false);
  } catch (err) {
    if (!(isXapiError(err, 'VM_BAD_POWER_STATE') && (await xapi.call<string>('VM.get_power_state', ref)) === 'Running')) throw err;
  }
}

/** Did the VM's domain start at or after `since` (VM_metrics.start_time)? */
async function rebootedSince(xapi: Xapi, vm: VmRecord, since: number): Promise<boolean> {
  const started = xapiTime(await xapi.call<string>('VM_metrics.get_start_time', vm.metrics));
  return !Number.isNaN(started) && started >= Math.floor(since / 1000) * 1000;
}
