// Request bodies: JSON only (by Content-Type, 415 otherwise), refused above the configured size before being read
// whole, and above LIMITS.depth of nesting before being parsed.
import type { IncomingMessage } from 'node:http';
import { ApiError } from './errors.js';
import { LIMITS, jsonTextDepth, truncate } from './validate.js';

/**
 * Masakari's media types, and any `+json` type. No Content-Type at all is taken as JSON, as Masakari does; text/plain
 * (which Masakari also lets through) is refused: a JSON body declared as text is a client bug worth saying.
 */
const JSON_TYPE = /^application\/(json|[a-z0-9.+-]*\+json)$/;

export function checkJsonContentType(header: string | undefined): void {
  if (header === undefined) return;
  const type = header.split(';')[0]!.trim().toLowerCase();
  if (!JSON_TYPE.test(type)) throw new ApiError(415, `Unsupported Content-Type ${JSON.stringify(truncate(header, 80))}: send application/json`);
}

export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  checkJsonContentType(req.headers['content-type']);
  const tooLarge = () => new ApiError(413, `Request body is larger than ${limitBytes} bytes`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) throw tooLarge();
  const text = await readText(req, limitBytes, tooLarge);
  if (!/\S/.test(text)) throw new ApiError(400, 'Malformed request body: the body is empty');
  if (jsonTextDepth(text, LIMITS.depth) > LIMITS.depth) throw new ApiError(400, `Malformed request body: JSON nested deeper than ${LIMITS.depth} levels`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ApiError(400, 'Malformed request body: not valid JSON');
  }
}

/**
 * The body as UTF-8 text, read with the stream's events: an async iterator over the request (for await) cost ~10 µs a
 * request, half of JSON.parse's for a 5 KB webhook (profiled; bench/RESULTS.md §4). Past `limitBytes` the request is
 * destroyed, as leaving a for-await loop did; a request that closes before its end rejects (ERR_STREAM_PREMATURE_CLOSE).
 */
function readText(req: IncomingMessage, limitBytes: number, tooLarge: () => Error): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (err: Error | undefined) => {
      req.off('data', onData).off('end', onEnd).off('error', settle).off('close', onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8'));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limitBytes) return void chunks.push(chunk);
      settle(tooLarge());
      req.destroy();
    };
    const onEnd = () => settle(undefined);
    const onClose = () => settle(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    if (req.readableEnded) return resolve('');
    if (req.destroyed) return onClose();
    req.on('data', onData).on('end', onEnd).on('error', settle).on('close', onClose);
  });
}
