// The master failover's tasks (recovery-hooks/workflows/master.ts) one by one, against a scripted pool: what each
// host answers to a login at its own address, what the direct calls and the pool session answer. The end-to-end
// runs against the simulator are e2e-master.test.ts and test/safety/master*.test.ts; here every decision the tasks
// take is driven on purpose, above all the ones that must not promote: hosts that disagree about who is master,
// a refused local login, a promotion that never completes.
import t from 'tap';
import { Secret } from '../../core/config/secret.js';
import { XapiError } from '../../core/errors.js';
import type { ProbeResult } from '../../core/xapi/client.js';
import type { PoolMode } from '../../recovery-hooks/config.js';
import type { Task, TaskContext } from '../../recovery-hooks/engine/task.js';
import { inputsOf, wire } from '../../recovery-hooks/engine/wiring.js';
import type { Notification, PlannedMove, VmMove } from '../../recovery-hooks/store/types.js';
import type { MasterFailoverAccess, PoolFencing, PoolHost, ToolstackRestart, WorkflowDeps } from '../../recovery-hooks/workflows/deps.js';
import { LAST_READ_MAX_AGE_MS, type MasterLost, isMasterLoss, masterTasks } from '../../recovery-hooks/workflows/master.js';
import { MASTER_TASKS } from '../../recovery-hooks/workflows/names.js';

const M: PoolHost = { uuid: 'u-m', name: 'xcp-m', address: '10.0.0.1' };
const A: PoolHost = { uuid: 'u-a', name: 'xcp-a', address: '10.0.0.2' };
const B: PoolHost = { uuid: 'u-b', name: 'xcp-b', address: '10.0.0.3' };
const PASSWORD = 'local-root-secret-4711';

const silent: ProbeResult = { state: 'silent', error: new Error('timeout') };
const asMaster: ProbeResult = { state: 'master' };
const memberOf = (h: PoolHost): ProbeResult => ({ state: 'member', master: h.address });

interface WorldOptions {
  answers: Record<string, ProbeResult>;
  hosts?: PoolHost[];
  /** false: no master_failover configured. */
  config?: Partial<NonNullable<MasterFailoverAccess['config']>> | false;
  /** false: the pool's XAPI client gives no direct access. */
  access?: false;
  /** A direct call (local login, emergency calls): its answer; may change `answers`. */
  callAt?: (address: string, method: string, params: unknown[]) => unknown;
  /** A call on the pool session. */
  xapi?: (method: string, params: unknown[]) => unknown;
  restart?: ToolstackRestart;
  fencing?: PoolFencing;
  /** What each host's /rrd_updates lists (VM uuids), or the error it fails with; absent: the pool cannot read RRDs. */
  rrd?: (address: string) => string[];
  /** The receiver's last read of a host's resident VMs (the host directory's). */
  lastResidents?: MasterFailoverAccess['lastResidents'];
}

function world(o: WorldOptions) {
  const calls: string[] = [];
  const followed: string[] = [];
  const access: MasterFailoverAccess = {
    config:
      o.config === false
        ? undefined
        : {
            username: 'root',
            password: new Secret(PASSWORD),
            candidates: [],
            promoteTimeoutMs: 150,
            membersTimeoutMs: 150,
            watchIntervalMs: 1000,
            ...o.config,
          },
    hosts: () => o.hosts ?? [M, A, B],
    probe: async (address) => o.answers[address] ?? silent,
    callAt: async <T>(address: string, method: string, params: unknown[]) => {
      calls.push(`${address} ${method}`);
      return (o.callAt?.(address, method, params) ?? 'OpaqueRef:local') as T;
    },
    follow: (address) => void followed.push(address),
    follows: () => true,
    callTimeoutMs: 1000,
    lastResidents: o.lastResidents,
  };
  const deps: WorkflowDeps = {
    masterFailoverFor: () => (o.access === false ? undefined : access),
    xapiFor: () => ({
      call: async <T>(method: string, ...params: unknown[]) => {
        calls.push(`xapi ${method}`);
        return o.xapi?.(method, params) as T;
      },
      ...(o.rrd && {
        rrdUpdates: async (address: string) => ({
          start: 0,
          end: 10,
          step: 5,
          columns: o.rrd!(address).map((uuid) => ({ cf: 'AVERAGE', objectType: 'vm', uuid, name: 'cpu0' })),
          rows: [],
        }),
      }),
    }),
    fencerFor: () => o.fencing,
    toolstackRestartFor: () => o.restart,
    settings: { processFailure: { confirmTimeoutMs: 150 }, hostFailure: { restartUnprotected: false } } as unknown as WorkflowDeps['settings'],
    pollIntervalMs: 10,
    probeTimeoutMs: 50,
  };
  return { tasks: asTheEngineRunsThem(masterTasks(deps)), calls, followed };
}

/** A context with the results of the tasks before (by task name), as the store keeps them. */
type Ctx = TaskContext & { results: Record<string, unknown> };

/** Each task run as the engine runs it: its inputs are the results of the tasks before it, wired as the master workflow wires them. */
function asTheEngineRunsThem<K extends string>(tasks: Record<K, Task>): Record<K, { run(ctx: Ctx): Promise<unknown> }> {
  const { wiring } = wire(MASTER_TASKS.map((name) => tasks[name as K]));
  const entries = Object.entries<Task>(tasks).map(([name, task]) => [name, { run: (ctx: Ctx) => task.run(ctx, inputsOf(task, wiring, ctx.results)) }]);
  return Object.fromEntries(entries);
}

const LOST: MasterLost = { master: M, members: [A.name, B.name], hosts: [M, A, B] };
const FENCED = { fence_master: { fencedBy: 'bmc' } };

