// Property-based: thousands of generated hostile requests (bodies, headers, query strings) against a receiver on
// SQLite and one on PostgreSQL, while a stream of valid webhooks runs concurrently. Each request goes to both, in the
// same order; the properties: never a 5xx, the same status from both, a Masakari error body for every 4xx, both still
// answering at the end, every valid webhook of the stream acknowledged and stored, no notification left running.
// The seed is printed (FUZZ_SEED=<n> replays a run; FUZZ_RUNS=<n> sets how many requests).
import fc from 'fast-check';
import t from 'tap';
import { startBothStores } from './helpers/both-stores.js';
import { HOST_1, HOST_2, TOKEN } from './helpers/harness.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);

// Strings a careless or hostile sender produces.
const hostile = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.fullUnicodeString({ maxLength: 20 }),
  fc.string16bits({ maxLength: 10 }),
  fc.constantFrom(
    '\u0000',
    'a\u0000b',
    '\u001b[31m',
    '\n',
    "1' OR '1'='1",
    '"; DROP TABLE notifications; --',
    '%00',
    '../../etc/passwd',
    '\ud800',
    'null',
    '-1',
    '1e309',
  ),
  fc.constantFrom('2026-02-30T10:00:00', '2026-13-01T00:00:00Z', '0000-00-00 00:00:00', '2026-02-28T24:00:00Z', '9999-12-31T23:59:59+99:99'),
  fc.constantFrom('18446744073709551616', '9223372036854775808', '9007199254740993', '-9223372036854775809', '1'.repeat(400)),
  fc.integer({ min: 1, max: 20_000 }).map((n) => 'x'.repeat(n)),
  fc.constantFrom(HOST_1.name, HOST_1.uuid, 'pool-a', 'COMPUTE_HOST', 'VM', 'PROCESS', 'STOPPED', 'firing'),
);
const labelKey = fc.oneof(
  fc.constantFrom('xcp_notification_type', 'pool_name', 'host_name', 'host_uuid', 'vm_uuid', 'process_name', 'xcp_instance_event', 'alertname'),
  hostile,
);
const alert = fc.record(
  {
    status: fc.oneof(fc.constantFrom('firing', 'resolved'), hostile),
    labels: fc.oneof(fc.dictionary(labelKey, hostile, { maxKeys: 8 }), fc.jsonValue({ maxDepth: 2 })),
    annotations: fc.dictionary(hostile, hostile, { maxKeys: 3 }),
    startsAt: fc.oneof(fc.constant(new Date().toISOString()), hostile),
    endsAt: hostile,
    fingerprint: hostile,
    generatorURL: hostile,
  },
  { requiredKeys: ['status', 'labels', 'startsAt'] },
);
const webhookBody = fc.oneof(
  fc.record({ version: fc.oneof(fc.constant('4'), hostile), alerts: fc.array(alert, { maxLength: 4 }) }, { requiredKeys: ['alerts'] }),
  fc.jsonValue({ maxDepth: 4 }),
);
const notificationBody = fc.oneof(
  fc.record({
    notification: fc.record(
      {
        type: fc.oneof(fc.constantFrom('COMPUTE_HOST', 'VM', 'PROCESS', 'COMPUTE_INSTANCE'), hostile),
        hostname: fc.oneof(fc.constantFrom(HOST_1.name, HOST_2.name), hostile),
        generated_time: fc.oneof(fc.constant(new Date().toISOString()), hostile),
        payload: fc.oneof(
          fc.dictionary(fc.constantFrom('event', 'host_status', 'cluster_status', 'process_name', 'instance_uuid', 'vir_domain_event'), hostile),
          fc.jsonValue({ maxDepth: 3 }),
        ),
      },
      { requiredKeys: [] },
    ),
  }),
  fc.jsonValue({ maxDepth: 4 }),
);
// Raw texts: not JSON, too deep, truncated.
const rawText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.integer({ min: 33, max: 50_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
  fc.integer({ min: 33, max: 20_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
  fc.jsonValue().map((v) => JSON.stringify(v).slice(0, -1)),
);
const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'application/vnd.openstack.masakari+json',
      '',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }).filter((s) => /^[\t\x20-\x7e]*$/.test(s)) },
);
const apiVersion = fc.option(
  fc.oneof(
    fc.constantFrom('instance-ha 1.0', 'instance-ha 1.3', 'instance-ha latest', 'instance-ha 9.9', 'compute 2.1'),
    fc.string({ maxLength: 20 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
  ),
  { nil: undefined },
);
const queryKey = fc.oneof(
  fc.constantFrom(
    'limit',
    'marker',
    'sort_key',
    'sort_dir',
    'status',
    'type',
    'source_host_uuid',
    'generated-since',
    'on_maintenance',
    'reserved',
    'enabled',
    'recovery_method',
    'service_type',
    'failover_segment_id',
  ),
  hostile,
);
// A marker that names a notification here could name another one there (ids are each store's own): hostile only.
const queryValue = hostile.filter((v) => !/^\s*\d{1,15}\s*$/.test(v));
/** Percent-encoded UTF-8 bytes (a lone surrogate becomes U+FFFD, as any client's encoder does). */
const enc = (v: string) => [...Buffer.from(v, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
// Raw escapes no encoder produces: broken, overlong, a surrogate, invalid UTF-8.
const rawEscape = fc.constantFrom('%', '%zz', '%ff%fe', '%C0%80', '%ED%A0%80', '%00', '%E2%82');
const query = fc
  .array(fc.tuple(queryKey.map(enc), fc.oneof(queryValue.map(enc), rawEscape)), { maxLength: 5 })
  .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'));

const versionHeader = (v: string | undefined): Record<string, string> => (v === undefined ? {} : { 'OpenStack-API-Version': v });

interface Req {
  method: string;
  path: string;
  raw?: string;
  headers: Record<string, string>;
}
// Now and then a wrong or hostile credential (printable: fetch refuses other header bytes before sending).
const printable = (max: number) => fc.string({ maxLength: max }).filter((v) => /^[\x21-\x7e]+$/.test(v));
const credentials = fc.option(
  fc.oneof(
    printable(80).map((v) => ({ 'X-Auth-Token': v })),
    printable(80).map((v) => ({ Authorization: `Bearer ${v}` })),
    fc.constant({ Authorization: 'Basic Zm9vOmJhcg==' }),
  ),
  { nil: undefined, freq: 10 },
);

const requestOf: fc.Arbitrary<Req> = fc.oneof(
  fc
    .tuple(
      fc.oneof(
        webhookBody.map((b) => JSON.stringify(b)),
        rawText,
      ),
      contentType,
    )
    .map(([raw, type]) => ({ method: 'POST', path: '/alertmanager', raw, headers: { 'Content-Type': type } })),
  fc
    .tuple(
      fc.oneof(
        notificationBody.map((b) => JSON.stringify(b)),
        rawText,
      ),
      contentType,
      apiVersion,
    )
    .map(([raw, type, v]) => ({
      method: 'POST',
      path: '/v1/notifications',
      raw,
      headers: { 'Content-Type': type, ...versionHeader(v) },
    })),
  fc.tuple(fc.constantFrom('/v1/notifications', '/v1/segments', '/v1/segments/SEGMENT/hosts'), query, apiVersion).map(([path, q, v]) => ({
    method: 'GET',
    path: `${path}?${q}`,
    headers: versionHeader(v),
  })),
  fc
    .tuple(fc.constantFrom('/v1/notifications/', '/v1/segments/', '/v1/segments/SEGMENT/hosts/'), hostile)
    .map(([path, id]) => ({ method: 'GET', path: path + enc(id), headers: {} })),
);

const request: fc.Arbitrary<Req> = fc.tuple(requestOf, credentials).map(([r, auth]) => (auth ? { ...r, headers: { ...r.headers, ...auth } } : r));

t.test(`${RUNS} hostile requests on both stores, with a stream of valid webhooks (seed ${SEED})`, async (t) => {
  const { hooks } = await startBothStores(t);
  t.comment(`fast-check seed ${SEED} (replay: FUZZ_SEED=${SEED})`);
  const segments = await Promise.all(hooks.map(async ({ hook }) => (await hook.request('GET', '/v1/segments')).json.segments[0].uuid as string));
  const send = async (i: number, r: Req) => {
    const { hook } = hooks[i]!;
    const res = await fetch(hook.url + r.path.replace('SEGMENT', segments[i]!), {
      method: r.method,
      headers: { 'X-Auth-Token': TOKEN, ...r.headers },
      body: r.raw,
    });
    const text = await res.text();
    return { status: res.status, text };
  };

  // The stream: valid instance alerts for distinct VMs, posted to both receivers while the fuzzing runs.
  const vms = hooks.map(({ pool }) => [...Array(400)].map((_, i) => pool.addVm(`stream-${i}`, null).uuid));
  let streaming = true;
  const acked: Set<string>[] = hooks.map(() => new Set());
  const streamFailures: string[] = [];
  const stream = (async () => {
    for (let i = 0; streaming && i < 400; i++) {
      await Promise.all(
        hooks.map(async ({ hook, store }, h) => {
          const body = {
            version: '4',
            alerts: [
              {
                status: 'firing',
                startsAt: new Date().toISOString(),
                fingerprint: `stream-${i}`,
                labels: {
                  xcp_notification_type: 'COMPUTE_INSTANCE',
                  pool_name: 'pool-a',
                  host_name: HOST_2.name,
                  host_uuid: HOST_2.uuid,
                  vm_uuid: vms[h]![i]!,
                },
              },
            ],
          };
          const res = await hook.request('POST', '/alertmanager', { body });
          if (res.status === 202 && res.json.receipts[0].outcome === 'created') acked[h]!.add(res.json.receipts[0].notification_uuid);
          else streamFailures.push(`${store} #${i}: ${res.status} ${res.text.slice(0, 200)}`);
        }),
      );
      await new Promise((r) => setTimeout(r, 5));
    }
  })();

  let count = 0;
  const started = Date.now();
  t.teardown(() => void (streaming = false));
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      count++;
      const answers = [];
      for (let i = 0; i < hooks.length; i++) answers.push(await send(i, r));
      for (const [i, a] of answers.entries()) {
        if (a.status >= 500) throw new Error(`${hooks[i]!.store}: ${a.status} for ${r.method} ${r.path.slice(0, 200)}: ${a.text.slice(0, 300)}`);
        // Node's HTTP parser refuses request heads above 16 KB itself (431, no body): before any of our code runs.
        if (a.status >= 400 && !(a.status === 431 && a.text === '')) {
          const body = JSON.parse(a.text);
          const fault = Object.values(body)[0] as { code: number; message: string };
          if (fault?.code !== a.status || typeof fault.message !== 'string')
            throw new Error(`${hooks[i]!.store}: no Masakari error body: ${a.text.slice(0, 300)}`);
        }
      }
      if (answers.length === 2 && answers[0]!.status !== answers[1]!.status)
        throw new Error(
          `sqlite ${answers[0]!.status} vs postgres ${answers[1]!.status} for ${r.method} ${r.path.slice(0, 200)} ${JSON.stringify(r.headers)} ${(r.raw ?? '').slice(0, 300)}: ${answers[0]!.text.slice(0, 200)} | ${answers[1]!.text.slice(0, 200)}`,
        );
    }),
    {
      numRuns: RUNS,
      seed: SEED,
      endOnFailure: true,
      // A short report (the counterexample may hold a 200 KB body): the seed, the path and what went wrong.
      reporter: (run) => {
        if (run.failed)
          throw new Error(
            `property failed after ${run.numRuns} run(s): FUZZ_SEED=${run.seed} (path ${run.counterexamplePath}): ${String(run.errorInstance).slice(0, 2000)}`,
          );
      },
    },
  );
  streaming = false;
  await stream;
  t.comment(`${count} generated requests × ${hooks.length} store(s) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  t.pass('no 5xx, a Masakari error body for every 4xx, the same status from both stores');

  t.same(streamFailures, [], 'every valid webhook of the stream acknowledged (created)');
  for (const [h, { hook, store }] of hooks.entries()) {
    t.equal((await hook.request('GET', '/health')).status, 200, `${store}: still answering`);
    const stored = new Set<string>();
    for (let marker: number | undefined; ; ) {
      const page = (await hook.request('GET', `/v1/notifications?type=COMPUTE_INSTANCE&sort_key=id&sort_dir=asc&limit=500${marker ? `&marker=${marker}` : ''}`))
        .json.notifications;
      for (const n of page) stored.add(n.notification_uuid);
      if (page.length < 500) break;
      marker = page.at(-1).id;
    }
    const missing = [...acked[h]!].filter((u) => !stored.has(u));
    t.same(missing, [], `${store}: all ${acked[h]!.size} acknowledged notifications of the stream are stored`);
    const deadline = Date.now() + 60_000;
    let counts: Record<string, number> = {};
    while (Date.now() < deadline) {
      counts = (await hook.request('GET', '/health')).json.notifications;
      if (!counts.running && !counts.new) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    t.equal((counts.running ?? 0) + (counts.new ?? 0), 0, `${store}: no notification left new or running (${JSON.stringify(counts)})`);
  }
});
