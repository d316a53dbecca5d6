// What the pool-master scenarios watch besides the safety monitor: how many hosts act as master at once, and which
// hosts accepted pool.emergency_transition_to_master.
import type { Rig } from '../../recovery-hooks/helpers/sim-rig.js';
import type { ScenarioContext } from './scenario.js';

export const MASTER_SIM = { xapiFuseMs: 100, xapiStartMs: 400, remoteTimeoutMs: 300, hostDeadAfterMs: 120_000 };
export const MASTER_FAILOVER = { password: 'simulated', promote_timeout_seconds: 30, members_timeout_seconds: 30 };
export const MASTER_RIG = { sim: MASTER_SIM, hook: { probeTimeoutMs: 1500 }, pool: { master_failover: MASTER_FAILOVER } };

/** The most hosts ever seen acting as master at once, sampled every 20 ms until stop(). */
export function watchMasters(rig: Rig): { most(): number; stop(): void } {
  let most = 0;
  const sample = () => (most = Math.max(most, rig.sim.pool.roles.masters().length));
  const timer = setInterval(sample, 20);
  return {
    most: () => {
      sample();
      return most;
    },
    stop: () => clearInterval(timer),
  };
}

/** The names of the hosts that accepted pool.emergency_transition_to_master, in order. */
export function countPromotions(rig: Rig): string[] {
  const seen: string[] = [];
  const roles = rig.sim.pool.roles;
  const dispatch = roles.dispatch.bind(roles);
  roles.dispatch = async (h, method, params) => {
    const out = await dispatch(h, method, params);
    if (method.toLowerCase() === 'pool.emergency_transition_to_master') seen.push(String(rig.sim.pool.store.get('host', h.ref)!.name_label));
    return out;
  };
  return seen;
}

/** How many calls of `method` the simulated hosts have received so far (any caller). */
export function countCalls(rig: Rig, method: string): () => number {
  let n = 0;
  const roles = rig.sim.pool.roles;
  const dispatch = roles.dispatch.bind(roles);
  roles.dispatch = (h, m, params) => {
    if (m.toLowerCase() === method.toLowerCase()) n++;
    return dispatch(h, m, params);
  };
  return () => n;
}

/** What each scenario watches besides the monitor: masters at once, promotions. */
export function observe(ctx: ScenarioContext) {
  const watch = watchMasters(ctx.rig);
  ctx.t.teardown(() => watch.stop());
  return { watch, promotions: countPromotions(ctx.rig) };
}

/** The master hangs: the monitor knows it was failed on purpose (its power-off is a fence). */
export async function loseMaster(ctx: ScenarioContext) {
  const master = ctx.rig.hosts.find((h) => h.master)!;
  const vms = ctx.rig.residentVms(master);
  ctx.monitor.fault(ctx.runtime(master));
  await ctx.rig.control(`/sim/hosts/${master.name}/fail`, {});
  return { master, vms };
}
