// Timed HTTP GETs over one keep-alive connection, as a scraper does.
import http from 'node:http';

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

export function timedGet(url: string, headers: Record<string, string> = {}): Promise<{ ms: number; bytes: number; status: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent, headers }, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve({ ms: performance.now() - started, bytes, status: res.statusCode ?? 0 }));
      })
      .on('error', reject);
  });
}

export async function timedGets(url: string, n: number, headers: Record<string, string> = {}) {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const r = await timedGet(url, headers);
    if (r.status !== 200) throw new Error(`${url}: HTTP ${r.status}`);
    times.push(r.ms);
    bytes = r.bytes;
  }
  return { times, bytes };
}
