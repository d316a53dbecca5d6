// The lease keeper on its own: a store that cannot be reached is retried while the lease surely holds, then the lease
// is lost on time; a renewal whose failure cannot even be logged never becomes an unhandled rejection (which would end
// the receiver in the middle of a workflow).
import t from 'tap';
import { waitFor } from '../../core/concurrency.js';
import { createLogger } from '../../core/log.js';
import { LeaseKeeper, LeaseLostError } from '../../recovery-hooks/engine/lease.js';

t.test('renewals fail and the failure cannot be logged: no unhandled rejection, the lease is lost after 2/3 of it', async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => process.off('unhandledRejection', onUnhandled));
  let attempts = 0;
  const store = {
    acquireLease: async () => {
      attempts++;
      throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    },
    releaseLease: async () => undefined,
  };
  // The log sink fails (a closed stdout): every log call throws.
  const logger = createLogger({
    level: 'debug',
    json: true,
    sink: {
      write: () => {
        throw new Error('EPIPE: broken pipe, write');
      },
    },
  });
  const started = Date.now();
  const keeper = new LeaseKeeper(store, 'host:uuid-1', { owner: 'receiver-a', leaseMs: 600 }, Date.now, logger);
  t.teardown(() => keeper.release());
  await waitFor('the lease lost', () => keeper.lost.aborted, { timeoutMs: 10_000, everyMs: 20 });
  t.ok(Date.now() - started >= 400, 'not before 2/3 of the lease');
  t.ok(attempts >= 2, `renewal tried ${attempts} times`);
  t.type(keeper.lost.reason, LeaseLostError);
  t.match(keeper.lost.reason.message, /lease host:uuid-1 lost: the store was unreachable for/);
  await new Promise((r) => setImmediate(r));
  t.same(unhandled, [], 'no unhandled rejection');
});
