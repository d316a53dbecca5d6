// Power back after an emergency shutdown (XCP_EMERGENCY_SHUTDOWN, event POWER_RESTORED): read the plan the last
// shutdown of the pool recorded, power its hosts on through their BMC when configured (the master first, so the
// members find it), wait until each is live and answers, then bring the VMs back in start `order`: a Suspended VM is
// resumed on its own host (VM.resume_on) or, that host not back, wherever XAPI can run it (VM.resume); a VM that had
// to be shut down is started. Any VM that could not be brought back is named, and the notification ends in error
// (retried: every step reads the state first, so a second run only does what is left).
import { mapSettledLimit } from '../../core/concurrency.js';
import { Ignore, type Precheck, type TaskContext } from '../engine/task.js';
import { implement } from '../engine/wiring.js';
import type { WorkflowDeps } from './deps.js';
import { type EmergencyDeps, type EmergencyPlan, type PlannedHost, type PlannedVm, emergencyPayload, orderGroups, repeatOf } from './emergency.js';
import { emergencyDepsOf } from './emergency-shutdown.js';
import { EMERGENCY_RESUME } from './signatures.js';
import { type HostRecord, type PowerState, type Xapi, hostAnswers, isXapiError, waitFor } from './xapi.js';

export interface ResumePlan {
  shutdown: string;
  plan: EmergencyPlan;
}

/** A resolved power-loss alert resumes only when `emergency.resume_on_resolved` says so. */
export function resumePrecheck(em: EmergencyDeps | undefined): Precheck {
  return (n) =>
    n.source === 'alertmanager' && em && !em.settings.resumeOnResolved
      ? {
          status: 'ignored',
          reason: 'the power-loss alert resolved, but emergency.resume_on_resolved is false: resume with the API or `xcp-sentinel emergency-resume`',
        }
      : undefined;
}

const reasonOf = (err: unknown) => (isXapiError(err) ? err.code : err instanceof Error ? err.message : String(err));

