// VM placement of a host recovery (recovery-hooks/workflows/placement.ts), tested directly: the restart order
// (priority, then VM.order, equal ranks grouped), and where each VM of a group goes — a host with room for its
// memory, room being the free memory read when the group began less what the group's earlier starts took, most room
// first. The end-to-end runs (workflows.test.ts, e2e-host.test.ts) show the same rules against XAPI.
import t from 'tap';
import { type CandidateHost, groupByRank, isProtected, placementOrder, restartRank } from '../../recovery-hooks/workflows/placement.js';

const GiB = 1024 ** 3;
const hosts: CandidateHost[] = [
  { ref: 'OpaqueRef:a', name: 'host-a', free: 4 * GiB },
  { ref: 'OpaqueRef:b', name: 'host-b', free: 8 * GiB },
  { ref: 'OpaqueRef:c', name: 'host-c', free: 8 * GiB },
];
const names = (hs: CandidateHost[]) => hs.map((h) => h.name);

t.test('capacity: only hosts with room for the VM, most room first, ties in the order XAPI listed them', async (t) => {
  const none = new Map<string, number>();
  t.same(names(placementOrder(hosts, none, 2 * GiB)), ['host-b', 'host-c', 'host-a']);
  t.same(names(placementOrder(hosts, none, 4 * GiB)), ['host-b', 'host-c', 'host-a'], 'exactly the free memory fits');
  t.same(names(placementOrder(hosts, none, 4 * GiB + 1)), ['host-b', 'host-c']);
  t.same(names(placementOrder(hosts, none, 9 * GiB)), [], 'no host has room: the caller lets XAPI choose');
  t.same(names(placementOrder([], none, 1)), []);
  t.same(names(hosts), ['host-a', 'host-b', 'host-c'], 'the candidates are not reordered in place');
});

t.test("what the group's earlier starts took is not offered again", async (t) => {
  // Two 5 GiB VMs of one group: the first takes host-b, the second goes to host-c (host-b has 3 GiB of room left).
  const reserved = new Map<string, number>();
  const first = placementOrder(hosts, reserved, 5 * GiB)[0]!;
  t.equal(first.name, 'host-b');
  reserved.set(first.ref, 5 * GiB);
  t.same(names(placementOrder(hosts, reserved, 5 * GiB)), ['host-c']);
  // Small VMs spread: host-c now has the most room.
  t.same(names(placementOrder(hosts, reserved, 1 * GiB)), ['host-c', 'host-a', 'host-b']);
  reserved.set('OpaqueRef:c', 8 * GiB);
  t.same(names(placementOrder(hosts, reserved, 1 * GiB)), ['host-a', 'host-b']);
  // A failed start gives its reservation back.
  reserved.set('OpaqueRef:c', 0);
  t.same(names(placementOrder(hosts, reserved, 5 * GiB)), ['host-c']);
});

t.test('restart order: protected, then best-effort, then unprotected, each by VM.order; equal ranks form one group', async (t) => {
  t.ok(isProtected('restart'));
  t.ok(isProtected('best-effort'));
  t.notOk(isProtected(''));
  t.notOk(isProtected('always-restart'), 'an unknown priority is unprotected');
  t.ok(restartRank('restart', 99) < restartRank('best-effort', 0));
  t.ok(restartRank('best-effort', 99) < restartRank('', 0));
  t.equal(restartRank('restart', -5), restartRank('restart', 0), 'a negative order counts as 0');
  t.equal(restartRank('restart', 5_000_000), restartRank('restart', 999_999), 'an order beyond the range does not overtake the next priority');
  t.equal(restartRank('bogus', 3), restartRank('', 3));
  const vm = (name: string, priority: string, order: number) => ({ name, rank: restartRank(priority, order) });
  const groups = groupByRank([
    vm('web-2', 'best-effort', 1),
    vm('db', 'restart', 0),
    vm('free', '', 0),
    vm('web-1', 'best-effort', 1),
    vm('app', 'restart', 2),
  ]);
  t.same(
    groups.map((g) => g.map((m) => m.name)),
    [['db'], ['app'], ['web-2', 'web-1'], ['free']],
  );
  t.same(groupByRank([]), []);
});
