// The Masakari actions check their caller's scope themselves, not only through the path-based check in front of the
// routes (intake/scopes.ts): a path spelling that check does not know (session 7 found POST /V1/Notifications and
// /v1/notifications/x/CONFIRM-FENCED needing no scope) must still not create a notification or confirm a fence.
import t from 'tap';
import type { Caller } from '../../recovery-hooks/intake/auth.js';
import { ApiError } from '../../recovery-hooks/intake/errors.js';
import { type ActionDeps, confirmFenced, createNotification } from '../../recovery-hooks/intake/masakari/actions.js';

/** Deps whose every use is recorded and refused: an action refused for its scope touches none of them. */
function watchedDeps(touched: string[]): ActionDeps {
  const refuse = (name: string) =>
    new Proxy(
      {},
      {
        get(_, key) {
          touched.push(`${name}.${String(key)}`);
          throw new Error(`${name}.${String(key)} used`);
        },
      },
    );
  return { store: refuse('store'), recorder: refuse('recorder'), hosts: refuse('hosts'), now: () => 0 } as unknown as ActionDeps;
}

const reader: Caller = { name: 'dashboard', scopes: ['notifications:read'] };
const writer: Caller = { name: 'pacemaker', scopes: ['notifications:read', 'notifications:write'] };
const body = { notification: { type: 'COMPUTE_HOST', hostname: 'h1', generated_time: '2026-01-01T00:00:00Z', payload: {} } };

t.test('creating a notification needs notifications:write, before anything is read or stored', async (t) => {
  const touched: string[] = [];
  const err = await createNotification(watchedDeps(touched), reader, body).catch((e: unknown) => e);
  t.ok(err instanceof ApiError, 'an API error');
  t.equal((err as ApiError).status, 403);
  t.match((err as ApiError).message, /needs scope notifications:write; token "dashboard"/);
  t.same(touched, [], 'nothing touched');
});

t.test('confirming a fence needs fence:confirm, even with notifications:write', async (t) => {
  const touched: string[] = [];
  const err = await confirmFenced(watchedDeps(touched), writer, '00000000-0000-4000-8000-000000000000', { host_uuid: 'x' }).catch((e: unknown) => e);
  t.ok(err instanceof ApiError, 'an API error');
  t.equal((err as ApiError).status, 403);
  t.match((err as ApiError).message, /confirming a host is fenced needs scope fence:confirm/);
  t.same(touched, [], 'nothing touched');
});

t.test('with the scope, the action goes on to its deps', async (t) => {
  const touched: string[] = [];
  const fencer: Caller = { name: 'operator', scopes: ['fence:confirm'] };
  await confirmFenced(watchedDeps(touched), fencer, '00000000-0000-4000-8000-000000000000', { host_uuid: 'x' }).catch(() => {});
  t.ok(touched.length > 0, `the store was asked (${touched[0]})`);
});
