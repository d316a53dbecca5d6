// The simulated XAPI database: records by class and ref, an index by uuid, and the event log behind
// `event.from` (bounded, like XAPI's: a token older than the log answers EVENTS_LOST).
import { type Ref, type XapiClass, type XapiRecord, XAPI_CLASSES } from './types.js';

export interface XapiEvent {
  id: number;
  timestamp: string;
  class: XapiClass;
  operation: 'add' | 'mod' | 'del';
  ref: Ref;
}

const EVENT_LOG_LIMIT = 200_000;

export class ObjectStore {
  private readonly tables = new Map<XapiClass, Map<Ref, XapiRecord>>();
  private readonly uuids = new Map<string, { cls: XapiClass; ref: Ref }>();
  private readonly log: XapiEvent[] = [];
  private nextId = 1;
  private waiters: (() => void)[] = [];

  constructor() {
    for (const c of XAPI_CLASSES) this.tables.set(c, new Map());
  }

  table(cls: XapiClass): Map<Ref, XapiRecord> {
    return this.tables.get(cls)!;
  }

  get(cls: XapiClass, ref: Ref): XapiRecord | undefined {
    return this.tables.get(cls)!.get(ref);
  }

  byUuid(uuid: string): { cls: XapiClass; ref: Ref } | undefined {
    return this.uuids.get(uuid);
  }

  add(cls: XapiClass, ref: Ref, rec: XapiRecord): void {
    this.tables.get(cls)!.set(ref, rec);
    this.uuids.set(rec.uuid, { cls, ref });
    this.emit(cls, 'add', ref);
  }

  /** Change fields of a record; emits a `mod` event only when something changed. */
  mod(cls: XapiClass, ref: Ref, patch: Partial<XapiRecord>): void {
    const rec = this.tables.get(cls)!.get(ref);
    if (!rec) return;
    let changed = false;
    for (const [k, v] of Object.entries(patch)) {
      if (JSON.stringify(rec[k]) !== JSON.stringify(v)) {
        (rec as Record<string, unknown>)[k] = v;
        changed = true;
      }
    }
    if (changed) this.emit(cls, 'mod', ref);
  }

  /** Change a field without an event: for fields XAPI itself updates silently (e.g. heartbeats). */
  touch(cls: XapiClass, ref: Ref, patch: Partial<XapiRecord>): void {
    const rec = this.tables.get(cls)!.get(ref);
    if (rec) Object.assign(rec, patch);
  }

  del(cls: XapiClass, ref: Ref): void {
    const rec = this.tables.get(cls)!.get(ref);
    if (!rec) return;
    this.tables.get(cls)!.delete(ref);
    this.uuids.delete(rec.uuid);
    this.emit(cls, 'del', ref);
  }

  private emit(cls: XapiClass, operation: XapiEvent['operation'], ref: Ref): void {
    this.log.push({ id: this.nextId++, timestamp: (Date.now() / 1000).toFixed(3), class: cls, operation, ref });
    if (this.log.length > EVENT_LOG_LIMIT) this.log.splice(0, this.log.length - EVENT_LOG_LIMIT);
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The token that means "now": events after it are new. */
  currentToken(): string {
    return String(this.nextId - 1).padStart(20, '0');
  }

  /**
   * Events of `classes` after `token`. An empty token answers every current object as `add` (XAPI's way to
   * bootstrap a cache). Waits up to `timeoutS` for something new; answers null when the token is too old.
   */
  async eventsFrom(
    classes: Set<string>,
    token: string,
    timeoutS: number,
  ): Promise<{ events: (XapiEvent & { snapshot?: XapiRecord })[]; token: string } | null> {
    const wanted = (c: XapiClass) => classes.has('*') || classes.has(c) || classes.has(c.toLowerCase());
    if (token === '') {
      const events: (XapiEvent & { snapshot?: XapiRecord })[] = [];
      for (const [cls, table] of this.tables) {
        if (!wanted(cls)) continue;
        for (const [ref, rec] of table) events.push({ id: 0, timestamp: '0', class: cls, operation: 'add', ref, snapshot: rec });
      }
      return { events, token: this.currentToken() };
    }
    const from = Number(token);
    if (!Number.isFinite(from)) return null;
    const oldest = this.log.length ? this.log[0]!.id : this.nextId;
    if (from < oldest - 1) return null;
    const deadline = Date.now() + timeoutS * 1000;
    for (;;) {
      const fresh = this.log.filter((e) => e.id > from && wanted(e.class));
      if (fresh.length || Date.now() >= deadline) {
        // Coalesce: one event per (class, ref), the last one wins, as XAPI does.
        const last = new Map<string, XapiEvent>();
        for (const e of fresh) last.set(`${e.class}/${e.ref}`, e);
        const events = [...last.values()].map((e) => ({ ...e, snapshot: e.operation === 'del' ? undefined : this.get(e.class, e.ref) }));
        return { events, token: this.currentToken() };
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Wake blocked `event.from` calls (on shutdown). */
  wakeAll(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
