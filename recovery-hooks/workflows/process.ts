// Process failure (the toolstack: xapi and its daemons): restart it over SSH with the configured command (default
// xe-toolstack-restart), confirm XAPI on the host answers again, else escalate to a host failure notification.
import { Finish, Ignore, type TaskContext } from '../engine/task.js';
import { implement } from '../engine/wiring.js';
import type { WorkflowDeps } from './deps.js';
import { PROCESS } from './signatures.js';
import { hostAnswers, hostByUuid, waitFor } from './xapi.js';

export function processTasks(deps: WorkflowDeps) {
  const probe = async (ctx: TaskContext) => {
    const xapi = deps.xapiFor(ctx.notification.poolName);
    const { ref, record } = await hostByUuid(xapi, ctx.notification.hostUuid);
    return { record, answers: await hostAnswers(xapi, ref, deps.probeTimeoutMs) };
  };

  const checkToolstack = implement(PROCESS.check_toolstack, {
    async run(ctx) {
      const { record, answers } = await probe(ctx);
      if (answers) throw new Finish(`XAPI on ${record.name_label} answers: the toolstack is up, nothing to do`);
      await ctx.progress(`XAPI on ${record.name_label} does not answer`, 1);
      return null;
    },
  });

  const restartToolstack = implement(PROCESS.restart_toolstack, {
    async run(ctx) {
      const restart = deps.toolstackRestartFor(ctx.notification.poolName);
      if (!restart) throw new Ignore(`no ssh configured for pool ${ctx.notification.poolName}: the toolstack cannot be restarted`);
      const { record, answers } = await probe(ctx);
      if (answers) {
        await ctx.progress(`XAPI on ${record.name_label} answers again: no restart needed`, 1);
        return null;
      }
      const action = {
        method: 'toolstack.restart',
        params: { host: record.name_label, host_uuid: ctx.notification.hostUuid, command: restart.command },
        description: `run "${restart.command}" on ${record.name_label} over SSH`,
      } as const;
      await ctx.act(action, async () => {
        const out = await restart.shell.run({ name: record.name_label, address: record.address }, restart.command, restart.timeoutMs);
        if (out.code !== 0) throw new Error(`"${restart.command}" exited with ${out.code ?? 'a signal'}: ${(out.stderr || out.stdout).trim().slice(-300)}`);
        await ctx.progress(`"${restart.command}" finished: ${out.stdout.trim().split('\n').pop() ?? ''}`, 0.9);
      });
      return null;
    },
  });

  const confirmToolstack = implement(PROCESS.confirm_toolstack, {
    async run(ctx) {
      if (ctx.mode === 'dry-run') {
        await ctx.progress('dry-run: would wait for XAPI on the host to answer', 1);
        return null;
      }
      const timeoutMs = deps.settings.processFailure.confirmTimeoutMs;
      const back = await waitFor(async () => ((await probe(ctx)).answers ? true : undefined), {
        timeoutMs,
        intervalMs: deps.pollIntervalMs,
        now: ctx.now,
        sleep: ctx.sleep,
      });
      if (back) {
        await ctx.progress(`XAPI on ${ctx.notification.hostName} answers again`, 1);
        return null;
      }
      const escalated = await ctx.escalate('COMPUTE_HOST', { event: 'STOPPED', host_status: 'UNKNOWN', cluster_status: 'OFFLINE' });
      throw new Finish(`XAPI on ${ctx.notification.hostName} did not answer within ${timeoutMs / 1000} s: escalated to host notification ${escalated.uuid}`);
    },
  });

  return { check_toolstack: checkToolstack, restart_toolstack: restartToolstack, confirm_toolstack: confirmToolstack };
}
