import { type Schema, report } from './schema.js';

export interface ListenAddress {
  host: string;
  port: number;
}

/** "HOST:PORT", "[v6]:PORT" or ":PORT" (all interfaces). */
export function listenAddress(): Schema<ListenAddress> {
  const describe = 'an address like 127.0.0.1:9100, [::1]:9100 or :9100';
  return {
    describe,
    parse(v, path, ctx) {
      if (typeof v !== 'string') return report(ctx, path, `expected ${describe}, got ${JSON.stringify(v)}`);
      const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]*)):(\d{1,5})$/.exec(v);
      const port = m ? Number(m[3]) : NaN;
      if (!m || port > 65535) return report(ctx, path, `expected ${describe}, got ${JSON.stringify(v)}`);
      return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
    },
  };
}

export function formatListen(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
