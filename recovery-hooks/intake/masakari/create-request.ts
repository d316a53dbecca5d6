// Validation of POST /v1/notifications, as Masakari's JSON schemas (additionalProperties false at every level, a
// payload schema per type). Messages follow Masakari's "Invalid input for field/attribute …" wording.
import { type NotificationType, canonicalType } from '../../store/types.js';
import { ApiError } from '../errors.js';
import { HOSTNAME, describe, textProblem } from '../validate.js';
import { parseMasakariTime } from './time.js';
import { isObject } from '../../../core/guards.js';

export interface CreateRequest {
  type: NotificationType;
  hostname: string;
  generatedAt: number;
  payload: Record<string, unknown>;
}

const ACCEPTED_TYPES = ['COMPUTE_HOST', 'VM', 'PROCESS', 'COMPUTE_INSTANCE', 'COMPUTE_PROCESS', 'XCP_EMERGENCY_SHUTDOWN'];
/** Masakari's 'uuid' format: dashes optional. */
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

type Field = { required: boolean; check: (v: unknown) => string | undefined };

const enumOf = (values: string[]) => (v: unknown) => (typeof v === 'string' && values.includes(v) ? undefined : `${show(v)} is not one of ${pyList(values)}`);
const text = (min: number, max: number) => (v: unknown) => {
  const problem = textProblem(v, max, { min });
  return problem === undefined || typeof v !== 'string' ? problem : `${show(v)} ${problem}`;
};

/** Payload schemas per type (Masakari's schemas/payload.py). The event enums are compared upper-cased, like its engine. */
const PAYLOADS: Record<NotificationType, Record<string, Field>> = {
  COMPUTE_HOST: {
    event: { required: true, check: upperEnum(['STARTED', 'STOPPED']) },
    host_status: { required: false, check: upperEnum(['NORMAL', 'UNKNOWN']) },
    cluster_status: { required: false, check: upperEnum(['ONLINE', 'OFFLINE']) },
    // Ours, not Masakari's: the host is the lost pool master (workflows/master.ts).
    xcp_failure: { required: false, check: enumOf(['pool_master']) },
  },
  COMPUTE_PROCESS: {
    process_name: { required: true, check: text(1, 4096) },
    event: { required: true, check: upperEnum(['STARTED', 'STOPPED']) },
  },
  COMPUTE_INSTANCE: {
    instance_uuid: { required: true, check: (v) => (typeof v === 'string' && UUID.test(v) ? undefined : `${show(v)} is not a 'uuid'`) },
    vir_domain_event: { required: true, check: text(1, 255) },
    event: { required: true, check: text(1, 255) },
  },
  // Ours (workflows/emergency.ts): the power of a pool (scope pool) or of one host (scope host, the notification's
  // hostname) is lost or back; runtime_seconds is the UPS's remaining runtime when the sender knows it.
  XCP_EMERGENCY_SHUTDOWN: {
    event: { required: true, check: enumOf(['POWER_LOST', 'POWER_RESTORED']) },
    scope: { required: false, check: enumOf(['pool', 'host']) },
    runtime_seconds: {
      required: false,
      check: (v) =>
        typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= 7 * 86400 ? undefined : `${show(v)} is not a number of seconds in (0, 604800]`,
    },
    source: { required: false, check: text(1, 255) },
  },
};

function upperEnum(values: string[]) {
  return (v: unknown) => (typeof v === 'string' && values.includes(v.toUpperCase()) ? undefined : `${show(v)} is not one of ${pyList(values)}`);
}

/** A value in a message: bounded, whatever its size (a huge or deeply nested value never makes a huge message). */
const show = (v: unknown) => describe(v);

function pyList(values: string[]): string {
  return `[${values.map((v) => `'${v}'`).join(', ')}]`;
}

function invalid(path: string, value: unknown, message: string): ApiError {
  return new ApiError(400, `Invalid input for field/attribute ${path}. Value: ${describe(value, 200)}. ${message}`);
}

function checkObject(value: unknown, path: string, fields: Record<string, Field>): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(path, value, `${show(value)} is not of type 'object'`);
  const obj = value as Record<string, unknown>;
  const extra = Object.keys(obj).filter((k) => !(k in fields));
  if (extra.length)
    throw invalid(
      path,
      value,
      `Additional properties are not allowed (${extra
        .slice(0, 5)
        .map((k) => describe(k))
        .join(', ')} ${extra.length > 1 ? 'were' : 'was'} unexpected)`,
    );
  for (const [key, field] of Object.entries(fields)) {
    if (!(key in obj)) {
      if (field.required) throw invalid(path, value, `'${key}' is a required property`);
      continue;
    }
    const problem = field.check(obj[key]);
    if (problem) throw invalid(`${path}/${key}`, obj[key], problem);
  }
  return obj;
}

export function parseCreateRequest(body: unknown): CreateRequest {
  const top = checkObject(body, 'notification', {
    notification: { required: true, check: (v) => (isObject(v) ? undefined : `${show(v)} is not of type 'object'`) },
  });
  const n = checkObject(top.notification, 'notification', {
    type: { required: true, check: enumOf(ACCEPTED_TYPES) },
    hostname: { required: true, check: (v) => (typeof v === 'string' && HOSTNAME.test(v) ? undefined : `${show(v)} is not a valid hostname`) },
    generated_time: {
      required: true,
      check: (v) => (typeof v === 'string' && parseMasakariTime(v) !== undefined ? undefined : `${show(v)} is not a 'date-time'`),
    },
    payload: { required: true, check: (v) => (isObject(v) ? undefined : `${show(v)} is not of type 'object'`) },
  });
  const type = canonicalType(n.type as string)!;
  const payload = checkObject(n.payload, 'payload', PAYLOADS[type]);
  return { type, hostname: n.hostname as string, generatedAt: parseMasakariTime(n.generated_time as string)!, payload };
}
