// The whole bundle's configuration: pools (shared), then one section per part.
import { type ExporterConfig, exporterSchema } from '../../exporter/config.js';
import { type RecoveryHookConfig, recoveryHookSchema } from '../../recovery-hooks/config.js';
import { type PoolConfig, poolSchema } from './pool.js';
import { type Schema, list, obj, oneOf, report, withDefault } from './schema.js';

export interface BundleConfig {
  log: { level: 'debug' | 'info' | 'warn' | 'error' };
  pools: PoolConfig[];
  exporter: ExporterConfig;
  recovery_hook: RecoveryHookConfig;
}

export interface SchemaContext {
  /** Folder of the config file: relative `*_file` paths are resolved against it. */
  baseDir: string;
  env: NodeJS.ProcessEnv;
}

export function bundleSchema(sc: SchemaContext): Schema<BundleConfig> {
  const exporter = exporterSchema(sc);
  const recovery = recoveryHookSchema(sc);
  return obj(
    {
      log: withDefault(obj({ level: withDefault(oneOf(['debug', 'info', 'warn', 'error'] as const), 'info') }), { level: 'info' as const }),
      pools: list(poolSchema(sc), { minItems: 1 }),
      exporter: { ...exporter, defaultValue: exporter.defaultValue },
      recovery_hook: { ...recovery, defaultValue: recovery.defaultValue },
    },
    (value, path, ctx) => {
      const seen = new Set<string>();
      value.pools.forEach((p, i) => {
        if (seen.has(p.name)) report(ctx, [...path, 'pools', i, 'name'], `duplicate pool name "${p.name}"`);
        seen.add(p.name);
      });
    },
  ) as Schema<BundleConfig>;
}
