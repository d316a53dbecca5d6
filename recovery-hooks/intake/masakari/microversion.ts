// API microversions (`OpenStack-API-Version: instance-ha 1.1` or `X-OpenStack-Masakari-API-Version: 1.1`).
// 1.0 base, 1.1 recovery_workflow_details, 1.2 segment `enabled`, 1.3 vmoves.
import type { IncomingHttpHeaders } from 'node:http';
import { ApiError } from '../errors.js';

export const MIN_VERSION = '1.0';
export const MAX_VERSION = '1.3';

export interface Microversion {
  major: number;
  minor: number;
}

const parse = (v: string): Microversion | undefined => {
  const m = /^(\d+)\.(\d+)$/.exec(v.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
};

export function atLeast(v: Microversion, minor: number): boolean {
  return v.major > 1 || (v.major === 1 && v.minor >= minor);
}

export function formatVersion(v: Microversion): string {
  return `${v.major}.${v.minor}`;
}

/** The microversion a request asks for (1.0 when it does not say); 406 when it is out of range or malformed. */
export function requestedVersion(headers: IncomingHttpHeaders): Microversion {
  const header = headers['openstack-api-version'];
  let asked: string | undefined;
  if (typeof header === 'string') {
    for (const part of header.split(',')) {
      const [service, version] = part.trim().split(/\s+/);
      if (service?.toLowerCase() === 'instance-ha' && version) asked = version;
    }
  }
  const legacy = headers['x-openstack-masakari-api-version'];
  if (asked === undefined && typeof legacy === 'string') asked = legacy;
  if (asked === undefined) return parse(MIN_VERSION)!;
  if (asked.toLowerCase() === 'latest') return parse(MAX_VERSION)!;
  const v = parse(asked);
  const min = parse(MIN_VERSION)!;
  const max = parse(MAX_VERSION)!;
  if (!v) throw new ApiError(400, `API version string ${asked} format is not valid`);
  if (v.major !== 1 || v.minor < min.minor || v.minor > max.minor)
    throw new ApiError(406, `Version ${asked} is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}.`);
  return v;
}
