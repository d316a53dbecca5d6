// The emergency shutdown's pieces without a pool: its config (defaults, errors naming the key), the mapping of a
// power alert to a notification, and how a repeat of a trigger and the shutdown/resume order are told.
import { join } from 'node:path';
import t from 'tap';
import { ConfigError } from '../../core/config/load.js';
import { Secret } from '../../core/config/secret.js';
import type { FencingConfig } from '../../recovery-hooks/config.js';
import { CommandFencer, type CommandRunner } from '../../recovery-hooks/workflows/fence.js';
import { type WebhookAlert, mapAlert } from '../../recovery-hooks/intake/alertmanager.js';
import type { Notification } from '../../recovery-hooks/store/types.js';
import { type PlannedVm, orderGroups, repeatOf, supersededBy } from '../../recovery-hooks/workflows/emergency.js';
import { resumePrecheck } from '../../recovery-hooks/workflows/emergency-resume.js';
import { HOST_1, HOST_2, tempDir } from './helpers/harness.js';
import { parseConfig } from '../../cli/config/bundle.js';
import { FenceError } from '../../core/fencing.js';

const POOLS = 'pools:\n  - { name: pool-a, url: https://a.example, username: root, password: x }\n';

function problems(yaml: string): string[] {
  try {
    parseConfig(POOLS + yaml, join(tempDir(), 'config.yaml'));
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
}

t.test('recovery_hook.emergency: defaults, and errors that name the key', async (t) => {
  const rh = parseConfig(POOLS, '/etc/xcp-sentinel/config.yaml').recovery_hook;
  t.same(rh.emergency, {
    budgetMs: 600_000,
    runtimeReserveMs: 60_000,
    hostHaltMs: 120_000,
    hardShutdownMs: 30_000,
    cleanShutdownTimeoutMs: 60_000,
    parallelSuspends: 4,
    powerOn: true,
    hostBootTimeoutMs: 900_000,
    parallelResumes: 4,
    resumeOnResolved: true,
  });
  t.equal(rh.tasks.suspend_vms!.timeoutMs, 660_000, 'the suspend task outlives the budget');
  t.equal(rh.tasks.resume_vms!.timeoutMs, 960_000);
  t.match(problems('recovery_hook:\n  emergency: { budget_seconds: 100, host_halt_seconds: 80, hard_shutdown_seconds: 30 }\n'), [
    /^recovery_hook\.emergency\.budget_seconds: must be more than host_halt_seconds \+ hard_shutdown_seconds \(110\)/,
  ]);
  t.match(problems('recovery_hook:\n  emergency: { parallel_suspends: 0, power_on: maybe, surprise: 1 }\n'), [
    /^recovery_hook\.emergency\.surprise: unknown key/,
    /^recovery_hook\.emergency\.parallel_suspends: expected an integer >= 1/,
    /^recovery_hook\.emergency\.power_on: expected true or false/,
  ]);
  t.match(
    problems('recovery_hook:\n  pools:\n    pool-a:\n      fencing: { user: u, password: p, bmc: {}, power_on_command: "ipmitool chassis power on" }\n'),
    [/^recovery_hook\.pools\.pool-a\.fencing\.power_on_command: must contain \{bmc\}$/],
  );
});

t.test('a power alert → XCP_EMERGENCY_SHUTDOWN', async (t) => {
  const hosts = {
    hostsOf: (pool: string) =>
      pool === 'pool-a'
        ? [
            { ...HOST_1, pool },
            { ...HOST_2, pool },
          ]
        : [],
    findHost: () => undefined,
  };
  const ctx = { hosts, pools: new Set(['pool-a']), now: Date.now() };
  const alert = (over: Partial<WebhookAlert> = {}, labels: Record<string, string> = {}): WebhookAlert => ({
    status: 'firing',
    labels: { alertname: 'XcpUpsRuntimeLow', xcp_notification_type: 'XCP_EMERGENCY_SHUTDOWN', pool_name: 'pool-a', ups: 'ups-a', ...labels },
    annotations: { runtime_seconds: '420' },
    startsAt: '2026-12-06T08:00:00Z',
    ...over,
  });
  t.match(
    mapAlert(alert(), ctx),
    {
      kind: 'notification',
      input: {
        type: 'XCP_EMERGENCY_SHUTDOWN',
        poolName: 'pool-a',
        hostUuid: HOST_1.uuid,
        payload: { event: 'POWER_LOST', scope: 'pool', runtime_seconds: 420, source: 'alert XcpUpsRuntimeLow (ups ups-a)' },
      },
    },
    'pool-wide, anchored on a known host, with the runtime',
  );
  const zero = mapAlert(alert({ annotations: { runtime_seconds: '0' } }), ctx);
  t.notOk(zero.kind === 'notification' && 'runtime_seconds' in zero.input.payload, 'runtime 0 (low battery) is no runtime: the configured budget applies');
  t.match(mapAlert(alert({}, { host_name: HOST_2.name }), ctx), { kind: 'notification', input: { hostUuid: HOST_2.uuid, payload: { scope: 'host' } } });
  t.match(mapAlert(alert({ status: 'resolved', endsAt: '2026-12-06T09:00:00Z' }), ctx), {
    kind: 'notification',
    input: { payload: { event: 'POWER_RESTORED' } },
  });
  const resolved = mapAlert(alert({ status: 'resolved', endsAt: '2026-12-06T09:00:00Z' }), ctx);
  t.notOk(resolved.kind === 'notification' && 'runtime_seconds' in resolved.input.payload, 'no runtime on a restore');
  t.match(mapAlert(alert({}, { pool_name: 'pool-b' }), ctx), { kind: 'invalid', reason: /pool_name 'pool-b' is not a configured pool/ });
});

t.test('a repeat of a trigger, and power restored meanwhile', async (t) => {
  let id = 0;
  const n = (event: string, status: Notification['status'], createdAt: number, updatedAt: number | null, over: Partial<Notification> = {}): Notification => ({
    id: ++id,
    uuid: `n${id}`,
    type: 'XCP_EMERGENCY_SHUTDOWN',
    status,
    hostUuid: HOST_1.uuid,
    hostName: HOST_1.name,
    poolName: 'pool-a',
    generatedAt: createdAt,
    payload: { event },
    message: null,
    source: 'api',
    createdAt,
    updatedAt,
    attempts: 0,
    nextAttemptAt: null,
    ...over,
  });
  const running = n('POWER_LOST', 'running', 100, 110);
  const ended = n('POWER_LOST', 'finished', 50, 90);
  const second = n('POWER_LOST', 'new', 120, null);
  t.equal(repeatOf(second, [running]), running, 'while one runs');
  t.equal(repeatOf(n('POWER_LOST', 'new', 95, null), [ended]), undefined, 'after one ended: a new power loss');
  t.equal(repeatOf(n('POWER_LOST', 'new', 85, null), [ended]), ended, 'created while it still ran');
  const restore = n('POWER_RESTORED', 'finished', 130, 140);
  t.equal(repeatOf(n('POWER_LOST', 'new', 150, null), [restore, running]), undefined, 'a restore in between: a new power loss');
  const hostOnly = (at: number, host = HOST_2.uuid) => n('POWER_LOST', 'running', at, at, { payload: { event: 'POWER_LOST', scope: 'host' }, hostUuid: host });
  t.equal(repeatOf(hostOnly(150), [running]), running, 'one host while the pool is shut down: covered');
  const oneHost = hostOnly(160);
  t.equal(repeatOf(n('POWER_LOST', 'new', 170, null), [oneHost]), undefined, 'the pool while one host is shut down: not covered');
  t.equal(repeatOf(hostOnly(180, HOST_1.uuid), [oneHost]), undefined, 'another host: not covered');
  t.equal(repeatOf(hostOnly(190), [oneHost]), oneHost, 'the same host: covered');
  t.equal(supersededBy(running, [restore, second, running]), restore, 'power restored after the shutdown started');
  t.equal(supersededBy(restore, [restore, running]), undefined);

  const settings = parseConfig(POOLS, '/etc/xcp-sentinel/config.yaml').recovery_hook.emergency;
  const history = { recent: async () => [], results: async () => ({}) };
  const fromAlert = { ...restore, source: 'alertmanager' as const };
  t.equal(resumePrecheck({ settings, history })(fromAlert), undefined, 'a resolved alert resumes by default');
  t.match(resumePrecheck({ settings: { ...settings, resumeOnResolved: false }, history })(fromAlert), {
    status: 'ignored',
    reason: /resume_on_resolved is false/,
  });
  t.equal(resumePrecheck({ settings: { ...settings, resumeOnResolved: false }, history })(restore), undefined, 'the API and the CLI always resume');
});

t.test('reverse start order to shut down, start order to resume', async (t) => {
  const vm = (name: string, order: number): PlannedVm => ({ uuid: name, name, order, hostUuid: 'h', hostName: 'h', paused: false });
  const vms = [vm('b', 1), vm('a', 1), vm('c', 3), vm('d', 2)];
  t.same(
    orderGroups(vms, 'shutdown').map((g) => g.map((v) => v.name)),
    [['c'], ['d'], ['a', 'b']],
  );
  t.same(
    orderGroups(vms, 'resume').map((g) => g.map((v) => v.name)),
    [['a', 'b'], ['d'], ['c']],
  );
});

t.test('power on through the BMC command: {bmc} filled in, the password in the environment only', async (t) => {
  const fencing: FencingConfig = {
    user: 'admin',
    password: new Secret('bmc-Pa55'),
    passwordEnv: 'IPMI_PASSWORD',
    powerOffCommand: ['ipmitool', '-H', '{bmc}', 'chassis', 'power', 'off'],
    powerStatusCommand: ['ipmitool', '-H', '{bmc}', 'chassis', 'power', 'status'],
    powerOnCommand: ['ipmitool', '-H', '{bmc}', '-U', '{user}', '-E', 'chassis', 'power', 'on'],
    bmc: { [HOST_1.name]: '10.0.0.11' },
    commandTimeoutMs: 1000,
    confirmTimeoutMs: 1000,
    maxHostsFenced: 1,
    fenceWindowMs: 60_000,
    maxDownShare: 0.5,
  };
  const seen: { argv: string[]; env: Record<string, string> }[] = [];
  let code = 0;
  const runner: CommandRunner = async (argv, env) => {
    seen.push({ argv, env });
    return { code, stdout: 'Chassis Power Control: Up/On', stderr: code ? 'Unable to set Chassis Power Control to Up/On (bmc-Pa55)' : '' };
  };
  await new CommandFencer(fencing, runner).powerOn({ name: HOST_1.name, uuid: HOST_1.uuid });
  t.same(seen[0], { argv: ['ipmitool', '-H', '10.0.0.11', '-U', 'admin', '-E', 'chassis', 'power', 'on'], env: { IPMI_PASSWORD: 'bmc-Pa55' } });
  code = 1;
  const err = await new CommandFencer(fencing, runner).powerOn({ name: HOST_1.name, uuid: HOST_1.uuid }).catch((e: unknown) => e);
  t.ok(err instanceof FenceError, 'a failed power-on is a FenceError');
  t.match((err as Error).message, /power-on command exited with 1: .*\[redacted\]/, 'with the exit code, the password never echoed');
  const without = new CommandFencer({ ...fencing, powerOnCommand: undefined }, runner);
  await t.rejects(without.powerOn({ name: HOST_1.name, uuid: HOST_1.uuid }), /no power_on_command configured/);
});
