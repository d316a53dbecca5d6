import t from 'tap';
import http from 'node:http';
import type { XapiError } from '../../core/errors.js';
import { XapiClient } from '../../core/xapi/client.js';
import { Secret } from '../../core/config/secret.js';
import { startSim } from '../helpers/sim.js';

const sim = await startSim({ size: { hosts: 3, vmsPerHost: 4, disksPerVm: 2, vifsPerVm: 2, vcpusPerVm: 2, hostCpus: 4 } });
t.teardown(() => sim.stop());
const xapi = new XapiClient({ url: sim.url, username: 'root', password: new Secret('simulated'), callTimeoutMs: 3000 });
t.teardown(() => xapi.logout());
await xapi.login();

type Rec = Record<string, unknown>;
const get = (url: string, headers: Record<string, string> = {}, timeoutMs = 2000) =>
  new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    const req = http.get(url, { headers, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
const rrdUrl = (h: number, q: string) => `${sim.server.urlOf(sim.pool.hosts[h]!)}/rrd_updates?${q}&session_id=${xapi.sessionId}`;

t.test('the pool has the objects an operator sees, consistently linked', async (t) => {
  const hosts = await xapi.getAllRecords<Rec>('host');
  const vms = await xapi.getAllRecords<Rec>('VM');
  const guests = Object.values(vms).filter((v) => !v.is_control_domain && !v.is_a_template);
  t.equal(Object.keys(hosts).length, 3);
  t.equal(Object.values(vms).filter((v) => v.is_control_domain).length, 3, 'one dom0 per host');
  t.equal(guests.length, 12);
  for (const [ref, h] of Object.entries(hosts)) {
    for (const vmRef of h.resident_VMs as string[]) t.equal(vms[vmRef]!.resident_on, ref, 'resident_VMs and resident_on agree');
    const metrics = await xapi.call<Rec>('host_metrics.get_record', h.metrics);
    t.equal(metrics.live, true);
  }
  for (const cls of ['VM_metrics', 'VM_guest_metrics', 'VIF', 'VBD', 'VDI', 'SR', 'PBD', 'PIF', 'network', 'pool']) {
    const recs = await xapi.getAllRecords<Rec>(cls);
    t.ok(Object.keys(recs).length > 0, `${cls} has records`);
  }
  const some = guests[0]!;
  t.equal(
    await xapi.call('VM.get_by_uuid', some.uuid),
    Object.keys(vms).find((r) => vms[r]!.uuid === some.uuid),
  );
  const vbds = await Promise.all((some.VBDs as string[]).map((r) => xapi.call<Rec>('VBD.get_record', r)));
  t.same(vbds.map((v) => v.device).sort(), ['xvda', 'xvdb']);
});

t.test('/rrd_updates: each host serves only its own host RRD and resident VMs', async (t) => {
  const hosts = await xapi.getAllRecords<Rec>('host');
  const host0 = Object.values(hosts).find((h) => h.address === sim.pool.hosts[0]!.address)!;
  const res = await get(rrdUrl(0, 'start=-20&host=true&cf=AVERAGE&json=true'));
  t.equal(res.status, 200);
  t.match(res.type, /application\/json/);
  const doc = JSON.parse(res.body);
  const legend: string[] = doc.meta.legend;
  const uuids = new Set(legend.map((l) => l.split(':')[2]));
  const vms = await xapi.getAllRecords<Rec>('VM');
  const expected = new Set([host0.uuid, ...(host0.resident_VMs as string[]).map((r) => vms[r]!.uuid)]);
  t.same([...uuids].sort(), [...expected].sort());
  t.ok(legend.includes(`AVERAGE:host:${host0.uuid}:cpu_avg`));
  t.type(doc.meta.step, 'string', 'current shape: numbers are strings');
  t.equal(Number(doc.meta.step), 5);
  const ts = doc.data.map((r: { t: string }) => Number(r.t));
  t.ok(ts.length >= 3 && ts.length <= 5, `a 20 s window at 5 s has about 4 rows (${ts.length})`);
  t.same(
    ts,
    [...ts].sort((a: number, b: number) => b - a),
    'newest first',
  );
  t.equal(doc.data[0].values.length, legend.length);
});

t.test('/rrd_updates: query parameters as xcp-rrdd honours them', async (t) => {
  t.equal((await get(rrdUrl(0, 'host=true'))).status, 400, 'start is required');
  t.equal((await get(`${sim.server.urlOf(sim.pool.hosts[0]!)}/rrd_updates?start=-10`)).status, 401, 'a session is required');
  const noHost = JSON.parse((await get(rrdUrl(0, 'start=-10&json=true'))).body);
  t.notOk(
    noHost.meta.legend.some((l: string) => l.includes(':host:')),
    'host=true is needed for the host RRD',
  );
  const xml = await get(rrdUrl(0, 'start=-10&host=true'), { accept: 'text/xml' });
  t.match(xml.type, /text\/xml/);
  t.match(xml.body, /^<\?xml version="1.0" encoding="UTF-8"\?>\n?<xport><meta><start>/);
  const anyJson = await get(rrdUrl(0, 'start=-10&host=true'), { accept: '*/*' });
  t.match(anyJson.type, /json/, 'Accept: */* gets JSON even without json=true');
  const hourly = JSON.parse((await get(rrdUrl(0, 'start=-7200&interval=60&host=true&json=true'))).body);
  t.equal(Number(hourly.meta.step), 60, 'interval=60 selects the minute archive');
  const vms = await xapi.getAllRecords<Rec>('VM');
  const vmUuid = Object.values(vms).find((v) => !v.is_control_domain && v.resident_on === sim.pool.hosts[0]!.ref)!.uuid;
  const one = JSON.parse((await get(rrdUrl(0, `start=-10&vm_uuid=${vmUuid}&json=true`))).body);
  t.same([...new Set(one.meta.legend.map((l: string) => l.split(':')[2]))], [vmUuid]);
  const minOnly = JSON.parse((await get(rrdUrl(0, 'start=-10&host=true&cf=MIN&json=true'))).body);
  t.same(minOnly.meta.legend, [], 'our RRDs hold AVERAGE only');
  const future = JSON.parse((await get(rrdUrl(0, `start=${Math.floor(Date.now() / 1000) + 3600}&host=true&json=true`))).body);
  t.equal(future.data.length, 0, 'a start in the future gives an empty window, as with clock skew');
});

t.test('values move over time but are stable for the same row', async (t) => {
  const a = JSON.parse((await get(rrdUrl(0, 'start=-60&host=true&json=true'))).body);
  const b = JSON.parse((await get(rrdUrl(0, 'start=-60&host=true&json=true'))).body);
  const idx = a.meta.legend.findIndex((l: string) => l.endsWith(':cpu_avg'));
  const same = a.data.find((r: { t: string }) => r.t === b.data[b.data.length - 1].t);
  t.equal(same.values[idx], b.data[b.data.length - 1].values[idx], 'same t, same value');
  const cpu = a.data.map((r: { values: string[] }) => Number(r.values[idx]));
  t.ok(
    cpu.every((v: number) => v >= 0 && v <= 1),
    'cpu_avg is a ratio',
  );
  t.ok(new Set(cpu).size > 1, 'cpu moves between rows');
});

t.test('recovery calls change state as XAPI would, with its errors', async (t) => {
  const vms = await xapi.getAllRecords<Rec>('VM');
  const [vmRef, vm] = Object.entries(vms).find(([, v]) => !v.is_control_domain && !v.is_a_template && v.power_state === 'Running')!;
  const err = (p: Promise<unknown>) =>
    p.then(
      () => null,
      (e: unknown) => e as XapiError,
    );
  const e1 = await err(xapi.call('VM.start', vmRef, false, false));
  t.equal(e1?.code, 'VM_BAD_POWER_STATE');
  t.same(e1?.params, [vmRef, 'halted', 'running']);
  const e2 = await err(xapi.call('VM.power_state_reset', vmRef));
  // xapi_vm.ml power_state_reset: DOMAIN_EXISTS [vm] on the master itself, HOST_IS_LIVE [host] for a live member.
  const onMaster = vm.resident_on === sim.pool.master.ref;
  t.equal(e2?.code, onMaster ? 'DOMAIN_EXISTS' : 'HOST_IS_LIVE', 'no power_state_reset while the host is alive');
  t.same(e2?.params, [onMaster ? vmRef : vm.resident_on]);
  await xapi.call('VM.hard_shutdown', vmRef);
  t.equal(await xapi.call('VM.get_power_state', vmRef), 'Halted');
  const other = sim.pool.hosts.find((h) => h.ref !== vm.resident_on)!;
  await xapi.call('host.disable', other.ref);
  const e3 = await err(xapi.call('VM.start_on', vmRef, other.ref, false, false));
  t.equal(e3?.code, 'HOST_DISABLED');
  await xapi.call('host.enable', other.ref);
  await xapi.call('VM.start_on', vmRef, other.ref, false, false);
  t.equal(await xapi.call('VM.get_resident_on', vmRef), other.ref);
  const resident = await xapi.call<string[]>('host.get_resident_VMs', other.ref);
  t.ok(resident.includes(vmRef), 'resident_VMs updated');
  const e4 = await err(xapi.call('VM.start_on', 'OpaqueRef:nope', other.ref, false, false));
  t.equal(e4?.code, 'HANDLE_INVALID');
  const e5 = await err(xapi.call('VM.start', vmRef));
  t.equal(e5?.code, 'MESSAGE_PARAMETER_COUNT_MISMATCH');
});

t.test('memory is respected: HOST_NOT_ENOUGH_FREE_MEMORY and NO_HOSTS_AVAILABLE', async (t) => {
  const hosts = await xapi.getAllRecords<Rec>('host');
  const vms = await xapi.getAllRecords<Rec>('VM');
  const [vmRef] = Object.entries(vms).find(([, v]) => !v.is_control_domain && !v.is_a_template && v.power_state === 'Running')!;
  await xapi.call('VM.hard_shutdown', vmRef);
  const target = Object.keys(hosts)[0]!;
  const metricsRef = hosts[target]!.metrics as string;
  sim.pool.store.touch('host_metrics', metricsRef, { memory_total: 0, memory_free: 0 });
  const e = await xapi.call('VM.start_on', vmRef, target, false, false).catch((x: XapiError) => x);
  t.equal((e as XapiError).code, 'HOST_NOT_ENOUGH_FREE_MEMORY');
  for (const h of Object.values(hosts))
    await xapi.call(
      'host.disable',
      Object.keys(hosts).find((r) => hosts[r] === h),
    );
  const e2 = await xapi.call('VM.start', vmRef, false, false).catch((x: XapiError) => x);
  t.equal((e2 as XapiError).code, 'NO_HOSTS_AVAILABLE');
  for (const r of Object.keys(hosts)) await xapi.call('host.enable', r);
  await xapi.call('VM.start', vmRef, false, false);
  t.equal(await xapi.call('VM.get_power_state', vmRef), 'Running');
});

t.test('a failed host hangs, turns not-live in the master view, and its VMs stay Running in the DB', async (t) => {
  const h = sim.pool.hosts[2]!;
  const res = await fetch(`${sim.controlUrl}/sim/hosts/${h.address}/fail`, { method: 'POST' });
  t.equal(res.status, 200);
  const host = await xapi.call<Rec>('host.get_record', h.ref);
  const before = await xapi.call<Rec>('host_metrics.get_record', host.metrics);
  // hostDeadAfterMs is 1 s here, counted from the host's last heartbeat (the master's liveness tick, every 500 ms,
  // so up to 500 ms before the failure); on a loaded machine the calls above may take longer than that.
  t.ok(before.live === true || Date.now() - h.lastHeartbeat > 1000, 'still live right after the failure');
  const hung = await get(rrdUrl(2, 'start=-10&host=true'), {}, 500).catch((e: Error) => e.message);
  t.equal(hung, 'timeout', 'the host accepts and says nothing');
  await new Promise((r) => setTimeout(r, 1700));
  const after = await xapi.call<Rec>('host_metrics.get_record', host.metrics);
  t.equal(after.live, false, 'dead after host_dead_after');
  const resident = (host.resident_VMs as string[]).filter((r) => sim.pool.store.get('VM', r)?.is_control_domain === false);
  for (const r of resident) t.equal(await xapi.call('VM.get_power_state', r), 'Running', 'still Running in the DB');
  const e = await xapi.call('host.disable', h.ref).catch((x: XapiError) => x);
  t.equal((e as XapiError).code, 'HOST_OFFLINE');
  await xapi.call('VM.power_state_reset', resident[0]);
  t.equal(await xapi.call('VM.get_power_state', resident[0]), 'Halted', 'power_state_reset works once the host is dead');
  const status = (await (await fetch(`${sim.controlUrl}/sim/hosts/${h.address}/power-off`, { method: 'POST' })).json()) as Rec;
  t.equal(status.power, 'off');
  await fetch(`${sim.controlUrl}/sim/hosts/${h.address}/power-on`, { method: 'POST' });
  await new Promise((r) => setTimeout(r, 700));
  t.equal((await xapi.call<Rec>('host_metrics.get_record', host.metrics)).live, true, 'live again after power on');
  for (const r of resident.slice(1)) t.equal(await xapi.call('VM.get_power_state', r), 'Halted', 'after a reboot its old VMs are Halted');
});

t.test('a dead toolstack refuses connections; a restart brings it back', async (t) => {
  const h = sim.pool.hosts[1]!;
  await fetch(`${sim.controlUrl}/sim/hosts/${h.address}/kill-toolstack`, { method: 'POST' });
  const refused = await get(rrdUrl(1, 'start=-10&host=true')).catch((e: NodeJS.ErrnoException) => e.code);
  t.equal(refused, 'ECONNREFUSED');
  await new Promise((r) => setTimeout(r, 1300));
  t.equal(sim.pool.isLive(h.ref), true, 'the host stays live: its heartbeat daemon runs');
  await fetch(`${sim.controlUrl}/sim/hosts/${h.address}/restart-toolstack`, { method: 'POST' });
  t.equal((await get(rrdUrl(1, 'start=-10&host=true'))).status, 200);
});

t.test('crashed VMs: halted, or running with a frozen heartbeat', async (t) => {
  const vms = await xapi.getAllRecords<Rec>('VM');
  const running = Object.entries(vms).filter(
    ([, v]) => !v.is_control_domain && !v.is_a_template && v.power_state === 'Running' && sim.pool.isLive(v.resident_on as string),
  );
  const [haltRef, halt] = running[0]!;
  const [hbRef, hb] = running[1]!;
  await fetch(`${sim.controlUrl}/sim/vms/${halt.uuid}/crash`, { method: 'POST', body: '{"mode":"halt"}' });
  t.equal(await xapi.call('VM.get_power_state', haltRef), 'Halted');
  const gm = hb.guest_metrics as string;
  await fetch(`${sim.controlUrl}/sim/vms/${hb.name_label}/crash`, { method: 'POST', body: '{"mode":"heartbeat"}' });
  const frozen = await xapi.call<string>('VM_guest_metrics.get_last_updated', gm);
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(await xapi.call('VM_guest_metrics.get_last_updated', gm), frozen, 'heartbeat frozen');
  t.equal(await xapi.call('VM.get_power_state', hbRef), 'Running');
  await xapi.call('VM.hard_reboot', hbRef);
  await new Promise((r) => setTimeout(r, 1500));
  t.not(await xapi.call('VM_guest_metrics.get_last_updated', gm), frozen, 'heartbeat back after hard_reboot');
});

t.test('event.from: a full snapshot for an empty token, then only changes', async (t) => {
  const first = await xapi.call<{ events: Rec[]; token: string }>('event.from', ['vm'], '', 1);
  t.ok(first.events.length >= 15);
  t.ok(first.events.every((e) => e.operation === 'add' && e.class === 'vm'));
  const vms = await xapi.getAllRecords<Rec>('VM');
  const [ref] = Object.entries(vms).find(
    ([, v]) => !v.is_control_domain && !v.is_a_template && v.power_state === 'Running' && sim.pool.isLive(v.resident_on as string),
  )!;
  const waiting = xapi.call<{ events: Rec[]; token: string }>('event.from', ['vm'], first.token, 5);
  await new Promise((r) => setTimeout(r, 100));
  await xapi.call('VM.hard_shutdown', ref);
  const next = await waiting;
  t.same(
    next.events.map((e) => [e.operation, e.ref]),
    [['mod', ref]],
    'one coalesced mod event',
  );
  t.equal((next.events[0]!.snapshot as Rec).power_state, 'Halted');
  const idle = await xapi.call<{ events: Rec[] }>('event.from', ['vm'], next.token, 0.2);
  t.same(idle.events, [], 'nothing new: empty after the timeout');
  const lost = await xapi.call('event.from', ['vm'], '5', 0).catch((e: XapiError) => e.code);
  t.not(lost, 'EVENTS_LOST', 'a recent token is still valid');
});

t.test('members redirect API calls; malformed and slow faults', async (t) => {
  const h = sim.pool.hosts[1]!;
  const res = await fetch(`${sim.server.urlOf(h)}/jsonrpc`, {
    method: 'POST',
    body: JSON.stringify({ jsonrpc: '2.0', method: 'host.get_all', params: [xapi.sessionId], id: 7 }),
  });
  t.same(await res.json(), { jsonrpc: '2.0', error: { code: 1, message: 'HOST_IS_SLAVE', data: [sim.pool.master.address] }, id: 7 });
  const v1 = await fetch(`${sim.url}/jsonrpc`, { method: 'POST', body: JSON.stringify({ method: 'session.logout', params: ['OpaqueRef:x'], id: 'a' }) });
  t.same(await v1.json(), { result: null, error: ['SESSION_INVALID', 'OpaqueRef:x'], id: 'a' }, 'JSON-RPC v1 error shape');
  await fetch(`${sim.controlUrl}/sim/hosts/${h.address}/malformed`, { method: 'POST', body: '{"on":true}' });
  const broken = await get(rrdUrl(1, 'start=-10&host=true&json=true'));
  t.throws(() => JSON.parse(broken.body), 'malformed body');
  await fetch(`${sim.controlUrl}/sim/hosts/${h.address}/recover`, { method: 'POST' });
  await fetch(`${sim.controlUrl}/sim/hosts/${h.address}/slow`, { method: 'POST', body: '{"ms":600}' });
  const slow = await get(rrdUrl(1, 'start=-10&host=true'), {}, 300).catch((e: Error) => e.message);
  t.equal(slow, 'timeout');
  await fetch(`${sim.controlUrl}/sim/hosts/${h.address}/recover`, { method: 'POST' });
  const bad = await fetch(`${sim.controlUrl}/sim/hosts/nope/fail`, { method: 'POST' });
  t.equal(bad.status, 404);
});
