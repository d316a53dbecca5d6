import type { SmartctlExitStatus } from './model.js';

/** smartctl(8) "RETURN VALUES": the exit status is a bit mask. */
export function decodeExitStatus(code: number): SmartctlExitStatus {
  const bit = (n: number) => (code & (1 << n)) !== 0;
  return {
    code,
    commandLineError: bit(0),
    openFailedOrLowPower: bit(1),
    smartCommandFailed: bit(2),
    diskFailing: bit(3),
    prefailAtThreshold: bit(4),
    pastAtThreshold: bit(5),
    errorLogHasErrors: bit(6),
    selfTestLogHasErrors: bit(7),
  };
}
