// The limits of durable intake on this machine, run as a process of its own like the receiver:
//   fsync — parse each webhook, append every batch of waiting ones to a file with one write and one fsync, then
//           answer them (202): durability by group commit with nothing else to do;
//   none  — parse each webhook and answer 202 at once: HTTP and JSON alone.
// Usage: node --import tsx bench/lib/limit-intake.ts fsync|none PORT FILE
import { closeSync, fsync, openSync, write } from 'node:fs';
import http from 'node:http';
import { promisify } from 'node:util';

const [mode, port, file] = process.argv.slice(2);
const fd = openSync(file!, 'a');
const writeAsync = promisify(write);
const fsyncAsync = promisify(fsync);
let waiting: { line: string; res: http.ServerResponse }[] = [];
let writing = false;

async function commit(): Promise<void> {
  writing = true;
  while (waiting.length) {
    const batch = waiting;
    waiting = [];
    await writeAsync(fd, batch.map((w) => w.line).join(''));
    await fsyncAsync(fd);
    for (const w of batch) w.res.writeHead(202, { 'content-type': 'application/json' }).end('{}');
  }
  writing = false;
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST') return void res.writeHead(200).end('{}');
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    const body = JSON.parse(text) as { alerts?: unknown[] };
    if (!Array.isArray(body.alerts)) return void res.writeHead(400).end('{}');
    if (mode === 'none') return void res.writeHead(202, { 'content-type': 'application/json' }).end('{}');
    waiting.push({ line: text + '\n', res });
    if (!writing) void commit();
  });
});
server.listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => {
  closeSync(fd);
  process.exit(0);
});
