// The one fencing path of every workflow that starts a host's VMs elsewhere (host failure, pool master loss): prove
// the host off before anything it ran is started again. Proof is our power-off followed by the BMC reporting off; a
// BMC that reports off before we asked, does not answer or never reports off proves nothing: the workflow waits for an
// operator (confirm-fenced). Blast radius: at most fencing.max_hosts_fenced power-offs per pool in
// fence_window_seconds (store-wide), none while more than max_down_share of the pool's hosts are not live, never the
// last live host. How the host and its pool are seen is the caller's (the master's database for a member; the
// receiver's own probes for a lost master): `FenceSubject`.
import { type TaskContext, WaitForOperator } from '../engine/task.js';
import { FENCE_WAIT_KINDS } from '../store/types.js';
import type { PoolFencing } from './deps.js';
import { resolveBmcMap } from './fence.js';
import { waitFor } from './xapi.js';
import type { FenceTarget, PowerStatus } from '../../core/fencing.js';

export interface FenceResult {
  /** bmc: our power-off, then the BMC reported off; operator: confirm-fenced, or a fence:assert token's host_status NORMAL. */
  fencedBy: 'operator' | 'bmc';
}

/** The host to fence and its pool, as the calling workflow sees them. */
export interface FenceSubject {
  /** Identity from XAPI's host record. */
  host: { uuid: string; name_label: string };
  /** Checked at the start and right before the power-off: throws (or ends the workflow) when the host is back. */
  recheck(): Promise<void>;
  /** After our power-off: does the host answer again (it rebooted)? */
  isBack(): Promise<boolean>;
  /** The host answered again after our power-off: not powered off again; ends the task (never returns). */
  cameBack(when: string): Promise<never>;
  /** Every host of the pool with whether it is live, for the BMC map and the blast radius. */
  poolHosts(): Promise<{ uuid: string; name_label: string; live: boolean }[]>;
}

export async function proveFenced(ctx: TaskContext, fencing: PoolFencing | undefined, subject: FenceSubject, pollIntervalMs: number): Promise<FenceResult> {
  const n = ctx.notification;
  const host = subject.host;
  await subject.recheck();

  // Only a confirmation of a fence wait says "off": a confirmed master_failover wait only asked for a re-check.
  const confirmation = await ctx.fence.operatorWait();
  if (confirmation?.confirmedAt && FENCE_WAIT_KINDS.includes(confirmation.kind)) {
    await ctx.progress(
      `an operator (token ${confirmation.confirmedBy}) confirmed ${host.name_label} is off at ${new Date(confirmation.confirmedAt).toISOString()}`,
      1,
    );
    return { fencedBy: 'operator' };
  }
  const asserted = n.source === 'api' && String(n.payload.host_status ?? '').toUpperCase() === 'NORMAL';
  if (!fencing) {
    if (asserted) return assertedOff(ctx, host.name_label, 'no fencing is configured for the pool');
    throw new WaitForOperator(
      'fence_confirmation',
      `no fencing configured for pool ${n.poolName}: ${host.name_label} cannot be proven off; confirm it is off to restart its VMs`,
    );
  }
  const poolHosts = await subject.poolHosts();
  const bmcMap = resolveBmcMap(fencing.bmc, poolHosts);
  const bmc = bmcMap.byUuid.get(host.uuid);
  if (bmcMap.problems.length || (!bmc && Object.keys(fencing.bmc).length > 0))
    throw new WaitForOperator(
      'fence_confirmation',
      bmcMap.problems.length ? bmcMap.problems.join('; ') : `fencing.bmc has no entry for ${host.name_label} (${host.uuid})`,
    );
  const target: FenceTarget = { name: host.name_label, uuid: host.uuid, ...(bmc ? { bmc } : {}) };

  const before = await readPower(fencing, target);
  const ours = await ctx.fence.recorded();
  if (before.status === 'off' && ours) {
    await ctx.progress(`BMC of ${host.name_label} reports power off after our power-off of ${new Date(ours.at).toISOString()}`, 1);
    return { fencedBy: 'bmc' };
  }
  if (before.status !== 'on') {
    if (before.status === 'unknown' && asserted) return assertedOff(ctx, host.name_label, `the BMC does not answer (${before.why})`);
    throw new WaitForOperator(
      'fence_confirmation',
      before.status === 'off'
        ? `the BMC of ${host.name_label} reports power off although we sent no power-off: not proof (a BMC can report off while the host runs); confirm ${host.name_label} is off`
        : `the BMC of ${host.name_label} does not answer (${before.why}): ${host.name_label} cannot be proven off; confirm it is off`,
    );
  }
  checkBlastRadius(ctx, subject.host, poolHosts, fencing);
  await subject.recheck();
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
    // Off, or back: a host that answers again after our power-off has rebooted.
    const seen = await waitFor(async () => ((await readPower(fencing, target)).status === 'off' ? 'off' : (await subject.isBack()) ? 'back' : undefined), {
      timeoutMs: fencing.confirmTimeoutMs,
      intervalMs: pollIntervalMs,
      now: ctx.now,
      sleep: ctx.sleep,
    });
    if (!seen)
      throw new WaitForOperator(
        'fence_confirmation',
        `the BMC of ${host.name_label} does not report power off within ${fencing.confirmTimeoutMs / 1000} s of the power-off${failure ? ` (${failure})` : ''}: confirm ${host.name_label} is off`,
      );
    return seen;
  });
  if (outcome === 'back') await subject.cameBack('after our power-off (it rebooted): not powered off again');
  if (ctx.mode === 'dry-run') {
    await ctx.progress(`dry-run: ${host.name_label} was not powered off; what follows is what a confirmed power-off would lead to`, 1);
    return { fencedBy: 'bmc' };
  }
  await ctx.progress(`${host.name_label} fenced (BMC power off${failure ? ` after: ${failure}` : ''})`, 1);
  return { fencedBy: 'bmc' };
}

async function assertedOff(ctx: TaskContext, name: string, why: string): Promise<FenceResult> {
  await ctx.progress(`fence asserted by the sender (host_status NORMAL from a token with fence:assert) and ${why}: ${name} is taken as off`, 1);
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
function checkBlastRadius(ctx: TaskContext, host: FenceSubject['host'], hosts: { uuid: string; live: boolean }[], fencing: PoolFencing): void {
  const notLive = hosts.filter((h) => !h.live).length;
  const liveOthers = hosts.filter((h) => h.live && h.uuid !== host.uuid).length;
  const pool = ctx.notification.poolName;
  const name = host.name_label;
  if (liveOthers === 0)
    throw new WaitForOperator(
      'blast_radius',
      `no other host of pool ${pool} is live: ${name} is not powered off automatically (never the last live host); confirm it is off`,
    );
  if (notLive / hosts.length > fencing.limits.maxDownShare)
    throw new WaitForOperator(
      'blast_radius',
      `${notLive} of ${hosts.length} hosts of pool ${pool} are not live in XAPI (more than fencing.max_down_share ${fencing.limits.maxDownShare}): a partition is likelier than dead hosts; ${name} is not powered off automatically; confirm it is off`,
    );
}
