// The pure parts of #16's recovery safety: the BMC map resolved against XAPI's hosts, fence commands in their own
// process group, the scope each route needs, the confirm-fenced body, and which workflows exclude each other.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { workflowLease } from '../../recovery-hooks/engine/engine.js';
import { parseConfirmFenced } from '../../recovery-hooks/intake/masakari/confirm-fenced.js';
import { routeScope } from '../../recovery-hooks/intake/scopes.js';
import { Secret } from '../../core/config/secret.js';
import { CommandFencer, resolveBmcMap, runCommand } from '../../recovery-hooks/workflows/fence.js';
import { tempDir } from './helpers/harness.js';
import { sleep } from '../../core/concurrency.js';

const A = { uuid: 'aaaaaaaa-0000-4000-8000-000000000001', name_label: 'xcp-host-01' };
const B = { uuid: 'bbbbbbbb-0000-4000-8000-000000000002', name_label: 'xcp-host-02' };

t.test('the BMC map: keyed by name or uuid, resolved to uuids; ambiguity is a problem, never a guess', async (t) => {
  const ok = resolveBmcMap({ 'xcp-host-01': '10.0.0.1', [B.uuid.toUpperCase()]: '10.0.0.2', 'gone-host': '10.0.0.9' }, [A, B]);
  t.same(
    [...ok.byUuid],
    [
      [A.uuid, '10.0.0.1'],
      [B.uuid, '10.0.0.2'],
    ],
  );
  t.same(ok.problems, [], 'a key naming no host of the pool is left out');

  // A key that is one host's name and the other's uuid (a renamed host): not resolved at all.
  const crossed = resolveBmcMap({ [B.uuid]: '10.0.0.2' }, [{ ...A, name_label: B.uuid }, B]);
  t.same(crossed.byUuid.size, 0);
  t.match(crossed.problems, [/fencing\.bmc key "bbbbbbbb-.*" is ambiguous: it matches /]);
  const dupName = resolveBmcMap({ 'xcp-host-01': '10.0.0.1' }, [A, { ...B, name_label: 'xcp-host-01' }]);
  t.match(dupName.problems, [/is ambiguous: it matches xcp-host-01 \(aaaaaaaa.*\) and xcp-host-01 \(bbbbbbbb/]);
  const twice = resolveBmcMap({ 'xcp-host-01': '10.0.0.1', [A.uuid]: '10.0.0.7' }, [A, B]);
  t.match(twice.problems, [/gives host xcp-host-01 \(aaaaaaaa.*\) two addresses: 10\.0\.0\.1 and 10\.0\.0\.7/]);
  t.same(resolveBmcMap({ 'xcp-host-01': '10.0.0.1', [A.uuid]: '10.0.0.1' }, [A, B]).problems, [], 'the same address twice is fine');
});

t.test('a fence command that times out is killed with its whole process group: its child cannot act later', async (t) => {
  const dir = tempDir();
  const marker = join(dir, 'powered-off');
  // A wrapper whose child would "power off" after 1 s, while the wrapper itself hangs.
  const started = Date.now();
  const out = await runCommand(['sh', '-c', `(sleep 1; touch ${marker}) & sleep 30`], {}, 200);
  t.equal(out.code, null, 'timed out');
  t.match(out.stderr, /timed out after 200 ms: process group killed/);
  t.ok(Date.now() - started < 5000, 'answered at the timeout, not when the wrapper would have ended');
  await sleep(1800);
  t.notOk(existsSync(marker), "the wrapper's child was killed with it");
});

t.test('a fence command that cannot be started is a failed fence naming why, never a powered-off host', async (t) => {
  const missing = join(tempDir(), 'no-such-ipmitool');
  const out = await runCommand([missing, 'chassis', 'power', 'off'], {}, 5000);
  t.equal(out.code, null, 'no exit code: the command never ran');
  t.match(out.stderr, /ENOENT/);
  const fencer = new CommandFencer({
    user: 'admin',
    password: new Secret('bmc-Pa55'),
    passwordEnv: 'IPMI_PASSWORD',
    powerOffCommand: [missing, '-H', '{bmc}', 'chassis', 'power', 'off'],
    powerStatusCommand: [missing, '-H', '{bmc}', 'chassis', 'power', 'status'],
    bmc: { 'xcp-host-01': '10.0.0.1' },
    commandTimeoutMs: 5000,
    confirmTimeoutMs: 5000,
    maxHostsFenced: 1,
    fenceWindowMs: 60_000,
    maxDownShare: 0.5,
  });
  const host = { name: 'xcp-host-01', uuid: 'uuid-1' };
  await t.rejects(fencer.powerOff(host), { name: 'FenceError', message: /power-off command exited with a signal or timeout: .*ENOENT/ });
  await t.rejects(fencer.powerStatus(host), { name: 'FenceError', message: /power-status command exited with a signal or timeout: .*ENOENT/ });
});

t.test('a fence command that exits leaves nothing running behind it', async (t) => {
  const dir = tempDir();
  const marker = join(dir, 'powered-off');
  // The wrapper answers at once and leaves a detached child with its output elsewhere.
  const out = await runCommand(['sh', '-c', `(sleep 1; touch ${marker}) >/dev/null 2>&1 & echo Chassis Power Control: Down/Off`], {}, 5000);
  t.equal(out.code, 0);
  t.match(out.stdout, /Down\/Off/);
  await sleep(1800);
  t.notOk(existsSync(marker), 'the background child was killed with the group when the command ended');
  // Control: the same child outside our runner does act (so the check above can fail).
  const control = join(dir, 'control');
  await runCommand(['sh', '-c', `(sleep 0.2; touch ${control}) & wait`], {}, 5000);
  t.ok(existsSync(control), 'a child the command waits for runs to its end');
});

t.test('the scope each route needs', async (t) => {
  t.same(routeScope('POST', '/alertmanager', '/alertmanager'), { scope: 'alertmanager', what: 'POST /alertmanager' });
  t.match(routeScope('GET', '/v1/notifications', '/alertmanager'), { scope: 'notifications:read' });
  t.match(routeScope('GET', '/v1/segments/x/hosts', '/alertmanager'), { scope: 'notifications:read' });
  t.match(routeScope('POST', '/v1/notifications', '/alertmanager'), { scope: 'notifications:write' });
  t.match(routeScope('POST', '/v1/notifications/', '/alertmanager'), { scope: 'notifications:write' });
  t.match(routeScope('POST', '/v1/notifications/0e5a/confirm-fenced', '/alertmanager'), { scope: 'fence:confirm' });
  t.equal(routeScope('DELETE', '/v1/segments/x', '/alertmanager'), undefined, 'refused by the route (405) whatever the scope');
});

t.test('the confirm-fenced body', async (t) => {
  t.same(parseConfirmFenced({ host_uuid: A.uuid }), { hostUuid: A.uuid });
  t.throws(() => parseConfirmFenced({}), { status: 400, message: /'host_uuid' is a required property/ });
  t.throws(() => parseConfirmFenced({ host_uuid: 'xcp-host-01' }), { status: 400, message: /field\/attribute host_uuid.*not a 'uuid'/ });
  t.throws(() => parseConfirmFenced({ host_uuid: A.uuid, force: true }), { status: 400, message: /'force' unexpected/ });
  t.throws(() => parseConfirmFenced([A.uuid]), { status: 400, message: /not of type 'object'/ });
});

t.test("leases: host-level workflows exclude their host's VM workflows and the other way round", async (t) => {
  const host = { type: 'COMPUTE_HOST' as const, hostUuid: A.uuid, payload: {} };
  t.same(workflowLease(host), { name: `host:${A.uuid}`, conflicts: { prefix: `host:${A.uuid}/` } });
  t.same(workflowLease({ ...host, type: 'COMPUTE_PROCESS' }), workflowLease(host));
  t.same(workflowLease({ type: 'COMPUTE_INSTANCE', hostUuid: A.uuid, payload: { instance_uuid: 'vm-1' } }), {
    name: `host:${A.uuid}/vm:vm-1`,
    conflicts: { names: [`host:${A.uuid}`] },
  });
  t.same(workflowLease({ type: 'COMPUTE_INSTANCE', hostUuid: '', payload: { instance_uuid: 'vm-1' } }), { name: 'vm:vm-1', conflicts: {} });
});
