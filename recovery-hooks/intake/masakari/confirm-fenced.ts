// The body of POST /v1/notifications/{uuid}/confirm-fenced: {"host_uuid": "<the notification's host uuid>"}. The
// operator names the host they powered off (or checked is off), so a confirmation meant for one host cannot release
// another's recovery.
import { ApiError } from '../errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function parseConfirmFenced(body: unknown): { hostUuid: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ApiError(400, `Invalid input for field/attribute body. Value: ${JSON.stringify(body)}. It is not of type 'object'`);
  const extra = Object.keys(body).filter((k) => k !== 'host_uuid');
  if (extra.length)
    throw new ApiError(
      400,
      `Invalid input for field/attribute body. Additional properties are not allowed (${extra.map((k) => `'${k}'`).join(', ')} unexpected)`,
    );
  const hostUuid = (body as Record<string, unknown>).host_uuid;
  if (hostUuid === undefined) throw new ApiError(400, "Invalid input for field/attribute body. 'host_uuid' is a required property");
  if (typeof hostUuid !== 'string' || !UUID.test(hostUuid))
    throw new ApiError(400, `Invalid input for field/attribute host_uuid. Value: ${JSON.stringify(hostUuid)}. It is not a 'uuid'`);
  return { hostUuid };
}
