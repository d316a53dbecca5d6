// The duplicate/replay decision of create (recovery-hooks/store/decide.ts), a pure function both stores call: replays
// by key (stored or earlier in the batch), hosts on maintenance (refused, recorded as ignored, let through; never for
// a power emergency), Masakari duplicates (stored first, then the batch's own new rows, within the window), and the
// results it maps back.
import t from 'tap';
import {
  admission,
  decide,
  decidedResults,
  duplicateLookups,
  duplicateMatch,
  duplicateParams,
  hostsOf,
  type Stored,
} from '../../recovery-hooks/store/decide.js';
import { canonicalJson, type Row } from '../../recovery-hooks/store/rows.js';
import type { CreateOptions, NewNotification } from '../../recovery-hooks/store/types.js';

const T0 = Date.UTC(2026, 0, 1);
const opts: CreateOptions = { now: T0, dedupWindowMs: 180_000, onMaintenance: 'refuse' };

function input(over: Partial<NewNotification> = {}): NewNotification {
  return {
    type: 'COMPUTE_HOST',
    hostUuid: 'h-1',
    hostName: 'host-1',
    poolName: 'pool-a',
    generatedAt: T0,
    payload: { event: 'STOPPED' },
    source: 'api',
    ...over,
  };
}

const none: Stored = { known: new Map(), onMaintenance: new Set(), duplicates: new Map() };
const run = (inputs: NewNotification[], o: CreateOptions = opts, stored: Stored = none) =>
  decide(
    inputs,
    inputs.map((i) => canonicalJson(i.payload)),
    o,
    stored,
  );
const outcomes = (plan: ReturnType<typeof run>) => plan.decisions.map((d) => (d.outcome === 'insert' ? `insert:${d.slot}` : d.outcome));

function storedRow(uuid: string): Row {
  return {
    id: 7,
    uuid,
    type: 'COMPUTE_HOST',
    status: 'new',
    host_uuid: 'h-1',
    host_name: 'host-1',
    pool_name: 'pool-a',
    generated_at: T0,
    payload: '{}',
    message: null,
    source: 'api',
    created_at: T0,
    updated_at: null,
    attempts: 0,
    next_attempt_at: null,
  };
}

t.test('admission: maintenance refuses, records as ignored or lets through; a power emergency is never held back', async (t) => {
  t.same(admission(input(), opts, false), { checkDuplicate: true, ignoreReason: undefined, maintenance: false });
  t.equal(admission(input(), opts, true), undefined, 'refused');
  t.match(admission(input(), { ...opts, onMaintenance: 'record-ignored' }, true), {
    checkDuplicate: false,
    ignoreReason: /host-1 is on maintenance/,
    maintenance: true,
  });
  t.same(admission(input(), { ...opts, onMaintenance: 'proceed' }, true), { checkDuplicate: true, ignoreReason: undefined, maintenance: false });
  t.same(admission(input({ type: 'XCP_EMERGENCY_SHUTDOWN' }), opts, true), { checkDuplicate: true, ignoreReason: undefined, maintenance: false });
  t.same(admission(input({ ignoreReason: 'notify-only' }), { ...opts, dedupWindowMs: 0 }, false), {
    checkDuplicate: false,
    ignoreReason: 'notify-only',
    maintenance: false,
  });
});

t.test('replays: a stored key, a key met earlier in the batch; an empty key replays only at the unique index', async (t) => {
  const stored: Stored = { ...none, known: new Map([['am:1', storedRow('s-1')]]) };
  const plan = run(
    [input({ replayKey: 'am:1' }), input({ replayKey: 'am:2', payload: { n: 2 } }), input({ replayKey: 'am:2', payload: { n: 3 } })],
    opts,
    stored,
  );
  t.same(outcomes(plan), ['replay', 'insert:0', 'replay']);
  t.same(plan.decisions[0], { outcome: 'replay', ref: stored.known.get('am:1') });
  t.same(plan.decisions[2], { outcome: 'replay', ref: 0 }, 'the batch row of slot 0');
  // An empty key is never looked up: a duplicate wins over it, and a second one meets the first at the unique index.
  t.same(outcomes(run([input({ replayKey: '' }), input({ replayKey: '' })])), ['insert:0', 'duplicate']);
  t.same(outcomes(run([input({ replayKey: '' }), input({ replayKey: '', payload: { other: true } })])), ['insert:0', 'replay']);
});

