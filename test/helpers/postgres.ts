// The throwaway PostgreSQL cluster of the shared-store tests lives in bench/lib/postgres.ts (the intake benchmark
// starts one too, and bench/ never imports test/).
export { type PostgresOptions, type ShutdownMode, type TestPostgres, postgresSkip, startPostgres } from '../../bench/lib/postgres.js';
