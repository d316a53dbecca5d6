// The workflow of a notification in a `forward` pool: nothing is done to the pool, the remote engine recovers. Our
// notification follows the remote one, so the API and the messages show what it did:
//   forward_notification   wait until the outbox worker delivered it: accepted → next task; 409 → ignored;
//                          400, given up → error (then failed, through the engine's retries)
//   await_remote_recovery  poll the remote notification until it is finished, ignored or failed (Masakari's `error`
//                          is retried by its engine, so it is not an end), mirroring its status and task progress.
import { Ignore, type Task, type TaskContext, type Workflow } from '../engine/task.js';
import type { NotificationStore } from '../store/store.js';
import type { NotificationType } from '../store/types.js';
import { RemoteError, type RemoteApi, type RemoteTask } from './remote.js';
import { describeError } from '../../core/errors.js';

/** Forwarding or the remote recovery ended badly: our notification errors with this reason. */
export class ForwardFailure extends Error {
  override name = 'ForwardFailure';
}

export interface ForwardDeps {
  store: Pick<NotificationStore, 'getForward' | 'saveForward'>;
  /** The remote API of a forward pool and how often to poll. */
  remoteFor(pool: string): { remote: RemoteApi; pollIntervalMs: number } | undefined;
}

function remoteOf(deps: ForwardDeps, ctx: TaskContext): { remote: RemoteApi; pollIntervalMs: number } {
  const r = deps.remoteFor(ctx.notification.poolName);
  if (!r) throw new ForwardFailure(`pool ${ctx.notification.poolName} has no forward settings`);
  return r;
}

function forwardNotification(deps: ForwardDeps): Task {
  return {
    name: 'forward_notification',
    async run(ctx) {
      const { remote, pollIntervalMs } = remoteOf(deps, ctx);
      let shown: string | null = null;
      for (;;) {
        const f = await deps.store.getForward(ctx.notification.uuid);
        switch (f?.outcome) {
          case 'accepted':
            await ctx.progress(`forwarded to ${f.endpoint} as ${f.remoteUuid ?? '(the remote gave no uuid)'}`, 1);
            return { remote_uuid: f.remoteUuid };
          case 'conflict':
            throw new Ignore(f.reason ?? 'remote answered 409');
          case 'rejected':
            throw new ForwardFailure(f.reason ?? 'remote answered 400');
          case 'gave-up':
            throw new ForwardFailure(`forwarding given up: ${f.reason ?? 'no answer'}`);
        }
        // Still queued: say why (once per reason) while the outbox worker retries.
        const reason = f?.reason ?? null;
        if (reason && reason !== shown) await ctx.progress(`not yet taken by ${remote.endpoint}: ${reason}; retrying`, 0);
        shown = reason;
        await ctx.sleep(pollIntervalMs);
      }
    },
  };
}

const detailKey = (task: RemoteTask, d: RemoteTask['progress_details'][number]) => `${task.name}\u0000${d.timestamp ?? ''}\u0000${d.message}`;

function detailKeys(details: unknown): Set<string> {
  const tasks = Array.isArray(details) ? (details as RemoteTask[]) : [];
  return new Set(tasks.flatMap((t) => t.progress_details.map((d) => detailKey(t, d))));
}

function awaitRemoteRecovery(deps: ForwardDeps): Task {
  return {
    name: 'await_remote_recovery',
    async run(ctx) {
      const { remote, pollIntervalMs } = remoteOf(deps, ctx);
      const uuid = ctx.notification.uuid;
      const forward = await deps.store.getForward(uuid);
      const remoteUuid = forward?.remoteUuid;
      if (!remoteUuid) throw new ForwardFailure('the remote accepted the notification without giving its uuid: nothing to follow');
      // Resuming after a restart: what was mirrored already is not repeated.
      let status = forward.remoteStatus;
      const seen = detailKeys(forward.remoteDetails);
      let unreachable: string | null = null;
      for (;;) {
        let r: Awaited<ReturnType<typeof remote.show>>;
        try {
          r = await remote.show(remoteUuid, ctx.signal);
          unreachable = null;
        } catch (err) {
          if (err instanceof RemoteError && err.status === 404) throw new ForwardFailure(`remote notification ${remoteUuid} is gone: ${err.message}`);
          if (ctx.signal.aborted) throw err;
          const problem = describeError(err);
          if (problem !== unreachable) await ctx.progress(`cannot read the remote notification (${problem}); still polling`, 0.5);
          unreachable = problem;
          await ctx.sleep(pollIntervalMs);
          continue;
        }
        const fresh = (r.details ?? []).flatMap((t) => t.progress_details.filter((d) => !seen.has(detailKey(t, d))).map((d) => ({ t, d })));
        if (r.status !== status || fresh.length) {
          await deps.store.saveForward(uuid, { remoteStatus: r.status, remoteDetails: r.details }, ctx.now());
          for (const { t, d } of fresh) {
            seen.add(detailKey(t, d));
            await ctx.progress(`remote ${t.name}: ${d.message}`, 0.5);
          }
          if (r.status !== status && !['ignored', 'failed'].includes(r.status))
            await ctx.progress(`remote notification ${remoteUuid} is ${r.status}${r.message ? `: ${r.message}` : ''}`, r.status === 'finished' ? 1 : 0.5);
          status = r.status;
        }
        const why = r.message ? `: ${r.message}` : '';
        if (r.status === 'finished') return { remote_status: r.status };
        if (r.status === 'ignored') throw new Ignore(`remote notification ${remoteUuid} was ignored${why}`);
        if (r.status === 'failed') throw new ForwardFailure(`remote notification ${remoteUuid} failed${why}`);
        await ctx.sleep(pollIntervalMs);
      }
    },
  };
}

/** The same two tasks for every type: the remote engine knows what each type means. */
export function forwardWorkflows(deps: ForwardDeps): Record<NotificationType, Workflow> {
  const tasks = [forwardNotification(deps), awaitRemoteRecovery(deps)];
  const workflow = (type: NotificationType): Workflow => ({ type, tasks, setsMaintenance: false });
  // A Masakari-compatible remote has no emergency shutdown: in a forward pool it is recorded and ignored, visibly.
  const notForwarded: Task = {
    name: 'forward_notification',
    run: async () => {
      throw new Ignore('this pool is in forward mode and the remote Instance-HA API has no emergency shutdown: nothing done');
    },
  };
  return {
    COMPUTE_HOST: workflow('COMPUTE_HOST'),
    COMPUTE_INSTANCE: workflow('COMPUTE_INSTANCE'),
    COMPUTE_PROCESS: workflow('COMPUTE_PROCESS'),
    XCP_EMERGENCY_SHUTDOWN: { type: 'XCP_EMERGENCY_SHUTDOWN', tasks: [notForwarded], setsMaintenance: false },
  };
}