t.test('duplicates: a stored one first, then a new row of the batch within the window; ignored rows and other hosts never', async (t) => {
  const stored: Stored = { ...none, duplicates: new Map([[1, storedRow('s-dup')]]) };
  const plan = run(
    [
      input(),
      input({ generatedAt: T0 + 1000 }),
      input({ generatedAt: T0 + 2000 }),
      input({ hostUuid: 'h-2', hostName: 'host-2' }),
      input({ generatedAt: T0 + 180_001 + 1 }),
      input({ payload: { event: 'STOPPED', other: 1 } }),
    ],
    opts,
    stored,
  );
  t.same(outcomes(plan), ['insert:0', 'duplicate', 'duplicate', 'insert:1', 'insert:2', 'insert:3']);
  t.same(plan.decisions[1], { outcome: 'duplicate', ref: stored.duplicates.get(1) }, 'the stored duplicate (lower id) first');
  t.same(plan.decisions[2], { outcome: 'duplicate', ref: 0 }, 'then the batch row');
  t.same(outcomes(run([input({ ignoreReason: 'notify-only' }), input()])), ['insert:0', 'insert:1'], 'an ignored row absorbs nothing');
  t.same(outcomes(run([input(), input()], { ...opts, dedupWindowMs: 0 })), ['insert:0', 'insert:1'], 'window 0: no duplicates');
});

t.test('maintenance in a batch: refused, or inserted as ignored (no duplicate check), and the results say so', async (t) => {
  const stored: Stored = { ...none, onMaintenance: new Set(['h-1']) };
  t.same(outcomes(run([input(), input({ hostUuid: 'h-2' })], opts, stored)), ['refused', 'insert:0']);
  const o: CreateOptions = { ...opts, onMaintenance: 'record-ignored' };
  const plan = run([input(), input()], o, stored);
  t.same(outcomes(plan), ['insert:0', 'insert:1']);
  t.match(plan.inserts, [{ maintenance: true, ignoreReason: /maintenance/ }, { maintenance: true }]);
  const rows = [storedRow('new-0'), storedRow('new-1')];
  t.same(
    decidedResults(plan, rows).results.map((r) => [r.outcome, r.notification?.uuid]),
    [
      ['host-on-maintenance', 'new-0'],
      ['host-on-maintenance', 'new-1'],
    ],
  );
  const refused = run([input(), input({ hostUuid: 'h-2', replayKey: 'k' }), input({ hostUuid: 'h-2', replayKey: 'k' })], opts, stored);
  t.same(
    decidedResults(refused, [storedRow('made')]).results.map((r) => [r.outcome, r.notification?.uuid]),
    [
      ['host-on-maintenance', undefined],
      ['created', 'made'],
      ['replay', 'made'],
    ],
  );
});

t.test('duplicateLookups asks only for admitted inputs without a known replay; duplicateMatch and its params line up', async (t) => {
  const stored = { known: new Map([['k', storedRow('s')]]), onMaintenance: new Set(['h-9']) };
  const inputs = [input(), input({ replayKey: 'k' }), input({ hostUuid: 'h-9' }), input({ replayKey: 'other' })];
  t.same(duplicateLookups(inputs, opts, stored), [0, 3]);
  t.same(duplicateLookups(inputs, { ...opts, dedupWindowMs: 0 }, stored), []);
  const sql = duplicateMatch('n', { type: '?', hostUuid: '?', since: '?', payload: '?', generatedAt: '?' });
  t.equal(sql.match(/\?/g)!.length, duplicateParams(input(), '{}', 1000).length);
  t.same(duplicateParams(input(), '{}', 1000), ['COMPUTE_HOST', 'h-1', T0 - 1000, '{}', T0]);
});

t.test('hostsOf: one per host named by an insert, the latest input winning, hostless inputs skipped', async (t) => {
  const inputs = [input({ hostName: 'old' }), input({ hostUuid: 'h-2' }), input({ hostName: 'new' }), input({ hostUuid: '' })];
  const inserts = inputs.map((_i, index) => ({ index, payload: '{}', ignoreReason: undefined, maintenance: false }));
  t.same(
    hostsOf(inputs, inserts).map((h) => `${h.hostUuid}=${h.hostName}`),
    ['h-2=host-1', 'h-1=new'],
  );
});

t.test("decidedResults maps each inserted row once: the new notifications are the results' own objects", async (t) => {
  const plan = run([input({ replayKey: 'k' }), input({ replayKey: 'k' }), input({ hostUuid: 'h-2' }), input({ hostUuid: 'h-2' })]);
  t.same(outcomes(plan), ['insert:0', 'replay', 'insert:1', 'duplicate']);
  const { results, created } = decidedResults(plan, [storedRow('a'), storedRow('b')]);
  t.same(
    created.map((n) => n.uuid),
    ['a', 'b'],
  );
  t.equal(results[0]!.notification, created[0], 'created');
  t.equal(results[1]!.notification, created[0], 'a replay of a row of the batch');
  t.equal(results[2]!.notification, created[1]);
  t.equal(results[3]!.notification, created[1], 'a duplicate of a row of the batch');
});

