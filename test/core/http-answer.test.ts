// The request path as the routes on node:http read it (core/http/answer.ts pathOf): origin form, and absolute form
// (RFC 9112 §3.2.2), which a server must accept as well.
import t from 'tap';
import { pathOf } from '../../core/http/answer.js';

t.test('pathOf: the path without its query, from an origin-form or absolute-form target', async (t) => {
  const cases: [string | undefined, string][] = [
    [undefined, ''],
    ['', ''],
    ['/metrics', '/metrics'],
    ['/metrics?name[]=up', '/metrics'],
    ['/a/b/', '/a/b/'],
    ['/http://x/y', '/http://x/y'], // origin form whose path looks like a URL: taken as it is
    ['http://127.0.0.1:9100/metrics', '/metrics'],
    ['HTTPS://exporter.example/openmetrics/metrics?x=1', '/openmetrics/metrics'],
    ['http://user@host:1/alertmanager', '/alertmanager'],
    ['http://host', '/'],
    ['http://host?q=/metrics', '/'],
    ['http://host/', '/'],
    ['*', '*'], // asterisk form (OPTIONS *): no route has it
    ['metrics', 'metrics'], // neither form: no route has it either
  ];
  for (const [url, path] of cases) t.equal(pathOf(url), path, String(url));
});
