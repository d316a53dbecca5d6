// Bodies of the UI's forms: application/x-www-form-urlencoded only (415 otherwise), refused above the receiver's
// max_body_bytes before being read whole; every field a bounded string without control characters.
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../intake/errors.js';
import { LIMITS, textProblem, truncate } from '../intake/validate.js';

export type Form = Record<string, string>;

/** Free text a field may hold (the payload JSON of the create form is the longest). */
const FIELD_MAX = 32_768;

export async function readForm(req: IncomingMessage, limitBytes: number): Promise<Form> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded')
    throw new ApiError(
      415,
      `Unsupported Content-Type ${JSON.stringify(truncate(req.headers['content-type'] ?? '(none)', 80))}: send application/x-www-form-urlencoded`,
    );
  const tooLarge = () => new ApiError(413, `Request body is larger than ${limitBytes} bytes`);
  if (Number(req.headers['content-length']) > limitBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) throw tooLarge();
    chunks.push(chunk);
  }
  const form: Form = {};
  const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  for (const [key, value] of params) {
    if (key in form) throw new ApiError(400, `Invalid input for field/attribute ${truncate(key, 80)}. The field is given more than once`);
    const problem = textProblem(key, LIMITS.key) ?? textProblem(value, FIELD_MAX, { controls: key === 'payload' ? 'nul-only' : 'refuse' });
    if (problem) throw new ApiError(400, `Invalid input for field/attribute ${truncate(key, 80)}. ${problem}`);
    form[key] = value;
  }
  return form;
}