/**
 * decide() as the plain rule reads (the implementation before the batch's rows were indexed by type, host and payload):
 * each input scans every earlier insert of the batch for a new row it duplicates.
 */
function decideByScan(inputs: NewNotification[], o: CreateOptions, stored: Stored) {
  const payloads = inputs.map((i) => canonicalJson(i.payload));
  const keys = new Map<string, unknown>(stored.known);
  const inserts: { index: number; payload: string; ignoreReason: string | undefined }[] = [];
  return inputs.map((input, index) => {
    const key = input.replayKey;
    if (key && keys.has(key)) return 'replay';
    const admit = admission(input, o, stored.onMaintenance.has(input.hostUuid));
    if (!admit) return 'refused';
    const payload = payloads[index]!;
    if (admit.checkDuplicate) {
      if (stored.duplicates.has(index)) return 'duplicate(stored)';
      const since = input.generatedAt - o.dedupWindowMs;
      const slot = inserts.findIndex((s) => {
        const other = inputs[s.index]!;
        return !s.ignoreReason && other.type === input.type && other.hostUuid === input.hostUuid && other.generatedAt >= since && s.payload === payload;
      });
      if (slot >= 0) return `duplicate:${slot}`;
    }
    if (key !== undefined && keys.has(key)) return 'replay';
    const slot = inserts.push({ index, payload, ignoreReason: admit.ignoreReason }) - 1;
    if (key !== undefined) keys.set(key, slot);
    return `insert:${slot}`;
  });
}

t.test('random batches: decide() finds the same replays, duplicates and inserts as a scan of the batch', async (t) => {
  // A small generator of its own (deterministic): few types, hosts, payloads, times and keys, so that batches repeat them.
  let seed = 20261207;
  const next = (n: number) => {
    // mulberry32
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) % n;
  };
  const types = ['COMPUTE_HOST', 'XCP_EMERGENCY_SHUTDOWN'] as const;
  const payloads = [{ event: 'STOPPED' }, { event: 'STARTED' }, { event: 'LIFECYCLE', instance_uuid: 'a' }, { event: 'LIFECYCLE', instance_uuid: 'b' }];
  let differing = 0;
  let duplicatesInBatch = 0;
  for (let round = 0; round < 1000; round++) {
    const inputs = Array.from({ length: 1 + next(40) }, () =>
      input({
        type: types[next(2)],
        hostUuid: `h-${next(2)}`,
        generatedAt: T0 - next(4) * 100_000,
        payload: payloads[next(payloads.length)]!,
        replayKey: next(3) === 0 ? undefined : next(2) === 0 ? '' : `k-${next(30)}`,
        ignoreReason: next(5) === 0 ? 'notify-only' : undefined,
      }),
    );
    // Windows shorter than the times' spread (a later input may find several rows of the batch: the first counts), and
    // windows that end exactly on some of them.
    const o: CreateOptions = {
      now: T0,
      dedupWindowMs: [0, 100_000, 200_000, 250_000][next(4)]!,
      onMaintenance: (['refuse', 'record-ignored', 'proceed'] as const)[next(3)],
    };
    const stored: Stored = {
      known: new Map(next(2) === 0 ? [[`k-${next(30)}`, storedRow('s-1')]] : []),
      onMaintenance: new Set(next(2) === 0 ? [`h-${next(3)}`] : []),
      duplicates: new Map(next(3) === 0 ? [[next(inputs.length), storedRow('s-2')]] : []),
    };
    const plan = run(inputs, o, stored);
    const got = plan.decisions.map((d) =>
      d.outcome === 'insert'
        ? `insert:${d.slot}`
        : d.outcome === 'duplicate'
          ? typeof d.ref === 'number'
            ? `duplicate:${d.ref}`
            : 'duplicate(stored)'
          : d.outcome,
    );
    const want = decideByScan(inputs, o, stored);
    duplicatesInBatch += want.filter((w) => w.startsWith('duplicate:')).length;
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      differing++;
      if (differing === 1) t.same(got, want, `round ${round}: the first batch decided differently`);
    }
  }
  t.equal(differing, 0, 'every batch decided as the scan decides it');
  t.ok(duplicatesInBatch > 100, `the batches had duplicates within themselves to find (${duplicatesInBatch})`);
});