/** `moves`: the plan as stored before the task (what plan_vm_restarts recorded). */
function context(results: Record<string, unknown> = {}, mode: PoolMode = 'auto', n: Partial<Notification> = {}, moves: Partial<VmMove>[] = []) {
  const lines: string[] = [];
  /** The moves a task added to the plan. */
  const planned: PlannedMove[] = [];
  const ctx: Ctx = {
    notification: {
      uuid: 'n1',
      type: 'COMPUTE_HOST',
      hostUuid: M.uuid,
      hostName: M.name,
      poolName: 'p',
      payload: { xcp_failure: 'pool_master' },
      ...n,
    } as Notification,
    mode,
    results,
    firstStartedAt: Date.now(),
    signal: new AbortController().signal,
    moves: {
      plan: async (m) => void planned.push(...m),
      list: async () => moves as VmMove[],
      update: async () => {},
    },
    fence: { operatorWait: async () => undefined, recorded: async () => undefined, reserve: async () => ({ granted: true }) },
    progress: async (message) => void lines.push(message),
    act: async (action, run) => {
      if (mode === 'dry-run') {
        lines.push(`dry-run: would ${action.description}`);
        return undefined;
      }
      lines.push(action.description);
      return run();
    },
    escalate: async () => {
      throw new Error('no escalation in a master failover');
    },
    now: () => Date.now(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
  return { ctx, lines, planned };
}

const waits = (message: RegExp) => ({ name: 'WaitForOperator', kind: 'master_failover', message });
const ignores = (message: RegExp) => ({ name: 'Ignore', message });

t.test('the marker: a COMPUTE_HOST whose payload says pool_master', async (t) => {
  t.ok(isMasterLoss({ type: 'COMPUTE_HOST', payload: { xcp_failure: 'pool_master' } }));
  t.notOk(isMasterLoss({ type: 'COMPUTE_HOST', payload: {} }));
  t.notOk(isMasterLoss({ type: 'COMPUTE_INSTANCE', payload: { xcp_failure: 'pool_master' } }));
});

t.test('confirm_master_lost: the members name the silent master → confirmed', async (t) => {
  const { tasks } = world({ answers: { [A.address]: memberOf(M), [B.address]: memberOf(M) } });
  const { ctx, lines } = context();
  t.same(await tasks.confirm_master_lost.run(ctx), LOST);
  t.match(lines.slice(-2), [
    /^pool master xcp-m \(10\.0\.0\.1\) does not answer within 0\.05 s; 2 member\(s\) answer and name it as their master: xcp-a, xcp-b$/,
    /^the receiver has no read of xcp-m's host record from before the loss: what it ran is known only from the new master's database copy$/,
  ]);
});

t.test("confirm_master_lost: the receiver's last read of the master's resident VMs is kept with the loss, unless it is too old to act on", async (t) => {
  const answers = { [A.address]: memberOf(M), [B.address]: memberOf(M) };
  const recent = { readAt: Date.now() - 90_000, vms: ['OpaqueRef:dom0-m', 'OpaqueRef:v-1'] };
  const asked: string[] = [];
  const fresh = world({
    answers,
    lastResidents: (uuid) => {
      asked.push(uuid);
      return recent;
    },
  });
  const a = context();
  t.same(await fresh.tasks.confirm_master_lost.run(a.ctx), { ...LOST, lastResidents: recent });
  t.same(asked, [M.uuid], "the lost master's read, by its XAPI uuid");
  t.match(a.lines.at(-1), /^the receiver's last read of xcp-m's host record, 90 s ago, lists 2 VM\(s\) resident on it \(domain 0 included\)$/);

  const stale = { readAt: Date.now() - LAST_READ_MAX_AGE_MS - 1000, vms: ['OpaqueRef:v-1'] };
  const b = context();
  t.same(await world({ answers, lastResidents: () => stale }).tasks.confirm_master_lost.run(b.ctx), LOST, 'an old read is not kept');
  t.match(b.lines.at(-1), /^the receiver's last read of xcp-m's host record, 601 s ago, lists 1 VM\(s\) .*: older than 10 min, not acted on/);
});

t.test('confirm_master_lost: hosts that disagree about who is master → nothing fenced or promoted', async (t) => {
  const run = (answers: Record<string, ProbeResult>) => world({ answers }).tasks.confirm_master_lost.run(context().ctx);
  // A member already claims to be master while the other still names the old one: a failover someone left half-way
  // (or a partition). Promoting would risk a third master; the member left behind would be fenced by the new master.
  await t.rejects(
    run({ [A.address]: asMaster, [B.address]: memberOf(M) }),
    waits(
      /^the hosts of pool p disagree about who is master \(xcp-m: silent, xcp-a: master, xcp-b: member of 10\.0\.0\.1\): nothing fenced or promoted; a person decides/,
    ),
    'a member acts as master, the other names the old master',
  );
  await t.rejects(run({ [A.address]: asMaster, [B.address]: asMaster }), waits(/disagree about who is master/), 'two members act as master');
  await t.rejects(
    run({ [A.address]: { state: 'answers', code: 'SESSION_AUTHENTICATION_FAILED' }, [B.address]: memberOf(M) }),
    waits(/disagree about who is master \(.*xcp-a: SESSION_AUTHENTICATION_FAILED/),
    'a member refusing our password checks it: it acts as master',
  );
  await t.rejects(
    run({ [A.address]: memberOf(M), [B.address]: memberOf(A) }),
    waits(
      /^the members of pool p name different masters \(xcp-m: silent, xcp-a: member of 10\.0\.0\.1, xcp-b: member of 10\.0\.0\.2\): nothing fenced or promoted/,
    ),
    "one member's HOST_IS_SLAVE names another host",
  );
  // One master that every answering member follows: the pool has a master, this notification has nothing to do.
  await t.rejects(run({ [A.address]: asMaster, [B.address]: memberOf(A) }), ignores(/^xcp-a answers as pool master and every answering member follows it/));
});

t.test('confirm_master_lost: no proof of who the master is, or not the notification host → nothing done', async (t) => {
  const run = (o: Partial<WorldOptions> & Pick<WorldOptions, 'answers'>, n: Partial<Notification> = {}) =>
    world(o).tasks.confirm_master_lost.run(context({}, 'auto', n).ctx);
  await t.rejects(run({ answers: {}, access: false }), waits(/^the receiver cannot reach the hosts of pool p directly/));
  await t.rejects(run({ answers: {}, hosts: [] }), waits(/^no host address of pool p is known/));
  await t.rejects(
    run({ answers: { [A.address]: { state: 'answers', code: 'INTERNAL_ERROR' } } }),
    waits(/^no host of pool p answers as a member naming its master \(xcp-m: silent, xcp-a: INTERNAL_ERROR, xcp-b: silent\)/),
  );
  await t.rejects(
    run({ answers: { [A.address]: { state: 'member', master: '10.9.9.9' } } }),
    waits(/^the members name 10\.9\.9\.9 as their master, which is no host/),
  );
  await t.rejects(run({ answers: { [A.address]: memberOf(B) } }), ignores(/name xcp-b \(u-b\) as their master, not the notification's host xcp-m/));
  await t.rejects(
    run({ answers: { [A.address]: memberOf(M) } }, { hostName: 'other' }),
    ignores(/^host name "other" in the notification is not XAPI's name_label "xcp-m"/),
  );
  await t.rejects(run({ answers: { [M.address]: asMaster } }), ignores(/^xcp-m answers as pool master \(it accepted a login\): the master is not lost/));
  await t.rejects(
    run({ answers: { [M.address]: { state: 'answers', code: 'HOST_STILL_BOOTING' }, [A.address]: memberOf(M) } }),
    ignores(/^pool master xcp-m answers \(HOST_STILL_BOOTING\): not lost/),
  );
  await t.rejects(run({ answers: { [A.address]: memberOf(M) }, config: false }), waits(/master_failover is not configured/));
});

t.test('restart_master_toolstack: tried first when ssh is configured; any failure goes on to the fence', async (t) => {
  const results = { confirm_master_lost: LOST };
  const shell = (run: ToolstackRestart['shell']['run']): ToolstackRestart => ({ shell: { run }, command: 'xe-toolstack-restart', timeoutMs: 1000 });
  const none = context(results);
  t.equal(await world({ answers: {} }).tasks.restart_master_toolstack.run(none.ctx), null);
  t.match(none.lines, [/^no ssh configured for pool p/]);

  const exit1 = context(results);
  const failing = shell(async () => ({ code: 1, stdout: '', stderr: 'xapi: unit failed\n' }));
  t.equal(await world({ answers: {}, restart: failing }).tasks.restart_master_toolstack.run(exit1.ctx), null);
  t.match(exit1.lines.at(-1), /^xcp-m was not restarted over SSH \("xe-toolstack-restart" exited with 1: xapi: unit failed\): the failover goes on$/);

  const refused = context(results);
  const unreachable = shell(async () => {
    throw new Error('connect ECONNREFUSED 10.0.0.1:22');
  });
  await world({ answers: {}, restart: unreachable }).tasks.restart_master_toolstack.run(refused.ctx);
  t.match(refused.lines.at(-1), /not restarted over SSH \(connect ECONNREFUSED 10\.0\.0\.1:22\)/);

  const dry = context(results, 'dry-run');
  t.equal(await world({ answers: {}, restart: failing }).tasks.restart_master_toolstack.run(dry.ctx), null);
  t.match(dry.lines, [/^dry-run: would try "xe-toolstack-restart" on xcp-m over SSH first/]);

  const stillSilent = context(results);
  const ok = shell(async () => ({ code: 0, stdout: '', stderr: '' }));
  await world({ answers: {}, restart: ok }).tasks.restart_master_toolstack.run(stillSilent.ctx);
  t.match(stillSilent.lines.at(-1), /^xcp-m does not answer as master within 0\.15 s of its toolstack restart: the failover goes on$/);

  await t.rejects(world({ answers: { [M.address]: asMaster }, restart: ok }).tasks.restart_master_toolstack.run(context(results).ctx), {
    name: 'Finish',
    message: /^the toolstack of pool master xcp-m was restarted over SSH and it answers as master again/,
  });
});

t.test("fence_master: the host workflow's fence, the old master seen through the receiver's own probes", async (t) => {
  const results = { confirm_master_lost: LOST };
  const fencing = (answers: Record<string, ProbeResult>, after: 'off' | 'back'): PoolFencing => {
    let sent = false;
    return {
      fencer: {
        powerOff: async () => {
          sent = true;
          if (after === 'back') answers[M.address] = asMaster;
        },
        powerStatus: async () => (sent && after === 'off' ? 'off' : 'on'),
      },
      confirmTimeoutMs: 500,
      bmc: {},
      limits: { maxHostsFenced: 2, fenceWindowMs: 60_000, maxDownShare: 0.9 },
    };
  };
  const answers: Record<string, ProbeResult> = { [A.address]: memberOf(M), [B.address]: memberOf(M) };
  const off = context(results);
  t.same(await world({ answers, fencing: fencing(answers, 'off') }).tasks.fence_master.run(off.ctx), { fencedBy: 'bmc' });
  t.match(off.lines, [/^power off xcp-m through its BMC/, /^xcp-m fenced \(BMC power off\)$/]);

  const rebooted: Record<string, ProbeResult> = { [A.address]: memberOf(M), [B.address]: memberOf(M) };
  await t.rejects(
    world({ answers: rebooted, fencing: fencing(rebooted, 'back') }).tasks.fence_master.run(context(results).ctx),
    waits(/^pool master xcp-m answers again after our power-off \(it rebooted\): not powered off again: nothing promoted/),
  );
  const answering = { [M.address]: asMaster, [A.address]: memberOf(M) };
  await t.rejects(world({ answers: answering, fencing: fencing(answering, 'off') }).tasks.fence_master.run(context(results).ctx), {
    name: 'Finish',
    message: /^pool master xcp-m answers again before the fence: not powered off, nothing promoted$/,
  });
});

t.test('choose_member: only after the fence; an existing master is followed; hosts that moved stop it', async (t) => {
  const members = { [A.address]: memberOf(M), [B.address]: memberOf(M) };
  await t.rejects(
    world({ answers: members }).tasks.choose_member.run(context({ confirm_master_lost: LOST }).ctx),
    ignores(/is not proven fenced: nothing promoted/),
  );
  const results = { confirm_master_lost: LOST, ...FENCED };

  const chosen = context(results);
  t.same(await world({ answers: members }).tasks.choose_member.run(chosen.ctx), { host: A, promoted: true });
  t.match(chosen.lines.at(-1), /^xcp-a chosen to become pool master \(the answering member first by name\)$/);

  const preferred = context(results);
  const byCandidate = await world({ answers: members, config: { candidates: ['nobody', 'xcp-b'] } }).tasks.choose_member.run(preferred.ctx);
  t.same(byCandidate, { host: B, promoted: true });
  t.match(preferred.lines, [/"nobody" names no member/, /first answering member of master_failover\.candidates/]);

  const existing = context(results);
  t.same(await world({ answers: { [A.address]: memberOf(B), [B.address]: asMaster } }).tasks.choose_member.run(existing.ctx), { host: B, promoted: false });
  t.match(existing.lines, [/^xcp-b already answers as pool master .*: following it, nothing promoted$/]);

  await t.rejects(
    world({ answers: { [A.address]: memberOf(M), [B.address]: memberOf(A) } }).tasks.choose_member.run(context(results).ctx),
    waits(/^the hosts of pool p changed since xcp-m was found lost \(xcp-b: member of 10\.0\.0\.2\): nothing promoted; a person decides/),
  );
  await t.rejects(
    world({ answers: { [A.address]: asMaster, [B.address]: asMaster } }).tasks.choose_member.run(context(results).ctx),
    waits(/changed since xcp-m was found lost \(xcp-b: master\)/),
    'two masters appeared: neither is followed',
  );
  await t.rejects(
    world({ answers: {} }).tasks.choose_member.run(context(results).ctx),
    waits(/^no member of pool p answers \(xcp-a: silent, xcp-b: silent\): nothing promoted/),
  );
});

t.test('promote_member: local login, transition, then a normal login as master; the password never shows', async (t) => {
  const answers: Record<string, ProbeResult> = { [A.address]: memberOf(M), [B.address]: memberOf(M) };
  const seen: unknown[][] = [];
  const w = world({
    answers,
    callAt: (address, method, params) => {
      seen.push(params);
      if (method === 'pool.emergency_transition_to_master') answers[address] = asMaster;
      return method.startsWith('session.') ? 'OpaqueRef:local-session' : '';
    },
  });
  const { ctx, lines } = context({ confirm_master_lost: LOST, ...FENCED, choose_member: { host: A, promoted: true } });
  t.same(await w.tasks.promote_member.run(ctx), { host: A, promoted: true });
  t.same(w.calls, ['10.0.0.2 session.slave_local_login_with_password', '10.0.0.2 pool.emergency_transition_to_master']);
  t.same(seen, [['root', PASSWORD], ['OpaqueRef:local-session']], 'the password goes to the local login only');
  t.same(w.followed, [A.address], "the receiver's session follows the new master");
  t.same(lines, [
    'promote xcp-a to pool master (local login, pool.emergency_transition_to_master; its xapi restarts)',
    'xcp-a answers as pool master (a normal login is accepted)',
  ]);
  t.notMatch(lines.join('\n'), PASSWORD);
});

t.test('promote_member: a wrong local password is an operator wait naming the XAPI code, nothing promoted, no secret', async (t) => {
  const w = world({
    answers: { [A.address]: memberOf(M), [B.address]: memberOf(M) },
    callAt: (_address, method, params) => {
      if (method === 'session.slave_local_login_with_password' && params[1] !== 'right')
        throw new XapiError('SESSION_AUTHENTICATION_FAILED', [String(params[0]), 'Authentication failure'], method);
      return '';
    },
  });
  const { ctx, lines } = context({ confirm_master_lost: LOST, ...FENCED, choose_member: { host: A, promoted: true } });
  const err = await w.tasks.promote_member.run(ctx).catch((e: Error) => e);
  t.match(
    err,
    waits(
      /^xcp-a refuses the local login of root \(SESSION_AUTHENTICATION_FAILED\): nothing promoted; fix recovery_hook\.pools\.p\.master_failover's password/,
    ),
  );
  t.same(w.calls, ['10.0.0.2 session.slave_local_login_with_password'], 'no transition without a local session');
  t.notMatch(`${(err as Error).message}\n${lines.join('\n')}`, PASSWORD);
});

t.test('promote_member: refusals and errors of the transition', async (t) => {
  const results = { confirm_master_lost: LOST, ...FENCED, choose_member: { host: A, promoted: true } };
  const failing = (code: string, on: string) =>
    world({
      answers: { [A.address]: memberOf(M), [B.address]: memberOf(M) },
      callAt: (_address, method) => {
        if (method === on) throw new XapiError(code, [], method);
        return 'OpaqueRef:s';
      },
    });
  await t.rejects(
    failing('HA_IS_ENABLED', 'pool.emergency_transition_to_master').tasks.promote_member.run(context(results).ctx),
    waits(/^xcp-a refuses pool\.emergency_transition_to_master: HA_IS_ENABLED/),
  );
  await t.rejects(failing('INTERNAL_ERROR', 'pool.emergency_transition_to_master').tasks.promote_member.run(context(results).ctx), {
    name: 'XapiError',
    code: 'INTERNAL_ERROR',
  });
  await t.rejects(failing('HOST_STILL_BOOTING', 'session.slave_local_login_with_password').tasks.promote_member.run(context(results).ctx), {
    name: 'XapiError',
    code: 'HOST_STILL_BOOTING',
  });
});

t.test('promote_member: a promotion that never completes waits for a person; a retry never promotes another member', async (t) => {
  const answers: Record<string, ProbeResult> = { [A.address]: memberOf(M), [B.address]: memberOf(M) };
  const w = world({
    answers,
    callAt: (address, method) => {
      // Accepted, then its xapi never answers again (hung on the way back up).
      if (method === 'pool.emergency_transition_to_master') answers[address] = silent;
      return 'OpaqueRef:s';
    },
  });
  const results = { confirm_master_lost: LOST, ...FENCED, choose_member: { host: A, promoted: true } };
  await t.rejects(
    w.tasks.promote_member.run(context(results).ctx),
    waits(
      /^xcp-a does not answer as pool master within master_failover\.promote_timeout_seconds \(0\.15 s\) of its promotion: no other member is promoted; check xcp-a$/,
    ),
  );
  // The operator's confirmation resumes the task: the silent chosen member is only waited for, never replaced.
  await t.rejects(w.tasks.promote_member.run(context(results).ctx), waits(/does not answer as pool master within/));
  t.equal(w.calls.filter((c) => c.endsWith('emergency_transition_to_master')).length, 1, 'one transition in all');
  t.ok(
    w.calls.every((c) => c.startsWith(A.address)),
    'nothing asked of xcp-b',
  );
  answers[A.address] = asMaster;
  t.same(await w.tasks.promote_member.run(context(results).ctx), { host: A, promoted: true }, 'once it answers as master it is followed');
  t.equal(w.calls.filter((c) => c.endsWith('emergency_transition_to_master')).length, 1);
});

t.test('promote_member: a master that appeared meanwhile is followed; hosts that moved stop it; dry-run ends here', async (t) => {
  const results = { confirm_master_lost: LOST, ...FENCED, choose_member: { host: A, promoted: true } };
  const other = world({ answers: { [A.address]: memberOf(M), [B.address]: asMaster } });
  const o = context(results);
  t.same(await other.tasks.promote_member.run(o.ctx), { host: B, promoted: false });
  t.match(o.lines, [/^xcp-b already answers as pool master: following it, xcp-a not promoted$/]);
  t.same(other.calls, [], 'nothing promoted');

  const already = world({ answers: { [A.address]: asMaster, [B.address]: memberOf(A) } });
  t.same(await already.tasks.promote_member.run(context(results).ctx), { host: A, promoted: true }, 'an earlier run promoted the chosen one');
  t.same(already.followed, [A.address]);

  const moved = world({ answers: { [A.address]: memberOf(M), [B.address]: { state: 'member', master: '10.9.9.9' } } });
  await t.rejects(moved.tasks.promote_member.run(context(results).ctx), waits(/changed since xcp-m was found lost \(xcp-b: member of 10\.9\.9\.9\)/));
  t.same(moved.calls, []);

  const dry = world({ answers: { [A.address]: memberOf(M), [B.address]: memberOf(M) } });
  const d = context(results, 'dry-run');
  await t.rejects(dry.tasks.promote_member.run(d.ctx), {
    name: 'Finish',
    message: /^dry-run: xcp-a was not promoted; a promotion would be followed by pool\.recover_slaves/,
  });
  t.same(dry.calls, []);
  t.match(d.lines, [/^dry-run: would promote xcp-a/]);
});

t.test('recover_members: pool.recover_slaves, then each member it did not reset, until all follow the new master', async (t) => {
  const results = { confirm_master_lost: LOST, ...FENCED, promote_member: { host: A, promoted: true } };
  const follows = world({ answers: { [A.address]: asMaster, [B.address]: memberOf(A) } });
  const f = context(results);
  t.same(await follows.tasks.recover_members.run(f.ctx), { recovered: [] });
  t.same(follows.calls, [], 'nothing to recover');

  const answers: Record<string, ProbeResult> = { [A.address]: asMaster, [B.address]: memberOf(M) };
  const recovers = world({
    answers,
    xapi: (method, params) => {
      if (method === 'pool.recover_slaves') {
        answers[B.address] = memberOf(A);
        return ['OpaqueRef:b'];
      }
      if (method === 'host.get_uuid' && params[0] === 'OpaqueRef:b') return B.uuid;
      throw new Error(`unexpected ${method}`);
    },
  });
  const r = context(results);
  t.same(await recovers.tasks.recover_members.run(r.ctx), { recovered: [B.name] });
  t.same(recovers.calls, ['xapi pool.recover_slaves', 'xapi host.get_uuid']);
  t.match(r.lines, [/^point the members at the new master/, /^pool\.recover_slaves reset xcp-b$/, /^every answering member follows xcp-a$/]);
});

t.test('recover_members: recover_slaves failing → each member is pointed at the new master directly', async (t) => {
  const results = { confirm_master_lost: LOST, ...FENCED, promote_member: { host: A, promoted: true } };
  const answers: Record<string, ProbeResult> = { [A.address]: asMaster, [B.address]: memberOf(M) };
  const w = world({
    answers,
    xapi: () => {
      throw new XapiError('INTERNAL_ERROR', ['timeout'], 'pool.recover_slaves');
    },
    callAt: (address, method, params) => {
      if (method === 'pool.emergency_reset_master') answers[address] = { state: 'member', master: String(params[1]) };
      return 'OpaqueRef:s';
    },
  });
  const { ctx, lines } = context(results);
  t.same(await w.tasks.recover_members.run(ctx), { recovered: [] });
  t.same(w.calls, ['xapi pool.recover_slaves', '10.0.0.3 session.slave_local_login_with_password', '10.0.0.3 pool.emergency_reset_master']);
  t.match(lines, [
    /^point the members/,
    /^pool\.recover_slaves failed \(pool\.recover_slaves: INTERNAL_ERROR \["timeout"\]\): each member is pointed at xcp-a directly$/,
    /^pool\.recover_slaves reset no host$/,
    /^point xcp-b at the new master xcp-a \(local login, pool\.emergency_reset_master\)$/,
    /^every answering member follows xcp-a$/,
  ]);
});

t.test('recover_members: a member that never follows is an operator wait; dry-run acts on nothing', async (t) => {
  const results = { confirm_master_lost: LOST, ...FENCED, promote_member: { host: A, promoted: true } };
  const stuck = world({ answers: { [A.address]: asMaster, [B.address]: memberOf(M) }, xapi: () => [] });
  await t.rejects(
    stuck.tasks.recover_members.run(context(results).ctx),
    waits(/^xcp-b still do\(es\) not follow the new master xcp-a within master_failover\.members_timeout_seconds \(0\.15 s\)/),
  );
  const dry = world({ answers: { [A.address]: asMaster, [B.address]: memberOf(M) } });
  const d = context(results, 'dry-run');
  t.same(await dry.tasks.recover_members.run(d.ctx), { recovered: [] });
  t.same(dry.calls, []);
  t.match(d.lines, [/^dry-run: would point the members at the new master/, /^dry-run: would point xcp-b at the new master xcp-a/]);
});

// verify_vm_placement: the new master's database (here the pool session's records) against what each host's rrdd lists.
const HOST_RECORDS = Object.fromEntries(
  [M, A, B].map((h) => [`r-${h.uuid}`, { uuid: h.uuid, name_label: h.name, address: h.address, enabled: true, metrics: `m-${h.uuid}` }]),
);
const vmRecord = (uuid: string, power_state: string, on: PoolHost | null, extra: Record<string, unknown> = {}) => ({
  uuid,
  name_label: `vm-${uuid}`,
  power_state,
  resident_on: on ? `r-${on.uuid}` : 'OpaqueRef:NULL',
  is_control_domain: false,
  is_a_template: false,
  ...extra,
});
const records = (vms: ReturnType<typeof vmRecord>[]) => (method: string) =>
  method === 'host.get_all_records' ? HOST_RECORDS : Object.fromEntries(vms.map((vm) => [`v-${vm.uuid}`, vm]));
const ON_A = { ...FENCED, promote_member: { host: A, promoted: true } };
/** The pool session's records: `first` VMs at the first full read, `later` ones after it (the members' resyncs ran
 * meanwhile); `reads()` says how many full reads were made so far. */
function changingRecords(first: ReturnType<typeof vmRecord>[], later: ReturnType<typeof vmRecord>[]) {
  let reads = 0;
  return {
    xapi: (method: string) => records(method === 'VM.get_all_records' && reads++ > 0 ? later : first)(method),
    reads: () => reads,
  };
}

t.test(
  'verify_vm_placement: the database agrees with every answering host → goes on; a host silent since before the loss is named, not waited for',
  async (t) => {
    const w = world({
      answers: { [A.address]: asMaster },
      xapi: records([vmRecord('dom0-a', 'Running', A, { is_control_domain: true }), vmRecord('1', 'Running', A), vmRecord('2', 'Halted', null)]),
      rrd: (address) => (address === A.address ? ['dom0-a', '1'] : []),
    });
    const { ctx, lines } = context({ confirm_master_lost: { ...LOST, members: [A.name] }, ...ON_A });
    t.same(await w.tasks.verify_vm_placement.run(ctx), { shutDown: [], unaccounted: [], ranOnOldMaster: [] });
    t.same(w.followed, [A.address], 'the pool session follows the new master');
    t.match(lines, [/^xcp-b answer\(s\) nothing: what they run cannot be read/, /^the database of xcp-a agrees with what every answering host runs/]);
  },
);

t.test(
  'verify_vm_placement: a VM running on a member while the database places it on the old master, or a member silent now → an operator wait naming each',
  async (t) => {
    const w = world({
      answers: { [A.address]: asMaster },
      xapi: records([vmRecord('x', 'Running', M), vmRecord('y', 'Halted', null)]),
      rrd: () => ['x', 'y', 'unknown-1'],
    });
    await t.rejects(
      w.tasks.verify_vm_placement.run(context({ confirm_master_lost: LOST, ...ON_A }).ctx),
      waits(
        /^the database of the new master xcp-a still disagrees with what the hosts run after master_failover\.members_timeout_seconds \(0\.15 s\): VM vm-x runs on xcp-a but the database says Running on xcp-m; VM vm-y runs on xcp-a but the database says Halted on no host; VM unknown-1 runs on xcp-a but is unknown to the database; what xcp-b \(answers nothing now\) runs cannot be read\. Nothing is restarted while they disagree/,
      ),
    );
    const unreadable = world({
      answers: { [A.address]: asMaster, [B.address]: memberOf(A) },
      xapi: records([]),
      rrd: (address) => {
        if (address === B.address) throw new Error('HTTP 500');
        return [];
      },
    });
    await t.rejects(
      unreadable.tasks.verify_vm_placement.run(context({ confirm_master_lost: LOST, ...ON_A }).ctx),
      waits(/: what xcp-b \(HTTP 500\) runs cannot be read\./),
    );
    const blind = world({ answers: { [A.address]: asMaster }, xapi: records([]) });
    await t.rejects(
      blind.tasks.verify_vm_placement.run(context({ confirm_master_lost: LOST, ...ON_A }).ctx),
      waits(/^the receiver cannot read the hosts' RRDs of pool p/),
    );
  },
);

t.test(
  'verify_vm_placement: a VM the database had running on a member that did not run it, halted by its resync → named for a person, not restarted',
  async (t) => {
    // The first full read sees the old copy; B's resync has run by the second.
    const db = changingRecords([vmRecord('z', 'Running', B), vmRecord('w', 'Running', B)], [vmRecord('z', 'Halted', null), vmRecord('w', 'Running', B)]);
    const w = world({
      answers: { [A.address]: asMaster, [B.address]: memberOf(A) },
      xapi: db.xapi,
      rrd: (address) => (address === B.address ? ['w'] : []),
    });
    const { ctx, lines, planned } = context({ confirm_master_lost: LOST, ...ON_A });
    t.same(await w.tasks.verify_vm_placement.run(ctx), { shutDown: [], unaccounted: ['z'], ranOnOldMaster: [] });
    t.match(lines, [
      /^not restarted, unproven: VM vm-z: the database says Running on xcp-b, which does not run it; it ran on xcp-m, or was stopped or moved since the database copy — start it by hand if it should run$/,
      /^the database of xcp-a agrees/,
    ]);
    t.match(
      planned,
      [{ vmUuid: 'z', status: 'ignored', sourceHost: 'xcp-m', message: /^unproven: VM vm-z: the database says Running on xcp-b/ }],
      'and listed in the plan, left alone',
    );
  },
);

t.test('plan_vm_restarts on the new master: nothing to restart does not end the failover (the members must still follow)', async (t) => {
  const w = world({
    answers: { [A.address]: asMaster },
    xapi: (method) =>
      method === 'host.get_by_uuid'
        ? `r-${M.uuid}`
        : method === 'host.get_record'
          ? HOST_RECORDS[`r-${M.uuid}`]
          : method === 'VM.get_all_records'
            ? {}
            : undefined,
  });
  const { ctx, lines, planned } = context({ confirm_master_lost: LOST, ...ON_A });
  t.same(await w.tasks.plan_vm_restarts.run(ctx), { pending: 0, ignored: 0, succeeded: 0, failed: 0 });
  t.same(planned, [], 'an empty plan recorded');
  t.same(w.followed, [A.address]);
  t.match(lines.at(-1), /^no VM to restart from host xcp-m \(the old pool master, fenced\); the members are pointed at the new master all the same$/);
});

t.test(
  'verify_vm_placement: a VM seen running where the database placed it, then halted while the task waits → stopped by a person or its guest, not restarted',
  async (t) => {
    // Read 1: s runs on xcp-b as the database says, x runs on xcp-b while the database places it on xcp-a (the task
    // waits). Read 2: an operator has shut s down; x's disagreement is gone (xcp-b's resync claimed it).
    const vms = (later: boolean) => [
      vmRecord('s', later ? 'Halted' : 'Running', later ? null : B, { ha_restart_priority: 'restart', order: 0 }),
      vmRecord('x', 'Running', later ? B : A, { ha_restart_priority: 'restart', order: 0 }),
    ];
    const db = changingRecords(vms(false), vms(true));
    const w = world({
      answers: { [A.address]: asMaster, [B.address]: memberOf(A) },
      xapi: db.xapi,
      rrd: (address) => (address === B.address ? (db.reads() <= 1 ? ['s', 'x'] : ['x']) : []),
    });
    const { ctx, lines, planned } = context({ confirm_master_lost: LOST, ...ON_A });
    t.same(await w.tasks.verify_vm_placement.run(ctx), { shutDown: [], unaccounted: [], ranOnOldMaster: [] });
    t.same(planned, [], 'nothing added to the plan');
    t.match(lines, [
      /^VM vm-s ran on xcp-b, where the database placed it, and is halted now: stopped meanwhile by a person or its guest \(a resync stops only a VM placed elsewhere\) — not restarted$/,
      /^the database of xcp-a agrees/,
    ]);
  },
);

t.test(
  'verify_vm_placement: a VM seen running on a member, then shut down by a resync (the copy placed it on another member) → restarted with the plan',
  async (t) => {
    // Read 1: v and u run on xcp-b while the copy places them on xcp-a. Read 2: xcp-b's resync shut both down.
    const vms = (halted: boolean) => [
      vmRecord('v', halted ? 'Halted' : 'Running', halted ? null : A, { ha_restart_priority: 'restart', order: 0 }),
      vmRecord('u', halted ? 'Halted' : 'Running', halted ? null : A, { ha_restart_priority: '', order: 0 }),
    ];
    const db = changingRecords(vms(false), vms(true));
    const w = world({
      answers: { [A.address]: asMaster, [B.address]: memberOf(A) },
      xapi: db.xapi,
      rrd: (address) => (address === B.address && db.reads() <= 1 ? ['v', 'u', 'created-since'] : []),
    });
    const { ctx, lines, planned } = context({ confirm_master_lost: LOST, ...ON_A });
    t.same(await w.tasks.verify_vm_placement.run(ctx), { shutDown: ['v', 'u'], unaccounted: [], ranOnOldMaster: [] });
    t.match(planned, [
      { vmUuid: 'v', status: 'pending', sourceHost: 'xcp-b' },
      { vmUuid: 'u', status: 'ignored', message: /not protected and host_failure\.restart_unprotected is false$/ },
    ]);
    t.match(lines, [
      /^VM vm-v ran on xcp-b until xapi's resync there shut it down .*: restarted with the plan$/,
      /^VM vm-u ran on xcp-b until .*: not restarted \(not protected\)$/,
      /^VM created-since ran on xcp-b but is unknown to the database of xcp-a \(created since its copy\): xapi's resync there shut it down, and it cannot be restarted from this database — recover it by hand$/,
      /^the database of xcp-a agrees/,
    ]);
  },
);

t.test(
  "verify_vm_placement: VMs on the old master at the receiver's last read, halted in the copy and running nowhere → restarted with the plan",
  async (t) => {
    // The last read (from the old master's live database) listed on xcp-m: its domain 0; n, started there since the
    // copy (halted in it); o, moved there from xcp-b since the copy (the copy still has it on xcp-b until xcp-b's
    // resync halts it); p, the same as n but unprotected; q, moved off to xcp-b since the read (runs there); r, in the
    // plan already (the copy had it on xcp-m); and one created since the copy, unknown to it.
    const vms = (resynced: boolean) => [
      vmRecord('dom0-m', 'Running', M, { is_control_domain: true }),
      vmRecord('n', 'Halted', null, { ha_restart_priority: 'restart', order: 0 }),
      vmRecord('o', resynced ? 'Halted' : 'Running', resynced ? null : B, { ha_restart_priority: 'restart', order: 2 }),
      vmRecord('p', 'Halted', null, { ha_restart_priority: '', order: 0 }),
      vmRecord('q', 'Running', B, { ha_restart_priority: 'restart', order: 0 }),
      vmRecord('r', 'Halted', null, { ha_restart_priority: 'restart', order: 0 }),
    ];
    const db = changingRecords(vms(false), vms(true));
    const lastResidents = { readAt: Date.parse('2026-12-07T10:00:00Z'), vms: ['v-dom0-m', 'v-n', 'v-o', 'v-p', 'v-q', 'v-r', 'OpaqueRef:created-since'] };
    const w = world({ answers: { [A.address]: asMaster, [B.address]: memberOf(A) }, xapi: db.xapi, rrd: (address) => (address === B.address ? ['q'] : []) });
    const { ctx, lines, planned } = context({ confirm_master_lost: { ...LOST, lastResidents }, ...ON_A }, 'auto', {}, [{ vmUuid: 'r', status: 'pending' }]);
    t.same(await w.tasks.verify_vm_placement.run(ctx), { shutDown: [], unaccounted: [], ranOnOldMaster: ['n', 'o', 'p'] });
    t.match(planned, [
      { vmUuid: 'n', status: 'pending', sourceHost: 'xcp-m', rank: 0 },
      { vmUuid: 'o', status: 'pending', sourceHost: 'xcp-m', rank: 2 },
      { vmUuid: 'p', status: 'ignored', message: 'ran on xcp-m at 2026-12-07T10:00:00.000Z; not protected and host_failure.restart_unprotected is false' },
    ]);
    t.equal(planned.length, 3, 'nothing else planned: not domain 0, not q (runs on xcp-b), not r (planned already)');
    t.match(lines, [
      /^VM vm-n ran on xcp-m when the receiver last read its host record \(2026-12-07T10:00:00\.000Z\), and no answering host runs it now; the database copy has it Halted: restarted with the plan$/,
      /^VM vm-o ran on xcp-m .*: restarted with the plan$/,
      /^VM vm-p ran on xcp-m .*: not restarted \(not protected\)$/,
      /^1 VM\(s\) ran on xcp-m when the receiver last read its host record \(2026-12-07T10:00:00\.000Z\) but are unknown to the database of xcp-a \(created since its copy\): they cannot be restarted from this database — recover them by hand \(OpaqueRef:created-since\)$/,
      /^the database of xcp-a agrees/,
    ]);
    t.notOk(
      lines.some((l) => l.startsWith('not restarted, unproven: VM vm-o')),
      'o, which the copy had on xcp-b, is not called unproven: the read places it on the old master',
    );
  },
);

t.test(
  'verify_vm_placement: a VM on the old master at the last read, while a host of the pool answers nothing → not restarted (it could run there), named',
  async (t) => {
    const w = world({
      answers: { [A.address]: asMaster },
      xapi: records([vmRecord('n', 'Halted', null, { ha_restart_priority: 'restart', order: 0 })]),
      rrd: () => [],
    });
    const lastResidents = { readAt: Date.parse('2026-12-07T10:00:00Z'), vms: ['v-n'] };
    // xcp-b was silent already when the master was found lost: verify does not wait for it, and it could run n.
    const { ctx, lines, planned } = context({ confirm_master_lost: { ...LOST, members: [A.name], lastResidents }, ...ON_A });
    t.same(await w.tasks.verify_vm_placement.run(ctx), { shutDown: [], unaccounted: [], ranOnOldMaster: ['n'] });
    t.match(planned, [
      { vmUuid: 'n', status: 'ignored', message: 'unproven: ran on xcp-m at 2026-12-07T10:00:00.000Z; xcp-b answer(s) nothing and could run it now' },
    ]);
    t.match(lines, [
      /^xcp-b answer\(s\) nothing/,
      /^VM vm-n ran on xcp-m .*: not restarted, unproven: xcp-b answer\(s\) nothing and could run it now — start it by hand if it runs nowhere$/,
      /^the database of xcp-a agrees/,
    ]);
  },
);