export function emergencyResumeTasks(deps: WorkflowDeps) {
  const xapiOf = (ctx: TaskContext) => deps.xapiFor(ctx.notification.poolName);
  const poll = (ctx: TaskContext, timeoutMs: number) => ({ timeoutMs, intervalMs: deps.pollIntervalMs, now: ctx.now, sleep: ctx.sleep });

  const planResume = implement(EMERGENCY_RESUME.plan_resume, {
    async run(ctx) {
      const em = emergencyDepsOf(deps);
      const n = ctx.notification;
      const earlier = (await em.history.recent(n.poolName)).filter((e) => e.id < n.id);
      const repeat = repeatOf(n, earlier);
      if (repeat) throw new Ignore(`a repeat of resume ${repeat.uuid} (${repeat.status}) for pool ${n.poolName}: no second resume`);
      const scope = emergencyPayload(n).scope;
      // The newest shutdown that ran (a repeat of a trigger is ignored and planned nothing).
      const shutdown = earlier.find(
        (e) => emergencyPayload(e).event === 'POWER_LOST' && e.status !== 'ignored' && (scope === 'pool' || e.hostUuid === n.hostUuid),
      );
      if (!shutdown)
        throw new Ignore(`no emergency shutdown of ${scope === 'pool' ? `pool ${n.poolName}` : `host ${n.hostName}`} is recorded: nothing to resume`);
      const plan = (await em.history.results(shutdown.uuid)).plan_emergency_shutdown as EmergencyPlan | null | undefined;
      if (!plan) throw new Ignore(`emergency shutdown ${shutdown.uuid} ended ${shutdown.status} before it planned anything: nothing to resume`);
      await ctx.progress(`resuming after emergency shutdown ${shutdown.uuid} (${shutdown.status}): ${plan.hosts.length} host(s), ${plan.vms.length} VM(s)`, 1);
      return { shutdown: shutdown.uuid, plan };
    },
  });

  /** The host is booted: live in the master's database and its XAPI answers. */
  async function hostBack(xapi: Xapi, h: PlannedHost): Promise<boolean> {
    try {
      const ref = await xapi.call<string>('host.get_by_uuid', h.uuid);
      const record = await xapi.call<HostRecord>('host.get_record', ref);
      return (await xapi.call<boolean>('host_metrics.get_live', record.metrics)) === true && (await hostAnswers(xapi, ref, deps.probeTimeoutMs));
    } catch {
      return false;
    }
  }

  const powerOnHosts = implement(EMERGENCY_RESUME.power_on_hosts, {
    async run(ctx, { resume }) {
      const em = emergencyDepsOf(deps);
      const p = resume.plan;
      const xapi = xapiOf(ctx);
      const fencing = em.settings.powerOn ? deps.fencerFor(ctx.notification.poolName) : undefined;
      const powerOn = fencing?.fencer.powerOn?.bind(fencing.fencer);
      if (!powerOn)
        await ctx.progress(
          `no BMC power-on (emergency.power_on ${em.settings.powerOn ? 'on, but the pool has no fencing settings' : 'off'}): power the hosts on by hand`,
          0.1,
        );
      const ensurePowered = async (h: PlannedHost) => {
        if (!powerOn || !fencing) return;
        const target = { name: h.name, uuid: h.uuid };
        const status = await fencing.fencer.powerStatus(target).catch(() => 'unknown' as const);
        if (status === 'on') return void (await ctx.progress(`host ${h.name} is powered (BMC)`, 0.2));
        await ctx.act(
          { method: 'host.power_on', params: { host: h.name, host_uuid: h.uuid }, description: `power on host ${h.name} through its BMC (was ${status})` },
          () => powerOn(target),
        );
      };
      if (ctx.mode === 'dry-run') {
        for (const h of p.hosts.filter((x) => x.master).concat(p.hosts.filter((x) => !x.master))) await ensurePowered(h);
        await ctx.progress('dry-run: would wait for the hosts to be live', 1);
        return { back: [] };
      }
      const deadline = ctx.now() + em.settings.hostBootTimeoutMs;
      const back: string[] = [];
      const bring = async (h: PlannedHost) => {
        await ensurePowered(h);
        if (await waitFor(async () => ((await hostBack(xapi, h)) ? true : undefined), poll(ctx, Math.max(0, deadline - ctx.now())))) {
          back.push(h.uuid);
          await ctx.progress(`host ${h.name} is live`, 0.5);
        } else await ctx.progress(`host ${h.name} is not back after ${em.settings.hostBootTimeoutMs / 1000} s: its VMs go elsewhere`, 0.5);
      };
      // The master first: members that boot before it would find no pool database.
      for (const master of p.hosts.filter((h) => h.master)) await bring(master);
      const members = p.hosts.filter((h) => !h.master);
      await mapSettledLimit(members, Math.max(1, members.length), bring);
      for (const h of p.hosts.filter((x) => back.includes(x.uuid))) {
        const ref = await xapi.call<string>('host.get_by_uuid', h.uuid);
        if (!(await xapi.call<boolean>('host.get_enabled', ref)))
          await ctx.act({ method: 'host.enable', params: { host: h.name, host_uuid: h.uuid }, description: `enable host ${h.name} (host.enable)` }, () =>
            xapi.call('host.enable', ref),
          );
      }
      if (!back.length) throw new Error(`no host of pool ${ctx.notification.poolName} is back after ${em.settings.hostBootTimeoutMs / 1000} s`);
      return { back };
    },
  });

  /** Resume (or start) one VM; undefined when it is back, else why not. */
  async function bringBack(ctx: TaskContext, xapi: Xapi, vm: PlannedVm, back: Set<string>): Promise<string | undefined> {
    let ref: string;
    try {
      ref = await xapi.call<string>('VM.get_by_uuid', vm.uuid);
    } catch (err) {
      return `cannot be found: ${reasonOf(err)}`;
    }
    const state = () => xapi.call<PowerState>('VM.get_power_state', ref);
    const before = await state();
    if (before === 'Running' || before === 'Paused') {
      await ctx.progress(`VM ${vm.name} already ${before}`, 0.5);
      return undefined;
    }
    const home = back.has(vm.hostUuid) ? await xapi.call<string>('host.get_by_uuid', vm.hostUuid) : undefined;
    const params = { vm: vm.uuid, vm_name: vm.name, host: home ? vm.hostName : null };
    try {
      if (before === 'Suspended') {
        const description = home
          ? `resume VM ${vm.name} on ${vm.hostName} (VM.resume_on)`
          : `resume VM ${vm.name} where XAPI can run it (VM.resume; ${vm.hostName} is not back)`;
        await ctx.act({ method: 'vm.resume', params, description }, () =>
          home ? xapi.call('VM.resume_on', ref, home, vm.paused, false) : xapi.call('VM.resume', ref, vm.paused, false),
        );
      } else {
        const description = `start VM ${vm.name}${home ? ` on ${vm.hostName} (VM.start_on)` : ' (VM.start)'}: it was shut down, not suspended — its memory state is lost`;
        await ctx.act({ method: 'vm.start', params, description }, () =>
          home ? xapi.call('VM.start_on', ref, home, false, false) : xapi.call('VM.start', ref, false, false),
        );
      }
    } catch (err) {
      // On its own host first; a refusal there (memory, a device) is worth one try elsewhere.
      if (!home) return reasonOf(err);
      await ctx.progress(`VM ${vm.name} could not come back on ${vm.hostName} (${reasonOf(err)}): trying elsewhere`, 0.5);
      try {
        if (before === 'Suspended')
          await ctx.act({ method: 'vm.resume', params: { ...params, host: null }, description: `resume VM ${vm.name} (VM.resume)` }, () =>
            xapi.call('VM.resume', ref, vm.paused, false),
          );
        else
          await ctx.act({ method: 'vm.start', params: { ...params, host: null }, description: `start VM ${vm.name} (VM.start)` }, () =>
            xapi.call('VM.start', ref, false, false),
          );
      } catch (again) {
        return reasonOf(again);
      }
    }
    if (ctx.mode === 'dry-run') return undefined;
    const after = await state();
    const wanted = vm.paused && before === 'Suspended' ? 'Paused' : 'Running';
    return after === wanted ? undefined : `${after} after the call, not ${wanted}`;
  }

  const resumeVms = implement(EMERGENCY_RESUME.resume_vms, {
    async run(ctx, { resume, back: powered }) {
      const em = emergencyDepsOf(deps);
      const p = resume.plan;
      const xapi = xapiOf(ctx);
      const back = new Set(powered?.back ?? []);
      const failed: string[] = [];
      for (const group of orderGroups(p.vms, 'resume')) {
        const settled = await mapSettledLimit(group, em.settings.parallelResumes, (vm) => bringBack(ctx, xapi, vm, back));
        settled.forEach((r, i) => {
          const why = r.status === 'fulfilled' ? r.value : reasonOf(r.reason);
          if (why) failed.push(`${group[i]!.name}: ${why}`);
        });
      }
      if (failed.length) throw new Error(`${failed.length} of ${p.vms.length} VM(s) could not be brought back: ${failed.join('; ')}`);
      await ctx.progress(ctx.mode === 'dry-run' ? `dry-run: would bring back ${p.vms.length} VM(s)` : `all ${p.vms.length} VM(s) are back`, 1);
      return null;
    },
  });

  return [planResume, powerOnHosts, resumeVms];
}
