// Both migrations build the same schema: every table, every column, with the same type (by the mapping below) and
// nullability. SQLite's `pragma table_info` against PostgreSQL's information_schema, after every migration has run
// (a throwaway PostgreSQL cluster; without one the test says so and checks SQLite's side alone).
import Database from 'better-sqlite3';
import t from 'tap';
import { memoryLogger } from '../../core/log.js';
import { Secret } from '../../core/config/secret.js';
import { MIGRATIONS } from '../../recovery-hooks/store/migrations.js';
import { PostgresNotificationStore } from '../../recovery-hooks/store/postgres.js';
import { POSTGRES_MIGRATIONS } from '../../recovery-hooks/store/postgres-migrations.js';
import { SqliteNotificationStore } from '../../recovery-hooks/store/sqlite.js';
import { postgresSkip, startPostgres } from '../helpers/postgres.js';
import { tempDir } from './helpers/harness.js';

/** A column as both sides describe it: its portable type and whether it may be NULL. */
type Columns = Record<string, Record<string, string>>;

/**
 * The written mapping of types: SQLite's declared type → the PostgreSQL types that store the same values.
 * INTEGER holds ids and epoch milliseconds (PostgreSQL BIGINT, BIGSERIAL ids), counts and ranks (INTEGER), and the
 * maintenance flag (SQLite has no boolean: 0/1; PostgreSQL BOOLEAN). REAL is a double in both.
 */
const TYPE_MAP: Record<string, readonly string[]> = {
  INTEGER: ['bigint', 'integer', 'boolean'],
  TEXT: ['text'],
  REAL: ['double precision'],
};

/** Columns whose PostgreSQL type is BOOLEAN where SQLite keeps 0/1 (the only place INTEGER maps to boolean). */
const BOOLEAN_COLUMNS = new Set(['hosts.on_maintenance']);

function portable(table: string, column: string, sqliteType: string): string {
  if (BOOLEAN_COLUMNS.has(`${table}.${column}`)) return 'boolean';
  if (!(sqliteType in TYPE_MAP)) throw new Error(`${table}.${column}: SQLite type ${sqliteType} has no mapping`);
  return sqliteType === 'INTEGER' ? 'integer' : TYPE_MAP[sqliteType]![0]!;
}

function fromPostgresType(table: string, column: string, pgType: string): string {
  if (BOOLEAN_COLUMNS.has(`${table}.${column}`)) return pgType;
  return pgType === 'bigint' || pgType === 'integer' ? 'integer' : pgType;
}

function sqliteColumns(path: string): Columns {
  const db = new Database(path, { readonly: true });
  const out: Columns = {};
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[];
  for (const { name } of tables) {
    out[name] = {};
    for (const c of db.pragma(`table_info(${name})`) as { name: string; type: string; notnull: number; pk: number }[])
      out[name][c.name] = `${portable(name, c.name, c.type)} ${c.notnull || c.pk ? 'NOT NULL' : 'NULL'}`;
  }
  db.close();
  return out;
}

t.test('the type mapping covers every SQLite column type and nothing maps to two portable types', async (t) => {
  for (const m of MIGRATIONS) for (const type of m.sql.match(/\b(INTEGER|TEXT|REAL|BLOB|NUMERIC)\b/g) ?? []) t.ok(type in TYPE_MAP, `${type} is mapped`);
  t.same(
    POSTGRES_MIGRATIONS.map((m) => m.version),
    MIGRATIONS.map((m) => m.version),
    'the same migration versions',
  );
});

t.test('SQLite and PostgreSQL migrations produce the same tables and columns', async (t) => {
  const file = `${tempDir()}/schema.sqlite`;
  await new SqliteNotificationStore(file).close();
  const sqlite = sqliteColumns(file);
  t.ok(Object.keys(sqlite).length >= 10, `SQLite has ${Object.keys(sqlite).length} tables`);
  if (postgresSkip) {
    t.comment(`PostgreSQL not available (${postgresSkip}): SQLite side only`);
    return;
  }
  const server = await startPostgres();
  t.teardown(() => server.stop());
  const url = await server.createDatabase();
  const store = await PostgresNotificationStore.open({ url: new Secret(url), poolSize: 1, connectTimeoutMs: 3000, statementTimeoutMs: 5000 }, memoryLogger());
  await store.close();
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  t.teardown(() => client.end());
  const { rows } = await client.query<{ table_name: string; column_name: string; data_type: string; is_nullable: string }>(
    "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
  );
  const postgres: Columns = {};
  for (const r of rows)
    (postgres[r.table_name] ??= {})[r.column_name] =
      `${fromPostgresType(r.table_name, r.column_name, r.data_type)} ${r.is_nullable === 'NO' ? 'NOT NULL' : 'NULL'}`;
  t.same(Object.keys(postgres).sort(), Object.keys(sqlite).sort(), 'the same tables');
  for (const table of Object.keys(sqlite)) t.same(postgres[table], sqlite[table], `${table}: the same columns, types and nullability`);
});
