// End to end, host failure without a proven fence, and a host that is not down at all: the receiver (real XAPI
// client, real CommandFencer running the simulator's CLI as the BMC) starts nothing, resets nothing, and asks a person:
// the notification stays `running` with `operator_wait`, the gauge xcp_recovery_waiting_for_operator says so, and
// only an operator's confirmation (API or CLI, scope fence:confirm) lets the recovery go on.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ALL_SCOPES, tempDir } from './helpers/harness.js';
import {
  CLI,
  type Rig,
  type RigOptions,
  SIM_CLI,
  type SimHost,
  TOKEN,
  countBy,
  failMemberHost,
  fire,
  hostDownAlert,
  notification,
  progressLines,
  settled,
  startRig,
  taskStates,
  untilWaiting,
  vmoves,
} from './helpers/sim-rig.js';

const READER_TOKEN = 'reader-token-0123456789';
const tokens = {
  tokens: [
    { name: 'test', token: TOKEN, scopes: ALL_SCOPES },
    { name: 'reader', token: READER_TOKEN },
  ],
};

async function gauge(rig: Rig, host: SimHost): Promise<string[]> {
  const text = await (await fetch(`${rig.hook!.url}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith('xcp_recovery_waiting_for_operator{') && l.includes(`host_uuid="${host.uuid}"`));
}

/** A failed host whose recovery waits for a person; checks nothing was touched meanwhile. */
async function waiting(t: Test, o: RigOptions, reason: RegExp) {
  const rig = await startRig(t, { ...o, recoveryHook: { ...tokens, ...o.recoveryHook } });
  const hook = rig.hook!;
  const victim = await failMemberHost(rig);
  const before = rig.residentVms(victim).map((v) => v.uuid);
  const uuid = await fire(hook, hostDownAlert(rig, victim));
  const n = await untilWaiting(rig, uuid);

  t.equal(n.status, 'running', 'a waiting notification stays running (Masakari status)');
  t.match(n.operator_wait, { kind: 'fence_confirmation', reason });
  t.ok(Date.parse(n.operator_wait.since) > Date.now() - 60_000, 'since: an ISO time');
  t.match(taskStates(n), {
    confirm_host_down: 'SUCCESS',
    plan_vm_restarts: 'SUCCESS',
    fence_host: 'RUNNING',
    reset_vm_power_states: 'PENDING',
    restart_vms: 'PENDING',
  });
  t.ok(
    progressLines(n).some((l) => /^fence_host: waiting for an operator \(fence_confirmation\): /.test(l)),
    'the progress says it waits',
  );
  t.same(
    (await vmoves(hook, uuid)).map((m) => [m.instance_uuid, m.status]).sort(),
    before.map((v) => [v, 'pending']).sort(),
    'what ran on the host is recorded before the fence',
  );
  t.same(await gauge(rig, victim), [
    `xcp_recovery_waiting_for_operator{pool_name="${rig.poolName}",host_name="${victim.name}",host_uuid="${victim.uuid}",kind="fence_confirmation"} 1`,
  ]);
  // It stays so: give the engine many ticks.
  await new Promise((r) => setTimeout(r, 1500));
  t.equal((await notification(hook, uuid)).status, 'running');
  t.same(rig.calls.starts, [], 'no VM started anywhere');
  t.same(rig.calls.resets, [], 'no power state reset');
  for (const vm of before) t.match(await rig.vmStatus(vm), { power_state: 'Running', resident_on: victim.name });
  t.match(await rig.hostStatus(victim.name), { crashed: true, live: false });
  return { rig, victim, uuid, before };
}

/** After the operator powered the host off and confirmed: every VM runs elsewhere, started once. */
async function recovered(t: Test, rig: Rig, victim: SimHost, uuid: string, before: string[]) {
  const n = await settled(rig.hook!, uuid);
  t.equal(n.status, 'finished', n.message ?? 'finished');
  t.equal(n.operator_wait, null, 'no longer waiting');
  t.same(await gauge(rig, victim), [], 'the gauge is gone');
  t.ok(progressLines(n).some((l) => /^fence_host: an operator \(token test\) confirmed .* is off at /.test(l)));
  t.ok(
    progressLines(n).some((l) => l.startsWith('restart_vms: restarted: ')),
    'the progress says which VM runs where',
  );
  t.same(countBy(rig.calls.starts), Object.fromEntries(before.map((v) => [v, 1])), 'each VM started once');
  for (const vm of before) t.not((await rig.vmStatus(vm)).resident_on, victim.name);
}

t.test('the BMC acknowledges power-off but keeps reporting on → waits; confirm-fenced through the API → recovered', async (t) => {
  const { rig, victim, uuid, before } = await waiting(
    t,
    // A BMC that answers the power-off command and never powers off: the power-off command only asks for the status.
    { fencing: (control) => ({ power_off_command: `${SIM_CLI} power-status {bmc} --control ${control} --ipmitool-output`, confirm_timeout_seconds: 1 }) },
    /^the BMC of xcp-host-\d+ does not report power off within 1 s of the power-off: confirm xcp-host-\d+ is off$/,
  );
  const hook = rig.hook!;
  const confirm = (body: unknown, token = TOKEN) =>
    hook.request('POST', `/v1/notifications/${uuid}/confirm-fenced`, { body, headers: { 'X-Auth-Token': token } });

  const forbidden = await confirm({ host_uuid: victim.uuid }, READER_TOKEN);
  t.equal(forbidden.status, 403);
  t.match(forbidden.json, { forbidden: { code: 403, message: /needs scope fence:confirm/ } });
  const other = rig.hosts.find((h) => h.uuid !== victim.uuid)!;
  const wrongHost = await confirm({ host_uuid: other.uuid });
  t.equal(wrongHost.status, 400);
  t.match(wrongHost.json.badRequest.message, /host_uuid.*is not the host of notification/);
  t.equal((await confirm({})).status, 400);
  t.same(rig.calls.starts, [], 'refused confirmations changed nothing');

  // The operator makes sure the host is off (here: its power), then confirms.
  await rig.control(`/sim/hosts/${victim.name}/power-off`, {});
  const ok = await confirm({ host_uuid: victim.uuid });
  t.equal(ok.status, 202);
  t.equal(ok.json.notification.notification_uuid, uuid);
  t.equal(ok.json.notification.operator_wait, null);
  t.equal((await confirm({ host_uuid: victim.uuid })).status, 409, 'confirmed once: the second is a conflict');
  await recovered(t, rig, victim, uuid, before);
  t.equal((await confirm({ host_uuid: victim.uuid })).status, 409, 'an ended notification waits for nobody');
});

t.test('the fencing command fails (unknown BMC) → waits; confirm-fenced through the CLI → recovered', async (t) => {
  const { rig, victim, uuid, before } = await waiting(
    t,
    { fencing: { bmc: { 'xcp-host-01': '192.0.2.1', 'xcp-host-02': '192.0.2.2', 'xcp-host-03': '192.0.2.3' } } },
    /^the BMC of xcp-host-\d+ does not answer \(fencing xcp-host-\d+: power-status command exited with 1: Error: no host 192\.0\.2\.\d\): xcp-host-\d+ cannot be proven off; confirm it is off$/,
  );
  const n = await notification(rig.hook!, uuid);
  t.notMatch(JSON.stringify(n), /simulated-bmc-password/, 'the BMC password never shows');
  await rig.control(`/sim/hosts/${victim.name}/power-off`, {});
  const tokenFile = join(rig.dir, 'ops-token');
  writeFileSync(tokenFile, `${READER_TOKEN}\n`);
  const cli = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', CLI, 'confirm-fenced', uuid, '--host-uuid', victim.uuid, '--url', rig.hook!.url, ...args],
        { env: { ...process.env, ...env } },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      ),
    );
  const refused = await cli(['--token-file', tokenFile]);
  t.equal(refused.code, 1, 'a token without fence:confirm');
  t.match(refused.stderr, /403: .*needs scope fence:confirm/);
  const done = await cli([], { XCP_SENTINEL_TOKEN: TOKEN });
  t.equal(done.code, 0, done.stderr);
  t.match(done.stdout, new RegExp(`^confirmed: notification ${uuid} \\(host ${victim.uuid}\\) resumes`));
  await recovered(t, rig, victim, uuid, before);
});

t.test('no fencing configured and no fence assertion → waits, and expires as failed with the reason', async (t) => {
  const { rig, uuid } = await waiting(
    t,
    { pool: { fencing: false }, recoveryHook: { expire_after_seconds: 130 } },
    /^no fencing configured for pool sim-pool: xcp-host-\d+ cannot be proven off; confirm it is off to restart its VMs$/,
  );
  // The alert began 120 s ago (sim-rig's default startsAt): it expires about 10 s later, still waiting.
  const n = await settled(rig.hook!, uuid, ['failed'], 40_000);
  t.match(n.message, /^expired: generated more than 130 s ago/);
  t.equal(n.operator_wait, null);
  t.same(rig.calls.starts, []);
  t.same(rig.calls.resets, []);
});

t.test('a host that is not really down: the alert fires but XAPI reports it live → ignored, nothing touched', async (t) => {
  const rig = await startRig(t);
  const hook = rig.hook!;
  const host = rig.hosts.find((h) => !h.master)!;
  const before = rig.residentVms(host).map((v) => v.uuid);
  const uuid = await fire(hook, hostDownAlert(rig, host));
  const n = await settled(hook, uuid);
  t.equal(n.status, 'ignored');
  t.equal(n.message, `XAPI reports host ${host.name} live (host_metrics.live = true): not confirmed down, nothing restarted`);
  t.same(taskStates(n).confirm_host_down, 'FAILURE');
  t.same(rig.calls, { starts: [], resets: [], reboots: [], powerOffs: [], toolstackRestarts: [] }, 'no XAPI or BMC action at all');
  t.match(await rig.hostStatus(host.name), { power: 'on', live: true, enabled: true, crashed: false });
  t.same(
    rig.residentVms(host).map((v) => v.uuid),
    before,
  );
  t.same((await notification(hook, uuid)).recovery_workflow_details.length, 6);
});

t.test('a fence command that times out is killed with its process group: its delayed power-off never lands', async (t) => {
  // A wrapper whose child runs the real power-off 5 s later, while the wrapper itself hangs past the 3 s timeout. The
  // status is read with curl on the simulator's BMC (fast, so that only the power-off meets the timeout).
  const dir = tempDir();
  const wrapper = join(dir, 'slow-bmc.sh');
  writeFileSync(wrapper, '#!/bin/sh\n( sleep 5; exec "$@" ) &\nsleep 60\n', { mode: 0o755 });
  const status = join(dir, 'bmc-status.sh');
  const { rig, victim } = await waiting(
    t,
    {
      fencing: (control) => {
        writeFileSync(
          status,
          `#!/bin/sh\ncurl -s -m 5 -X POST ${control}/sim/hosts/$1/power-status | sed 's/.*"power":"\\([a-z]*\\)".*/Chassis Power is \\1/'\n`,
          { mode: 0o755 },
        );
        return {
          power_off_command: `${wrapper} ${SIM_CLI} power-off {bmc} --control ${control} --ipmitool-output`,
          power_status_command: `${status} {bmc}`,
          command_timeout_seconds: 3,
          confirm_timeout_seconds: 1,
        };
      },
    },
    /^the BMC of xcp-host-\d+ does not report power off within 1 s of the power-off \(fencing xcp-host-\d+: power-off command exited with a signal or timeout: command timed out after 3000 ms: process group killed\): confirm xcp-host-\d+ is off$/,
  );
  // Long after the child would have powered the host off:
  await new Promise((r) => setTimeout(r, 4000));
  t.same(rig.calls.powerOffs, [], 'the power-off never happened');
  t.match(await rig.hostStatus(victim.name), { power: 'on' });
});
