// The parser on what the simulator serves over HTTP in every XAPI generation: same columns, same values.
import t from 'tap';
import { Secret } from '../../core/config/secret.js';
import { XapiClient } from '../../core/xapi/client.js';
import { fetchRrdUpdates } from '../../core/rrd/fetch.js';
import { newestValues, parseRrdUpdates } from '../../core/rrd/parse.js';
import type { RrdShape } from '../../simulator/rrd/render.js';
import { startSim } from '../helpers/sim.js';

const shapes: RrdShape[] = ['current', 'nested', 'legacy'];
const results = new Map<string, ReturnType<typeof newestValues>>();

for (const shape of shapes) {
  t.test(`JSON generation "${shape}"`, async (t) => {
    const sim = await startSim({ rrdShape: shape, seed: 7 });
    t.teardown(() => sim.stop());
    const xapi = new XapiClient({ url: sim.url, username: 'root', password: new Secret('simulated') });
    t.teardown(() => xapi.logout());
    await xapi.login();
    const update = await fetchRrdUpdates(xapi, sim.pool.hosts[1]!.address, { windowSeconds: 20, timeoutMs: 3000, maxBodyBytes: 1e8 });
    t.ok(update.rows.length >= 2, 'rows');
    t.ok(update.columns.some((c) => c.objectType === 'host' && c.name === 'cpu_avg'));
    t.ok(update.columns.some((c) => c.objectType === 'vm' && c.name === 'vbd_xvda_read_latency'));
    const newest = newestValues(update);
    results.set(shape, newest);
    if (shape === 'current') {
      // XML from the same host: Accept: text/xml wins over json=true.
      const url = xapi.hostUrl(sim.pool.hosts[1]!.address, '/rrd_updates');
      url.search = `start=-20&host=true&json=true&session_id=${xapi.sessionId}`;
      const res = await xapi.http.request(url, { timeoutMs: 3000, headers: { accept: 'text/xml' } });
      t.match(String(res.headers['content-type']), /text\/xml/);
      const xml = newestValues(parseRrdUpdates(res.body));
      t.same(xml.columns, newest.columns, 'XML has the same legend');
      if (xml.t === newest.t) for (let i = 0; i < xml.values.length; i += 97) t.equal(xml.values[i], newest.values[i], 'same values, every 97th column');
    }
  });
}

t.test('every generation gives the same newest values for the same pool and time', async (t) => {
  const [a, b, c] = shapes.map((s) => results.get(s)!);
  t.same(b!.columns, a!.columns);
  t.same(c!.columns, a!.columns);
  // The three simulators were read a moment apart: compare only when they saw the same newest row.
  if (a!.t === b!.t) t.same([...b!.values], [...a!.values]);
  if (a!.t === c!.t) t.same([...c!.values], [...a!.values]);
});
