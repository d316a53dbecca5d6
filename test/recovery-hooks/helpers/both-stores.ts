// One receiver per store, SQLite and PostgreSQL (a throwaway cluster), with the same configuration and the same fake
// pool behind each, for tests that require the same answer from both. Without a PostgreSQL server the suite runs on
// SQLite alone and says so.
import type { Test } from 'tap';
import { type TestPostgres, postgresSkip, startPostgres } from '../../helpers/postgres.js';
import { FakePool } from './fake-xapi.js';
import { type Hook, startHook, tempDir, testConfig } from './harness.js';

export interface StoreHooks {
  hooks: { store: 'sqlite' | 'postgres'; hook: Hook; pool: FakePool }[];
}

/** dry-run receivers whose workflows end quickly: the fake pool has host-1..3, each alive, with one VM. */
export async function startBothStores(t: Test, extra = ''): Promise<StoreHooks> {
  let server: TestPostgres | undefined;
  if (!postgresSkip) {
    server = await startPostgres();
    t.teardown(() => server!.stop());
  } else t.comment(`PostgreSQL not available (${postgresSkip}): SQLite only`);
  const hooks: StoreHooks['hooks'] = [];
  for (const store of ['sqlite', 'postgres'] as const) {
    if (store === 'postgres' && !server) continue;
    const pool = new FakePool();
    for (const name of ['host-1', 'host-2', 'host-3']) pool.addVm(`vm-${name}`, pool.addHost(name));
    const storeYaml = store === 'postgres' ? `  store: { postgres: { url: "${await server!.createDatabase()}" } }\n` : '';
    const hook = await startHook(testConfig(tempDir(), `      mode: dry-run\n${storeYaml}  max_body_bytes: 1048576\n${extra}`), { xapiFor: () => pool });
    t.teardown(() => hook.stop());
    hooks.push({ store, hook, pool });
  }
  return { hooks };
}
