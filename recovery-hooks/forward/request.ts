// Our notification → the body of Masakari's POST /v1/notifications. Masakari's schemas refuse unknown keys at every
// level (masakari/api/openstack/ha/schemas/payload.py), so each payload carries exactly the fields its type defines,
// with the event enums upper-cased as its schema spells them.
import type { MasakariNotificationType, Notification } from '../store/types.js';

export type MasakariType = 'COMPUTE_HOST' | 'VM' | 'PROCESS';

export interface MasakariCreateRequest {
  notification: { type: MasakariType; hostname: string; generated_time: string; payload: Record<string, string> };
}

/** Our notification cannot be expressed as a Masakari request: it is never sent. */
export class UnforwardableError extends Error {
  override name = 'UnforwardableError';
}

const MASAKARI_TYPES: Record<MasakariNotificationType, MasakariType> = { COMPUTE_HOST: 'COMPUTE_HOST', COMPUTE_INSTANCE: 'VM', COMPUTE_PROCESS: 'PROCESS' };

type FieldKind = 'enum' | 'text';
/** Per type, the payload fields Masakari validates, in its schema's order; `required` ones must be present. */
const PAYLOAD_FIELDS: Record<MasakariNotificationType, { name: string; kind: FieldKind; required: boolean }[]> = {
  COMPUTE_HOST: [
    { name: 'event', kind: 'enum', required: true },
    { name: 'host_status', kind: 'enum', required: false },
    { name: 'cluster_status', kind: 'enum', required: false },
  ],
  COMPUTE_PROCESS: [
    { name: 'process_name', kind: 'text', required: true },
    { name: 'event', kind: 'enum', required: true },
  ],
  COMPUTE_INSTANCE: [
    { name: 'instance_uuid', kind: 'text', required: true },
    { name: 'vir_domain_event', kind: 'text', required: true },
    { name: 'event', kind: 'text', required: true },
  ],
};

export function masakariRequest(n: Notification): MasakariCreateRequest {
  if (!n.hostName) throw new UnforwardableError('the notification names no host (Masakari needs a hostname)');
  if (n.type === 'XCP_EMERGENCY_SHUTDOWN') throw new UnforwardableError('an emergency shutdown is ours alone: Masakari has no such type');
  const payload: Record<string, string> = {};
  for (const field of PAYLOAD_FIELDS[n.type]) {
    const value = n.payload[field.name];
    if (typeof value !== 'string' || value === '') {
      if (field.required) throw new UnforwardableError(`the ${n.type} payload has no ${field.name} (Masakari requires it)`);
      continue;
    }
    payload[field.name] = field.kind === 'enum' ? value.toUpperCase() : value;
  }
  return { notification: { type: MASAKARI_TYPES[n.type], hostname: n.hostName, generated_time: new Date(n.generatedAt).toISOString(), payload } };
}
