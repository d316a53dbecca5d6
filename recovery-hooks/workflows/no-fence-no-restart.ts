// Safety invariant "no fence, no restart" (DESIGN.md invariant 1, "never twice": a host that may still be powered is
// treated as running every VM it had): no VM of a failed host is reset or started elsewhere, and no member is
// promoted in place of a lost pool master, unless that host was proven off in this workflow (fence-proof.ts: our
// power-off then the BMC's "off", or an operator's confirmation). Named here once, used twice:
// - the order: every task that acts on the strength of the fence requires HOST_PROVEN_OFF, so a task list that puts
//   one before the fence is refused by the config check and when a workflow is built (engine/wiring.ts);
// - the guard: each of those tasks calls requireProvenOff with that input right before acting.
import { Ignore } from '../engine/task.js';
import { output } from '../engine/wiring.js';
import type { FenceResult } from './fence-proof.js';

/** Provided by the fence (fence_host, fence_master); required by whatever would otherwise run a VM twice. */
export const HOST_PROVEN_OFF = output<FenceResult>('host_proven_off', 'the failed host proven off (no fence, no restart)');

/** The run-time guard: `fenced` is the fence's result in this workflow, else Ignore ("`subject` is not proven fenced: `consequence`"). */
export function requireProvenOff(fenced: FenceResult | undefined, subject: string, consequence: string): void {
  if (fenced?.fencedBy !== 'bmc' && fenced?.fencedBy !== 'operator') throw new Ignore(`${subject} is not proven fenced: ${consequence}`);
}
