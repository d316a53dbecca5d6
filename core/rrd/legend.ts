// The legend of an /rrd_updates answer (`CF:type:uuid:name` per column), kept compact between polls. xcp-rrdd builds
// it from the host's RRD and its resident VMs' RRDs, each RRD's data sources in order (create_multi in
// ocaml/libs/xapi-rrd/lib/rrd_updates.ml; the RRD list from Hashtbl.to_seq of vm_rrds in
// ocaml/xcp-rrdd/bin/rrdd/rrdd_http_handler.ml, get_host_stats): it is the same text poll after poll until a VM
// arrives or leaves or a data source is added or removed. So a host's legend is decoded once and each later answer's
// legend is only compared with it, in place (the JSON list's bytes by digest; an XML legend's entries one by one);
// any difference decodes the new one. Immutable: an answer with another legend gets a new Legend, so a poll never
// reads rows with a legend it did not come with.
import { createHash } from 'node:crypto';
import { ProtocolError } from '../errors.js';
import { detach } from '../strings.js';
import type { RrdColumn } from './parse.js';

/** The columns of one (CF, object type, uuid): one RRD's sources under one consolidation function. */
export interface LegendGroup {
  cf: string;
  objectType: string;
  uuid: string;
  /** `CF:type:uuid:`, what each of its entries starts with. */
  prefix: string;
}

export class Legend {
  private constructor(
    /** Column → its data-source name. */
    readonly names: readonly string[],
    /** Column → its group (index into `groups`). */
    readonly groupOf: Int32Array,
    readonly groups: readonly LegendGroup[],
    /** The JSON list it was decoded from: its length in bytes and SHA-256 digest. */
    private readonly json?: { length: number; digest: Buffer },
  ) {}

  get length(): number {
    return this.names.length;
  }

  /** Decode legend entries (as the JSON or XML reader gives them). Throws ProtocolError for an entry that is not
   * `CF:type:uuid:name` (the name may itself contain ':'). Strings are copied: a Legend never keeps a body alive. */
  static parse(entries: readonly unknown[], what: string): Legend {
    const names: string[] = new Array(entries.length);
    const groupOf = new Int32Array(entries.length);
    const groups: LegendGroup[] = [];
    const byPrefix = new Map<string, number>();
    const byName = new Map<string, string>();
    let last = -1; // the group of the entry before: an RRD's entries come together
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      const e = typeof entry === 'string' ? entry : '';
      let g: number | undefined;
      let nameAt: number;
      const lastPrefix = last >= 0 ? groups[last]!.prefix : '';
      if (last >= 0 && e.length > lastPrefix.length && e.startsWith(lastPrefix)) {
        g = last;
        nameAt = lastPrefix.length;
      } else {
        const a = e.indexOf(':');
        const b = a > 0 ? e.indexOf(':', a + 1) : -1;
        const c = b > a + 1 ? e.indexOf(':', b + 1) : -1;
        if (c <= b + 1 || c === e.length - 1) throw new ProtocolError(`${what}: legend entry ${i} ${JSON.stringify(entry)} is not CF:type:uuid:name`);
        const prefix = e.slice(0, c + 1);
        g = byPrefix.get(prefix);
        if (g === undefined) {
          g = groups.length;
          groups.push({ cf: detach(e.slice(0, a)), objectType: detach(e.slice(a + 1, b)), uuid: detach(e.slice(b + 1, c)), prefix: detach(prefix) });
          byPrefix.set(groups[g]!.prefix, g);
        }
        nameAt = c + 1;
      }
      last = g;
      groupOf[i] = g;
      const name = e.slice(nameAt);
      let kept = byName.get(name);
      if (kept === undefined) byName.set((kept = detach(name)), kept);
      names[i] = kept;
    }
    return new Legend(names, groupOf, groups);
  }

  /** The legend of `columns` (answers made by hand, tests). */
  static of(columns: readonly RrdColumn[]): Legend {
    return Legend.parse(
      columns.map((c) => `${c.cf}:${c.objectType}:${c.uuid}:${c.name}`),
      'legend',
    );
  }

  column(i: number): RrdColumn {
    const g = this.groups[this.groupOf[i]!]!;
    return { cf: g.cf, objectType: g.objectType, uuid: g.uuid, name: this.names[i]! };
  }

  columns(): RrdColumn[] {
    return Array.from({ length: this.length }, (_, i) => this.column(i));
  }

  /** Whether decoded entries are exactly this legend's. */
  equals(entries: readonly unknown[]): boolean {
    if (entries.length !== this.length) return false;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      const prefix = this.groups[this.groupOf[i]!]!.prefix;
      const name = this.names[i]!;
      if (typeof e !== 'string' || e.length !== prefix.length + name.length || !e.startsWith(prefix) || !e.endsWith(name)) return false;
    }
    return true;
  }

  /**
   * Whether the JSON list starting at `body[open]` (a '[') is, byte for byte, the list this legend was decoded from
   * (see `withJson`): the index after its ']', or -1 when anything differs or this legend has no JSON bytes. The
   * list's bytes are compared by their SHA-256 digest, in place (one native call per answer, nothing decoded,
   * nothing allocated per entry; keeping each host's legend bytes instead would cost ~0.6 MB per host).
   */
  matchJson(body: Buffer, open: number): number {
    const json = this.json;
    if (!json) return -1;
    const end = open + json.length;
    if (end > body.length || body[end - 1] !== 93 /* ] */) return -1;
    return digest(body, open, end).equals(json.digest) ? end : -1;
  }

  /** This legend, to be recognised by matchJson in later answers: `body[start…end)` is the JSON list it was decoded
   * from. */
  withJson(body: Buffer, start: number, end: number): Legend {
    return new Legend(this.names, this.groupOf, this.groups, { length: end - start, digest: digest(body, start, end) });
  }
}

function digest(body: Buffer, start: number, end: number): Buffer {
  return createHash('sha256').update(body.subarray(start, end)).digest();
}
