// The guest agent's liveness, from the one thing a live agent keeps changing without anything installed: its memory
// report. xe-daemon rewrites data/meminfo_free about every 120 s when it changed (xenserver/xe-guest-utilities
// xe-daemon.go, CachedXenStore); rrdd's squeezed plugin serves the last written value as the VM's
// memory_internal_free every 5 s (xen-api ocaml/xcp-rrdd/bin/rrdp-squeezed/rrdp_squeezed.ml). A hung guest or a dead
// agent leaves a constant. VM_guest_metrics.last_updated is no heartbeat: xapi writes it only when the agent's static
// data changes (ocaml/xapi/xapi_guest_agent.ml).
import { detach } from '../../core/strings.js';
import type { RateRows } from './counters.js';

interface ReportState {
  value: number;
  /** `t` of the row where the value last changed (or the first row seen). */
  changedT: number;
  /** `t` of the newest row read. */
  lastT: number;
}

export class GuestReports {
  private readonly state = new Map<string, ReportState>();

  /**
   * Read this poll's rows (ascending t; NaN = no sample) of one VM's memory_internal_free column; returns the seconds
   * between the newest row and the last change, undefined while there is no sample at all. Nothing is known before
   * the first row seen, so that row counts as a change: the age never claims more than was watched.
   */
  observe(uuid: string, rows: RateRows['rows'], column: number): number | undefined {
    let s = this.state.get(uuid);
    for (const row of rows) {
      const v = row.values[column]!;
      if (!Number.isFinite(v) || (s && row.t <= s.lastT)) continue;
      if (!s) this.state.set(detach(uuid), (s = { value: v, changedT: row.t, lastT: row.t }));
      else if (v !== s.value) {
        s.value = v;
        s.changedT = row.t;
      }
      s.lastT = row.t;
    }
    return s && s.lastT - s.changedT;
  }

  prune(keep: (uuid: string) => boolean): void {
    for (const uuid of this.state.keys()) if (!keep(uuid)) this.state.delete(uuid);
  }
}
