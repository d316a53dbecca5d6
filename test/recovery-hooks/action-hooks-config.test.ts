// The `recovery_hook.action_hooks` list: defaults, secrets and TLS read at load time, problems that name their key.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { actionHooksSchema } from '../../recovery-hooks/action-hooks/config.js';
import { selfSignedCert } from '../helpers/tls.js';
import { mustParseHooks, parseHooks, tempDir } from './helpers/action-hooks.js';

const PRE = { url: 'https://hooks.example.org/xcp?site=lab', methods: ['vm.start'], type: 'pre' };

t.test('defaults: no hook at all, and a minimal hook', async (t) => {
  t.same(actionHooksSchema({ baseDir: '/', env: {} }).defaultValue!(), []);
  const [hook] = mustParseHooks([PRE]);
  t.same(hook, {
    url: 'https://hooks.example.org/xcp?site=lab',
    methods: ['vm.start'],
    type: 'pre',
    waitForResponse: false,
    timeoutMs: 10_000,
    retries: 0,
    retryDelayMs: 1000,
    token: undefined,
    tls: { insecure: false, fingerprint: undefined },
  });
});

t.test('a full hook: token from a file or the environment, CA file, timings', async (t) => {
  const dir = tempDir();
  const { certFile } = selfSignedCert('hooks.example.org');
  writeFileSync(join(dir, 'hook.token'), 'tok-from-file\n');
  const hooks = mustParseHooks(
    [
      {
        ...PRE,
        type: 'pre/post',
        methods: ['*', 'host.fence', 'host.fence'],
        wait_for_response: true,
        timeout_seconds: 2.5,
        retries: 3,
        retry_delay_seconds: 0.5,
        token_file: 'hook.token',
        tls: { ca_file: certFile },
      },
      { url: 'http://10.0.0.9:8080/post', methods: ['toolstack.restart'], type: 'post', token_env: 'HOOK_TOKEN' },
    ],
    { baseDir: dir, env: { HOOK_TOKEN: 'tok-from-env' } },
  );
  t.match(hooks[0], { methods: ['*', 'host.fence'], type: 'pre/post', waitForResponse: true, timeoutMs: 2500, retries: 3, retryDelayMs: 500 });
  t.match(hooks[0]!.tls.ca, /BEGIN CERTIFICATE/);
  t.equal(hooks[0]!.token!.reveal(), 'tok-from-file');
  t.equal(hooks[1]!.token!.reveal(), 'tok-from-env');
  t.notMatch(JSON.stringify(hooks), /tok-from/, 'a token never shows in a dump');
});

t.test('an unknown action is an error naming the key, with a did-you-mean for XO names and other spellings', async (t) => {
  const { hooks, problems } = parseHooks([{ ...PRE, methods: ['vm.start', 'vm.restart', 'VM.Hard-Reboot', 'host.restart_agent', 'vm.migrate', 7] }]);
  t.equal(hooks, undefined);
  t.match(problems, [
    /^recovery_hook\.action_hooks\[0\]\.methods\[1\]: unknown action "vm\.restart" \(did you mean "vm\.hard_reboot"\?\); known actions: host\.fence, .*toolstack\.restart, vm\.suspend, .*host\.enable, .*pool\.emergency_reset_master, \*$/,
    /^recovery_hook\.action_hooks\[0\]\.methods\[2\]: unknown action "VM\.Hard-Reboot" \(did you mean "vm\.hard_reboot"\?\)/,
    /^recovery_hook\.action_hooks\[0\]\.methods\[3\]: .*did you mean "toolstack\.restart"/,
    /^recovery_hook\.action_hooks\[0\]\.methods\[4\]: unknown action "vm\.migrate"; known actions/,
    /^recovery_hook\.action_hooks\[0\]\.methods\[5\]: expected an action name/,
  ]);
  t.equal(problems.length, 5);
});

t.test('wait_for_response on a post-only hook is refused, naming the key', async (t) => {
  const { hooks, problems } = parseHooks([PRE, { ...PRE, type: 'post', wait_for_response: true }]);
  t.equal(hooks, undefined);
  t.same(problems, [
    'recovery_hook.action_hooks[1].wait_for_response: applies to pre hooks only (type is post; use pre or pre/post): a post hook never blocks recovery',
  ]);
  t.same(parseHooks([{ ...PRE, type: 'pre/post', wait_for_response: true }]).problems, [], 'pre/post may wait (for its pre call)');
});

t.test('every other problem is reported at once with its key path, never a secret value', async (t) => {
  const { problems } = parseHooks(
    [
      { url: 'ftp://hooks.example.org/x', methods: [], type: 'before' },
      { url: 'https://user:pw@hooks.example.org/', methods: ['*'], type: 'pre', wait_for_respons: true, timeout_seconds: 0, retries: 1.5 },
      { ...PRE, token: 'inline-secret-value', token_env: 'ALSO' },
      { ...PRE, token_env: 'MISSING_TOKEN', tls: { ca_file: 'nowhere.pem', insecure: true } },
      { ...PRE, url: undefined, type: undefined },
    ],
    { baseDir: '/nonexistent' },
  );
  t.match(problems, [
    /^recovery_hook\.action_hooks\[0\]\.url: expected a URL \(http:\/\/ or https:\/\/…\)/,
    /^recovery_hook\.action_hooks\[0\]\.methods: needs at least 1 item/,
    /^recovery_hook\.action_hooks\[0\]\.type: expected one of pre, post, pre\/post, got "before"/,
    /^recovery_hook\.action_hooks\[1\]\.wait_for_respons: unknown key \(did you mean "wait_for_response"\?\)/,
    /^recovery_hook\.action_hooks\[1\]\.url: must not contain credentials/,
    /^recovery_hook\.action_hooks\[1\]\.timeout_seconds: expected a number >= 0\.01/,
    /^recovery_hook\.action_hooks\[1\]\.retries: expected an integer >= 0 <= 10/,
    /^recovery_hook\.action_hooks\[2\]: set only one of token, token_env/,
    /^recovery_hook\.action_hooks\[3\]\.token_env: environment variable MISSING_TOKEN is not set or empty/,
    /^recovery_hook\.action_hooks\[3\]\.tls\.ca_file: cannot read \/nonexistent\/nowhere\.pem: ENOENT/,
    /^recovery_hook\.action_hooks\[3\]\.tls\.insecure: insecure: true cannot be combined/,
    /^recovery_hook\.action_hooks\[4\]\.url: is required/,
    /^recovery_hook\.action_hooks\[4\]\.type: is required/,
  ]);
  t.equal(problems.length, 13);
  t.notMatch(problems.join('\n'), /inline-secret-value/);
  t.match(parseHooks({ url: 'x' }).problems, [/^recovery_hook\.action_hooks: expected a list of an action hook/]);
});
