// The fencing contract: what the recovery hook's host workflow asks of a fencer (power a failed host off, read its
// power state), implemented by the recovery hook's BMC command fencer and by the simulator's BMC. It lives in core/
// so that the simulator does not depend on the recovery hook.

/** The host to fence, as XAPI knows it (name_label and uuid), with its BMC address resolved from fencing.bmc. */
export interface FenceTarget {
  name: string;
  uuid: string;
  bmc?: string;
}

export type PowerStatus = 'on' | 'off' | 'unknown';

export interface Fencer {
  powerOff(host: FenceTarget): Promise<void>;
  powerStatus(host: FenceTarget): Promise<PowerStatus>;
  /** Power a host on (the resume after an emergency shutdown; never a recovery). */
  powerOn?(host: FenceTarget): Promise<void>;
}

/** The fence command failed (exit code, timeout, no BMC configured for the host). */
export class FenceError extends Error {
  override name = 'FenceError';
  constructor(
    readonly host: string,
    message: string,
  ) {
    super(`fencing ${host}: ${message}`);
  }
}
