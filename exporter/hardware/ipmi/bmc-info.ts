// What the BMC says about itself: FreeIPMI `bmc-info` or ipmitool `mc info` (same `key : value` shape).

import { ProtocolError } from '../../../core/errors.js';
import { keyValueMap, keyValues } from './key-value.js';

export interface BmcInfo {
  firmwareRevision: string | null;
  ipmiVersion: string | null;
  /** FreeIPMI: "Peppercon AG (10437)" → "Peppercon AG"; ipmitool: its "Manufacturer Name" line. */
  manufacturer: string | null;
  /** IANA enterprise number. */
  manufacturerId: number | null;
  productId: number | null;
  /** FreeIPMI prints it; ipmitool needs `mc guid`. */
  guid: string | null;
}

export function parseBmcInfo(text: string): BmcInfo {
  const map = keyValueMap(keyValues(text));
  if (!map.has('firmware revision') && !map.has('ipmi version')) {
    throw new ProtocolError('not BMC information: no "Firmware Revision" or "IPMI Version" line');
  }
  // "Peppercon AG (10437)" (FreeIPMI) or "674" (ipmitool, name on its own line)
  const maker = /^(?:(.*?)\s*\()?(\d+)\)?$/.exec(map.get('manufacturer id') ?? '');
  return {
    firmwareRevision: map.get('firmware revision') ?? null,
    ipmiVersion: map.get('ipmi version') ?? null,
    manufacturer: maker?.[1] || map.get('manufacturer name') || null,
    manufacturerId: maker ? Number(maker[2]) : null,
    productId: /^\d+/.test(map.get('product id') ?? '') ? parseInt(map.get('product id')!, 10) : null,
    guid: map.get('guid') ?? null,
  };
}
