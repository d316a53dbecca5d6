// The members' copies of the pool database, and what a promoted member starts from. The master pushes its database to
// one member at a time, waiting pool_db_sync_interval (300 s) before each (ocaml/xapi/pool_db_backup.ml
// pool_db_backup_thread: `List.iter dohost hosts`, `Thread.delay` inside `dohost`); pool.sync_database pushes it to
// every member at once (ocaml/xapi/xapi_pool.ml sync_database); a member fetches one when its xapi starts
// (ocaml/xapi/xapi.ml, "fetching database backup", OnlySlave). pool.emergency_transition_to_master makes the member a
// master that starts on its own copy (ocaml/xapi/xapi_pool_transition.ml become_master; xapi.ml "starting up database
// engine"), so whatever changed since its last copy is rolled back (xen-api design "Handling of resident_on and
// power_state": "the database rolling back in time (e.g. non-cooperative master handover)").
// Simplified (simulator/FIDELITY.md "Master loss"): a copy holds each VM's power_state and resident_on — what the
// recovery reads — and nothing else; records created or destroyed since the copy are not rolled back.
import type { PowerState, Ref } from './model/types.js';
import { NULL_REF } from './model/types.js';
import type { HostRuntime, SimulatedPool } from './pool.js';

interface Placement {
  power_state: PowerState;
  resident_on: Ref;
}

export class DbBackups {
  private readonly copies = new Map<Ref, Map<Ref, Placement>>();
  /** The member the backup thread pushes to next (round robin over the hosts that are not master). */
  private next = 0;
  private timer?: NodeJS.Timeout;

  /** At build every member holds a copy of the database as built (it fetched one when it joined or started). */
  constructor(private readonly pool: SimulatedPool) {
    for (const h of pool.hosts) if (h !== pool.master) this.backupTo(h);
  }

  /** The backup thread of the master: one member every `intervalMs` (real: pool_db_sync_interval, 300 s). */
  start(intervalMs: number): void {
    this.timer = setInterval(() => this.pushToNext(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** `h` now holds the master's database as it is. */
  backupTo(h: HostRuntime): void {
    const copy = new Map<Ref, Placement>();
    for (const [ref, vm] of this.pool.store.table('VM'))
      if (!vm.is_control_domain) copy.set(ref, { power_state: vm.power_state as PowerState, resident_on: vm.resident_on as Ref });
    this.copies.set(h.ref, copy);
  }

  /** pool.sync_database: every answering member gets a copy now. */
  syncAll(): void {
    for (const h of this.pool.hosts) if (h !== this.pool.master && this.pool.answers(h)) this.backupTo(h);
  }

  /** The database of a promoted member is its copy: every VM's placement as the copy has it. */
  rollBack(h: HostRuntime): void {
    for (const [ref, then] of this.copies.get(h.ref) ?? []) {
      const vm = this.pool.store.get('VM', ref);
      if (!vm || (vm.power_state === then.power_state && vm.resident_on === then.resident_on)) continue;
      this.pool.place(ref, then.resident_on === NULL_REF ? null : then.resident_on, then.power_state);
    }
  }

  private pushToNext(): void {
    const members = this.pool.hosts.filter((h) => h !== this.pool.master);
    if (members.length === 0) return;
    const h = members[this.next++ % members.length]!;
    if (this.pool.answers(h) && this.pool.roles.reachesMaster(h)) this.backupTo(h);
  }
}
