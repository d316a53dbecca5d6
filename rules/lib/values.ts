// The values the rules are generated from: rules/values.yml (the bundled defaults) with an optional user file
// merged over it. The user file only needs the keys it changes; unknown keys and wrong types are reported with
// their key path, all at once (core/config/schema.ts, shared with the bundle's config).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { type Ctx, type Schema, bool, num, obj, oneOf, report, str, url } from '../../core/config/schema.js';

export const DEFAULT_VALUES_FILE = fileURLToPath(new URL('../values.yml', import.meta.url));

export const SEVERITIES = ['critical', 'warning', 'info'] as const;

const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/;
const duration = () => str({ pattern: DURATION, patternHint: 'a Prometheus duration (30s, 5m, 1h, 1d)' });
/** A regular expression that goes into a PromQL matcher: must compile (RE2 mostly agrees with JS here). */
function regex(): Schema<string> {
  const inner = str({ minLength: 1 });
  return {
    describe: 'a regular expression',
    parse(v, path, ctx) {
      const s = inner.parse(v, path, ctx);
      if (s === undefined) return undefined;
      if (s.includes('"')) return report(ctx, path, 'must not contain a double quote');
      try {
        new RegExp(s.replace(/^\(\?i\)/, ''));
        return s;
      } catch (err) {
        return report(ctx, path, `is not a valid regular expression: ${(err as Error).message}`);
      }
    },
  };
}

type Shape = Record<string, Schema<unknown>>;
const common = () => ({ enabled: bool(), severity: oneOf(SEVERITIES), for: duration() });
const alert = <S extends Shape>(extra: S) => obj({ ...common(), ...extra });
const recoveryAlert = <S extends Shape>(extra: S) => alert({ recovery: bool(), ...extra });
const ratio = () => num({ min: 0 });

export const valuesSchema = obj({
  runbook_base_url: url(),
  selector: str(),
  exporter_job_selector: str({ minLength: 1 }),
  protected_vm_selector: str({ minLength: 1 }),
  sr_selector: str(),
  ipmi_selector: str(),
  disk_selector: str(),
  ups_selector: str(),
  alerts: obj({
    PoolDisconnected: alert({}),
    XcpExporterDown: alert({}),
    XcpExporterNotScraped: alert({}),
    XcpExporterCollectorFailing: alert({}),
    XcpRrdDataStale: alert({ max_age_seconds: num({ min: 1 }) }),
    XcpHostDown: recoveryAlert({}),
    XcpHostDisabled: alert({}),
    HighHostCPU: alert({ threshold: ratio(), smoothing: duration() }),
    HighHostMemory: alert({ threshold: ratio() }),
    XcpHostHighLoad: alert({ threshold: num({ min: 0 }), smoothing: duration() }),
    XcpVmHaltedUnexpectedly: recoveryAlert({ lookback: duration() }),
    XcpVmGuestHeartbeatLost: recoveryAlert({ max_age_seconds: num({ min: 1 }) }),
    VMHighCPU: alert({ threshold: ratio(), smoothing: duration() }),
    XcpVmOnDeadHost: alert({}),
    XcpToolstackDown: recoveryAlert({}),
    XcpPoolMasterLost: recoveryAlert({}),
    XcpPoolMasterNotRecovered: alert({}),
    XcpPoolMasterConflict: alert({}),
    HighDiskLatency: alert({ threshold_seconds: num({ min: 0 }), min_iops: num({ min: 0 }), smoothing: duration() }),
    XcpSrFillingUp: alert({ min_ratio: ratio(), lookback: duration(), horizon: duration() }),
    XcpSrAlmostFull: alert({ threshold: ratio() }),
    XcpPbdUnplugged: alert({}),
    XcpVmHighMemory: alert({ threshold: ratio(), smoothing: duration() }),
    XcpHostHighNetwork: alert({ threshold_bytes_per_second: num({ min: 0 }), smoothing: duration() }),
    XcpVmHighNetwork: alert({ threshold_bytes_per_second: num({ min: 0 }), smoothing: duration() }),
    XcpVmHighDiskIo: alert({ threshold_bytes_per_second: num({ min: 0 }), smoothing: duration() }),
    XcpSrHighIo: alert({ threshold_bytes_per_second: num({ min: 0 }), smoothing: duration() }),
    XcpDiskSmartUnhealthy: alert({}),
    XcpDiskSectorsGrowing: alert({ window: duration() }),
    XcpNvmeWearHigh: alert({ threshold: ratio() }),
    XcpDiskTemperatureHigh: alert({ threshold_celsius: num(), smoothing: duration() }),
    XcpIpmiSensorCritical: alert({}),
    XcpFanFailed: alert({ min_rpm: num({ min: 0 }), type_regex: regex() }),
    XcpPsuFailed: alert({ sensor_regex: regex(), type_regex: regex() }),
    XcpInletTemperatureHigh: alert({ threshold_celsius: num(), sensor_regex: regex() }),
    XcpUpsOnBattery: alert({}),
    XcpUpsRuntimeLow: recoveryAlert({ threshold_seconds: num({ min: 1 }) }),
    XcpPoolPowerInputLost: recoveryAlert({ min_hosts: num({ min: 2, integer: true }) }),
  }),
});

export type Values = NonNullable<ReturnType<typeof valuesSchema.parse>>;
export type AlertName = keyof Values['alerts'];

export class ValuesError extends Error {
  override name = 'ValuesError';
}

/** Plain mappings merge key by key; anything else (scalars, lists) replaces. */
export function mergeValues(base: unknown, over: unknown): unknown {
  if (!isMapping(base) || !isMapping(over)) return over === undefined || over === null ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = mergeValues(base[k], v);
  return out;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ValuesError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return parse(text, { uniqueKeys: true }) ?? {};
  } catch (err) {
    throw new ValuesError(`${file}: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** Validate merged values; `file` names the user's file (or the defaults) in every message. */
export function parseValues(raw: unknown, file: string): Values {
  const ctx: Ctx = { problems: [] };
  const values = valuesSchema.parse(raw, [], ctx);
  if (ctx.problems.length || !values)
    throw new ValuesError(`${file}: ${ctx.problems.length} problem(s):\n` + ctx.problems.map((p) => `  ${file}: ${p.path}: ${p.message}`).join('\n'));
  return values;
}

/** The bundled defaults, with `userFile` (if any) merged over them. */
export function loadValues(userFile?: string, defaultsFile = DEFAULT_VALUES_FILE): Values {
  const defaults = readYaml(defaultsFile);
  if (!userFile) return parseValues(defaults, defaultsFile);
  return parseValues(mergeValues(defaults, readYaml(userFile)), userFile);
}

/** Seconds in a Prometheus duration ("1h30m" → 5400). */
export function durationSeconds(d: string): number {
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  let total = 0;
  for (const m of d.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) total += Number(m[1]) * unit[m[2]!]!;
  return total;
}
