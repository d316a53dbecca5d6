// core/log.ts: one line per event, the level filter, a child's fields, and redaction — a field whose name looks
// secret never reaches the line, nor a session_id in a string (a URL in an error message), at any depth it reaches.
import t from 'tap';
import { type Level, createLogger, redact } from '../../core/log.js';

function capture(level: Level = 'debug', json = true, fields?: Record<string, unknown>) {
  const lines: string[] = [];
  const logger = createLogger({ level, json, sink: { write: (l) => lines.push(l) }, fields });
  return { logger, lines };
}

t.test('a JSON line: time, level, message, then the fields in order; one line per event', async (t) => {
  const { logger, lines } = capture();
  logger.info('notification recorded', { notification: 'n-1', type: 'COMPUTE_INSTANCE', count: 3, nested: { a: [1, 2] } });
  t.equal(lines.length, 1);
  t.ok(lines[0]!.endsWith('\n') && !lines[0]!.slice(0, -1).includes('\n'), 'one line');
  const line = JSON.parse(lines[0]!) as Record<string, unknown>;
  t.same(Object.keys(line), ['time', 'level', 'msg', 'notification', 'type', 'count', 'nested']);
  t.match(line.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  t.same(line, {
    time: line.time,
    level: 'info',
    msg: 'notification recorded',
    notification: 'n-1',
    type: 'COMPUTE_INSTANCE',
    count: 3,
    nested: { a: [1, 2] },
  });
});

t.test('levels below the logger’s are dropped', async (t) => {
  const { logger, lines } = capture('warn');
  logger.debug('d');
  logger.info('i');
  logger.warn('w');
  logger.error('e');
  t.same(
    lines.map((l) => (JSON.parse(l) as { level: string }).level),
    ['warn', 'error'],
  );
});

t.test('a child adds its fields before the event’s; an event’s field of the same name wins, in the child’s place', async (t) => {
  const { logger, lines } = capture('debug', true, { component: 'exporter' });
  const child = logger.child({ pool: 'a', host: 'h-1' });
  child.warn('slow', { host: 'h-2', ms: 12 });
  logger.info('plain');
  const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  t.same(Object.keys(first!), ['time', 'level', 'msg', 'component', 'pool', 'host', 'ms']);
  t.equal(first!.host, 'h-2');
  t.same(Object.keys(second!), ['time', 'level', 'msg', 'component'], 'the parent is not changed by its child');
});

t.test('secret-looking fields are replaced at every depth; session ids are cut from strings', async (t) => {
  const { logger, lines } = capture();
  const err = Object.assign(new Error('GET https://x/?session_id=OpaqueRef:abc&x=1 failed'), { password: 'hunter2', code: 'E' });
  logger.error('call failed', {
    password: 'p1',
    Token: 't1',
    api_secret: 's1',
    sessionId: 'OpaqueRef:s',
    authorization: 'Bearer b',
    private_key: 'k',
    credentials: { user: 'root', pass: 'p2' },
    url: 'https://pool/rrd_updates?session_id=OpaqueRef:zzz&start=1',
    list: [{ secret: 'deep' }, 'session_id=q'],
    err,
    user: 'root',
  });
  const text = lines[0]!;
  for (const secret of ['p1', 't1', 's1', 'OpaqueRef:s', 'Bearer b', '"k"', 'p2', 'OpaqueRef:zzz', 'deep', 'session_id=q"', 'hunter2', 'OpaqueRef:abc'])
    t.notOk(text.includes(secret), `${secret} is not in the line`);
  const line = JSON.parse(text) as Record<string, any>;
  t.equal(line.password, '[redacted]');
  t.equal(line.credentials, '[redacted]', 'a secret-looking key hides its whole value');
  t.equal(line.url, 'https://pool/rrd_updates?session_id=[redacted]&start=1');
  t.same(line.list, [{ secret: '[redacted]' }, 'session_id=[redacted]']);
  t.same(line.err, { name: 'Error', message: 'GET https://x/?session_id=[redacted]&x=1 failed', password: '[redacted]', code: 'E' });
  t.equal(line.user, 'root');
});

t.test('the message itself loses its session ids; deep values stop at a depth', async (t) => {
  const { logger, lines } = capture();
  let deep: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < 10; i++) deep = { d: deep };
  logger.info('opened https://x/?session_id=OpaqueRef:m', { deep });
  const line = JSON.parse(lines[0]!) as Record<string, any>;
  t.equal(line.msg, 'opened https://x/?session_id=[redacted]');
  t.match(JSON.stringify(line.deep), /"\[deep\]"/);
  t.equal(redact('a session_id=1 b SESSION_ID=2'), 'a session_id=[redacted] b SESSION_ID=[redacted]');
});

t.test('the text format (a terminal): time, level, message, key=value, redacted the same', async (t) => {
  const { logger, lines } = capture('debug', false, { component: 'cli' });
  logger.warn('retrying', { attempt: 2, password: 'p', where: { a: 1 } });
  t.match(lines[0], /^\d{4}-\d\d-\d\dT\S+Z WARN {2}retrying component=cli attempt=2 password=\[redacted\] where=\{"a":1\}\n$/);
});
