// `ipmitool dcmi power reading`: the BMC's own measurement of the whole host's power draw.

import { ProtocolError } from '../../../core/errors.js';
import { keyValueMap, keyValues } from './key-value.js';

export interface DcmiPowerReading {
  currentWatts: number;
  minimumWatts: number | null;
  maximumWatts: number | null;
  averageWatts: number | null;
  samplingPeriodSeconds: number | null;
  /** "Power reading state is: deactivated" means the numbers are not measurements. */
  active: boolean;
}

const leadingNumber = (text: string | undefined): number | null => {
  const m = /^\s*(\d+(?:\.\d+)?)/.exec(text ?? '');
  return m ? Number(m[1]) : null;
};

/** Throws a ProtocolError when there is no instantaneous reading (BMC without DCMI: "Invalid command"). */
export function parseDcmiPowerReading(text: string): DcmiPowerReading {
  const map = keyValueMap(keyValues(text));
  const currentWatts = leadingNumber(map.get('instantaneous power reading'));
  if (currentWatts === null) {
    throw new ProtocolError(`not a DCMI power reading: ${text.trim().split('\n')[0]?.slice(0, 120) || 'empty output'}`);
  }
  const state = map.get('power reading state is');
  return {
    currentWatts,
    minimumWatts: leadingNumber(map.get('minimum during sampling period')),
    maximumWatts: leadingNumber(map.get('maximum during sampling period')),
    averageWatts: leadingNumber(map.get('average power reading over sample period')),
    samplingPeriodSeconds: leadingNumber(map.get('sampling period')),
    // Older ipmitool does not print the state line; a reading is then all we know.
    active: state === undefined || /^activated$/i.test(state),
  };
}
