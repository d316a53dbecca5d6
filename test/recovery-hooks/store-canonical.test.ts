// canonicalJson (rows.ts): the text Masakari's duplicate rule compares. Its fast path (a flat object already in key
// order, serialized as it is) must give exactly the text of the definition (JSON.stringify with a key-sorting
// replacer) for any value; and the webhook's payloads (alertmanager.ts payloadFor) are built in key order so that
// they take it.
import t from 'tap';
import { type WebhookAlert, mapAlert } from '../../recovery-hooks/intake/alertmanager.js';
import { canonicalJson } from '../../recovery-hooks/store/rows.js';
import { HOST_1, HOST_2 } from './helpers/harness.js';

/** The definition. */
const reference = (value: unknown) =>
  JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );

/** A small seeded generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x80000000;
  };
}

const KEYS = ['a', 'b', 'B', 'event', 'Z', '10', '9', '0', 'é', 'toJSON', '', 'instance_uuid', 'vm_name'];

function value(r: () => number, depth: number): unknown {
  const pick = Math.floor(r() * (depth > 2 ? 8 : 11));
  switch (pick) {
    case 0:
      return 'text "quoted" \\ \u0001';
    case 1:
      return r() < 0.5 ? -0 : r() * 1e22;
    case 2:
      return r() < 0.5 ? Number.NaN : Number.POSITIVE_INFINITY;
    case 3:
      return r() < 0.5;
    case 4:
      return null;
    case 5:
      return undefined;
    case 6:
      return () => 1;
    case 7:
      return new Date(Date.UTC(2026, 0, 1));
    case 8:
      return Array.from({ length: Math.floor(r() * 4) }, () => value(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      const n = Math.floor(r() * 5);
      for (let i = 0; i < n; i++) o[KEYS[Math.floor(r() * KEYS.length)]!] = value(r, depth + 1);
      // Sometimes already in order (the fast path's case), sometimes not.
      return r() < 0.5 ? Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : o;
    }
  }
}

t.test('canonicalJson gives the text of the definition for any value, sorted or not, flat or nested', async (t) => {
  const r = random(25);
  let differ = 0;
  let flatSorted = 0;
  for (let i = 0; i < 3000; i++) {
    const v = value(r, 0);
    if (v && typeof v === 'object' && !Array.isArray(v) && JSON.stringify(v) === reference(v)) flatSorted++;
    if (canonicalJson(v) !== reference(v)) differ++;
  }
  t.equal(differ, 0, 'no value differs');
  t.ok(flatSorted > 100, `the fast path's case came up (${flatSorted} times)`);
  class Point {
    constructor(
      readonly y: number,
      readonly x: number,
    ) {}
  }
  for (const v of [
    { b: 1, a: 2 },
    { a: 1, b: { d: 1, c: 2 } },
    { a: 1, b: [2, 1] },
    { '10': 1, '9': 2, a: 3 },
    { a: 1, toJSON: () => ({ z: 1, y: 2 }) },
    new Point(1, 2),
    { a: new Point(1, 2) },
    { a: undefined, b: 1 },
  ])
    t.equal(canonicalJson(v), reference(v), JSON.stringify(v) ?? String(v));
});

t.test("the webhook's payloads are built in key order: canonical as they are", async (t) => {
  const hosts = { hostsOf: () => [{ ...HOST_1, pool: 'pool-a' }], findHost: () => undefined };
  const ctx = { hosts, pools: new Set(['pool-a']), now: Date.now() };
  const alert = (status: 'firing' | 'resolved', labels: Record<string, string>): WebhookAlert => ({
    status,
    labels: { alertname: 'A', pool_name: 'pool-a', host_uuid: HOST_2.uuid, host_name: HOST_2.name, ...labels },
    annotations: { runtime_seconds: '420' },
    startsAt: '2026-12-06T08:00:00Z',
    endsAt: status === 'resolved' ? '2026-12-06T09:00:00Z' : undefined,
  });
  const cases: Record<string, string>[] = [
    { xcp_notification_type: 'COMPUTE_HOST' },
    { xcp_notification_type: 'COMPUTE_HOST', xcp_failure: 'pool_master' },
    { xcp_notification_type: 'COMPUTE_INSTANCE', vm_uuid: '00000000-0000-4000-8000-00000000000a', vm_name: 'vm-a' },
    { xcp_notification_type: 'COMPUTE_INSTANCE', vm_uuid: '00000000-0000-4000-8000-00000000000a', xcp_instance_event: 'heartbeat' },
    { xcp_notification_type: 'COMPUTE_PROCESS', process_name: 'xapi' },
    { xcp_notification_type: 'XCP_EMERGENCY_SHUTDOWN', ups: 'ups-a' },
  ];
  let payloads = 0;
  for (const labels of cases)
    for (const status of ['firing', 'resolved'] as const) {
      const mapping = mapAlert(alert(status, labels), ctx);
      if (mapping.kind !== 'notification') {
        t.fail(`${labels.xcp_notification_type} ${status}: ${mapping.reason}`);
        continue;
      }
      payloads++;
      const { payload } = mapping.input;
      t.equal(JSON.stringify(payload), reference(payload), `${labels.xcp_notification_type} ${status}: ${JSON.stringify(payload)}`);
    }
  t.equal(payloads, cases.length * 2);
});
