// `ipmitool lan print [channel]`: the BMC's network settings, which is what fencing needs to reach it.

import { ProtocolError } from '../../../core/errors.js';
import { type KeyValue, keyValueMap, keyValues } from './key-value.js';

export interface BmcLanConfig {
  /** Null when unset (0.0.0.0) or not an IPv4 address. */
  ipAddress: string | null;
  /** "Static Address", "DHCP Address"… */
  ipAddressSource: string | null;
  subnetMask: string | null;
  macAddress: string | null;
  defaultGateway: string | null;
  /** Null when 802.1q tagging is disabled. */
  vlanId: number | null;
}

const IPV4 = /^(?:\d{1,3}\.){3}\d{1,3}$/;
const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i;

const ipv4 = (v: string | undefined) => (v && IPV4.test(v) && v !== '0.0.0.0' ? v : null);

/** From `name`/`value` pairs: the parsed text, or the XCP-ng plugin's `get_ipmi_lan` answer. */
export function lanConfigFromPairs(pairs: readonly KeyValue[]): BmcLanConfig {
  const map = keyValueMap(pairs);
  if (!map.has('ip address') && !map.has('mac address')) {
    throw new ProtocolError('not ipmitool lan print output: no "IP Address" or "MAC Address" line');
  }
  const mac = map.get('mac address');
  const vlan = map.get('802.1q vlan id');
  return {
    ipAddress: ipv4(map.get('ip address')),
    ipAddressSource: map.get('ip address source') || null,
    subnetMask: ipv4(map.get('subnet mask')),
    macAddress: mac && MAC.test(mac) ? mac.toLowerCase() : null,
    defaultGateway: ipv4(map.get('default gateway ip')),
    vlanId: vlan && /^\d+$/.test(vlan) ? Number(vlan) : null,
  };
}

export function parseLanPrint(text: string): BmcLanConfig {
  return lanConfigFromPairs(keyValues(text));
}
