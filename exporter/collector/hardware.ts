// The `ipmi` and `smart` collectors of one pool. Their cycles run in the background on their own intervals
// (hardware/collector.ts) and report their own up, duration and errors; a poll only adds their latest results, so
// /metrics never waits on a BMC or a disk. On when the pool's `hardware.transport` is not none and the kind's
// `enabled` is true.
import type { HardwareCollector, HardwareKind } from '../hardware/collector.js';
import type { HardwareConfig } from '../hardware/config.js';
import { addIpmiMetrics, addSmartMetrics } from '../hardware/metrics.js';
import type { MetricSink } from '../metrics/declare.js';
import type { Collector } from './collector.js';

/** Reading memory: a second is a hang. */
const READ_DEADLINE_MS = 1000;

const ADD: Record<HardwareKind, typeof addIpmiMetrics> = { ipmi: addIpmiMetrics, smart: addSmartMetrics };

export class HardwareKindCollector implements Collector {
  readonly background = true;
  /** Host labels come from the inventory the `xapi` collector keeps. */
  readonly after = ['xapi'];
  readonly enabled: boolean;

  /** `hostLabels(uuid)`: the HOST label string, undefined for a host not in the inventory (or none read yet). */
  constructor(
    readonly name: HardwareKind,
    private readonly config: HardwareConfig | undefined,
    private readonly hardware: HardwareCollector | undefined,
    private readonly hostLabels: (uuid: string) => string | undefined,
  ) {
    this.enabled = Boolean(hardware && config?.[name].enabled);
  }

  deadlineMs(): number {
    return READ_DEADLINE_MS;
  }

  /** Three of its own intervals. */
  staleAfterMs(): number | undefined {
    return this.config && 3 * this.config[this.name].intervalMs;
  }

  async collect(sink: MetricSink): Promise<void> {
    if (this.hardware) ADD[this.name](sink, this.hardware, this.hostLabels);
  }
}
