// The whole bundle's configuration: pools (shared), then one section per part. This is the composition root's job
// (cli/): core/ knows no part, each part knows only its own section (ExporterBundleConfig, RecoveryHookBundleConfig).
import { loadYamlConfig, parseYamlConfig } from '../../core/config/load.js';
import { type PoolConfig, poolSchema } from '../../core/config/pool.js';
import { type Schema, type SchemaContext, list, obj, oneOf, report, withDefault } from '../../core/config/schema.js';
import { type ExporterConfig, exporterSchema } from '../../exporter/config.js';
import { type HardwareConfig, hardwareSchema } from '../../exporter/hardware/config.js';
import { type RecoveryHookConfig, recoveryHookSchema } from '../../recovery-hooks/config.js';

/** Each part takes the sections it reads (ExporterBundleConfig, RecoveryHookBundleConfig); this is all of them. */
export interface BundleConfig {
  log: { level: 'debug' | 'info' | 'warn' | 'error' };
  pools: PoolConfig<HardwareConfig>[];
  exporter: ExporterConfig;
  recovery_hook: RecoveryHookConfig;
}

export function bundleSchema(sc: SchemaContext): Schema<BundleConfig> {
  const exporter = exporterSchema(sc);
  const recovery = recoveryHookSchema(sc);
  return obj(
    {
      log: withDefault(obj({ level: withDefault(oneOf(['debug', 'info', 'warn', 'error'] as const), 'info') }), { level: 'info' as const }),
      pools: list(poolSchema(sc, hardwareSchema), { minItems: 1 }),
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

/** Parse the bundle's YAML config; throws a ConfigError naming every problem. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): BundleConfig {
  return parseYamlConfig(text, file, bundleSchema, env);
}

/** Read and parse the bundle's config file; throws a ConfigError naming every problem. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): BundleConfig {
  return loadYamlConfig(file, bundleSchema, env);
}
