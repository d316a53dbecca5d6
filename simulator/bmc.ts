import { type FenceTarget, type Fencer, type PowerStatus, FenceError } from '../core/fencing.js';
// The simulated pool's BMC as a Fencer: calls the simulator control API's power-off and
// power-status. The fencing end-to-end tests use the real CommandFencer with the simulator's CLI as the BMC tool
// (see sim-rig.ts); this one is for tests about what happens after the fence, without a process per BMC call.

export class SimBmc implements Fencer {
  readonly calls: string[] = [];

  constructor(private readonly controlUrl: string) {}

  async powerOff(host: FenceTarget): Promise<void> {
    this.calls.push(`power-off ${host.name}`);
    await this.#post(host, 'power-off');
  }

  async powerOn(host: FenceTarget): Promise<void> {
    this.calls.push(`power-on ${host.name}`);
    await this.#post(host, 'power-on');
  }

  async powerStatus(host: FenceTarget): Promise<PowerStatus> {
    this.calls.push(`power-status ${host.name}`);
    const { power } = (await this.#post(host, 'power-status')) as { power?: string };
    return power === 'on' || power === 'off' ? power : 'unknown';
  }

  async #post(host: FenceTarget, action: string): Promise<unknown> {
    const res = await fetch(`${this.controlUrl}/sim/hosts/${encodeURIComponent(host.uuid)}/${action}`, { method: 'POST' });
    const body = (await res.json()) as { error?: string };
    if (!res.ok) throw new FenceError(host.name, `${action}: ${body.error ?? res.status}`);
    return body;
  }
}
