// Where and in which order the VMs of a failed host start again: pure decisions, tested directly
// (test/recovery-hooks/placement.test.ts). The order is XAPI HA's: protected VMs (ha_restart_priority "restart")
// first, then "best-effort", then unprotected ones, each by VM.order; VMs of equal rank form a group that starts
// together (a few at a time). The hosts of a group are read once when it begins (the workflow's job); each VM goes to
// the first host with room for its memory_static_max — its free memory then, less what this group's earlier starts
// took — most room first. No host has room: XAPI chooses (VM.start), as before. No affinity rule of our own: XAPI's
// VM.start applies the VM's affinity when it chooses.

const PRIORITY_RANK: Record<string, number> = { restart: 0, 'best-effort': 1, '': 2 };
const UNPROTECTED = PRIORITY_RANK['']!;

/** A live, enabled host other than the failed one, with its free memory (bytes) when the group began. */
export interface CandidateHost {
  ref: string;
  name: string;
  free: number;
}

/** Whether a VM of this ha_restart_priority is protected (restarted even when host_failure.restart_unprotected is false). */
export function isProtected(haRestartPriority: string): boolean {
  return (PRIORITY_RANK[haRestartPriority] ?? UNPROTECTED) !== UNPROTECTED;
}

/** The rank a VM restarts at: its priority first, then its VM.order (bounded to 0…999999); lower starts first. */
export function restartRank(haRestartPriority: string, order: number): number {
  const priority = PRIORITY_RANK[haRestartPriority] ?? UNPROTECTED;
  return priority * 1_000_000 + Math.max(0, Math.min(999_999, order));
}

/** Groups of equal rank, in ascending rank. */
export function groupByRank<T extends { rank: number }>(moves: readonly T[]): T[][] {
  const groups = new Map<number, T[]>();
  for (const m of [...moves].sort((a, b) => a.rank - b.rank)) groups.set(m.rank, [...(groups.get(m.rank) ?? []), m]);
  return [...groups.values()];
}

/**
 * The hosts to try for a VM needing `need` bytes, in order: those whose room (free memory less `reserved`, what this
 * group's earlier starts took there) holds it, most room first (ties in the candidates' order).
 */
export function placementOrder(candidates: readonly CandidateHost[], reserved: ReadonlyMap<string, number>, need: number): CandidateHost[] {
  const room = (h: CandidateHost) => h.free - (reserved.get(h.ref) ?? 0);
  return candidates.filter((h) => room(h) >= need).sort((a, b) => room(b) - room(a));
}
