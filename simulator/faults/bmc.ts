// Each simulated host's BMC (out of band: it answers whatever the host itself does), with fault modes:
//   ok          — power status tells the truth, power off cuts the power;
//   unreachable — no IPMI session can be set up: every command fails (ipmitool's wording, see IPMITOOL_ERRORS);
//   lying-off   — power status always says off, power off is accepted and does nothing;
//   hang        — a command never answers (the caller's timeout has to end it).
// `delayMs` delays every answer (and a power-off's effect), so tests can act while a command is in flight.
import type { Ref } from '../model/types.js';
import type { HostRuntime, SimulatedPool } from '../pool.js';

export const BMC_MODES = ['ok', 'unreachable', 'lying-off', 'hang'] as const;
export type BmcMode = (typeof BMC_MODES)[number];

export interface BmcState {
  mode: BmcMode;
  delayMs: number;
}

/**
 * ipmitool's stderr when the lanplus session cannot be established (ipmitool src/plugins/lanplus/lanplus.c
 * "Error: Unable to establish IPMI v2 / RMCP+ session"), followed by the command's own failure line
 * (lib/ipmi_chassis.c: "Unable to get Chassis Power Status", "Unable to set Chassis Power Control to Down/Off").
 */
export const IPMITOOL_ERRORS = {
  'power-status': 'Error: Unable to establish IPMI v2 / RMCP+ session\nUnable to get Chassis Power Status',
  'power-off': 'Error: Unable to establish IPMI v2 / RMCP+ session\nUnable to set Chassis Power Control to Down/Off',
} as const;

export class BmcUnreachable extends Error {
  constructor(readonly command: keyof typeof IPMITOOL_ERRORS) {
    super(IPMITOOL_ERRORS[command]);
  }
}

export class SimulatedBmcs {
  private readonly states = new Map<Ref, BmcState>();

  constructor(private readonly pool: SimulatedPool) {}

  state(h: HostRuntime): BmcState {
    return this.states.get(h.ref) ?? { mode: 'ok', delayMs: 0 };
  }

  set(h: HostRuntime, mode: BmcMode, delayMs = 0): BmcState {
    if (!BMC_MODES.includes(mode)) throw new Error(`mode must be one of ${BMC_MODES.join(', ')}`);
    if (!Number.isFinite(delayMs) || delayMs < 0) throw new Error('delay_ms must be a non-negative number');
    this.states.set(h.ref, { mode, delayMs });
    return this.state(h);
  }

  /** `chassis power status`; rejects with BmcUnreachable; with `hang`, settles only when `signal` aborts. */
  async powerStatus(h: HostRuntime, signal?: AbortSignal): Promise<'on' | 'off'> {
    this.pool.truth.bmcCalls.push({ host: h.ref, command: 'power-status', at: Date.now() });
    const { mode } = await this.answer(h, 'power-status', signal);
    if (mode === 'lying-off') return 'off';
    return h.powered ? 'on' : 'off';
  }

  /** `chassis power off`: the power is cut when the answer comes (after delayMs). */
  async powerOff(h: HostRuntime, signal?: AbortSignal): Promise<void> {
    this.pool.truth.bmcCalls.push({ host: h.ref, command: 'power-off', at: Date.now() });
    const { mode } = this.state(h);
    if (mode === 'ok')
      this.pool.truth.powerOffRequested(h.ref, { powered: h.powered, up: h.powered && !h.crashed && !h.partitioned, live: this.pool.isLive(h.ref) });
    await this.answer(h, 'power-off', signal);
    if (mode === 'ok') this.pool.powerOff(h);
  }

  private async answer(h: HostRuntime, command: keyof typeof IPMITOOL_ERRORS, signal?: AbortSignal): Promise<BmcState> {
    const state = this.state(h);
    if (state.mode === 'hang') await abortable(new Promise(() => undefined), signal);
    if (state.delayMs) await abortable(new Promise((r) => setTimeout(r, state.delayMs)), signal);
    if (state.mode === 'unreachable') throw new BmcUnreachable(command);
    return state;
  }
}

/** The caller went away while a command was pending. */
export class Aborted extends Error {}

function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new Aborted('aborted'));
  return new Promise<T>((resolve, reject) => {
    signal.addEventListener('abort', () => reject(new Aborted('aborted')), { once: true });
    p.then(resolve, reject);
  });
}
