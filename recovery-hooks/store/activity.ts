// A notification's activity (what was sent on its behalf: outbox messages, action-hook calls), as pure code shared
// by both dialects: the statements, the row mapping, and the bounds on stored text. Texts are masked for secrets and
// cut to a fixed length before they are stored or shown: a hook that echoes its request, or an error that quotes a
// URL with credentials, leaves no secret in the store or on the UI.
import type { Row, Statement } from './rows.js';
import type { HookCallInput, HookCallRecord, MessageRecord, MessageStatus } from './types.js';

/** At most this many characters of an output excerpt or error (the rest is cut, with an ellipsis). */
export const ACTIVITY_TEXT_MAX = 1000;
/** Identifiers (hook URL, task, method, call id) are cut to this length. */
const NAME_MAX = 500;
/** A notification's activity lists at most this many of each kind (the most recent). */
export const ACTIVITY_LIMIT = 500;

const MASK = '[secret]';
const SECRET_NAME = 'pass(?:word|wd)?|secret|token|api[_-]?key|access[_-]?key|credentials?|session[_-]?id|authorization|private[_-]?key';
const SECRET_PATTERNS: [RegExp, string][] = [
  // user:password@ in URLs
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)[^@\s/]+@/gi, `$1${MASK}@`],
  // Authorization schemes
  [/\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}/gi, `$1$2${MASK}`],
  // "password": "…" in JSON
  [new RegExp(`("[\\w-]*(?:${SECRET_NAME})[\\w-]*"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, 'gi'), `$1"${MASK}"`],
  // password=… in query strings, forms and headers
  [new RegExp(`\\b([\\w-]*(?:${SECRET_NAME})[\\w-]*\\s*[=:]\\s*)(?!\\[secret\\])[^\\s&"',;)\\]}]+`, 'gi'), `$1${MASK}`],
];

/** `text` with secret-looking values masked and `known` secrets replaced, cut to `max` characters. */
export function boundedText(text: string | null | undefined, known: readonly string[] = [], max = ACTIVITY_TEXT_MAX): string | null {
  if (text === null || text === undefined) return null;
  let out = text;
  for (const s of known) if (s) out = out.replaceAll(s, MASK);
  for (const [re, to] of SECRET_PATTERNS) out = out.replace(re, to);
  return out.length > max ? `${out.slice(0, max - 1)}…` : out;
}

const name = (s: string | null) => (s === null ? null : s.slice(0, NAME_MAX));

const MESSAGE_STATUS: Record<string, MessageStatus> = { pending: 'queued', sent: 'sent', dead: 'failed' };

function eventOf(payload: unknown): string | null {
  try {
    const event = (JSON.parse(payload as string) as { event?: unknown }).event;
    return typeof event === 'string' ? event : null;
  } catch {
    return null;
  }
}

export function toMessageRecord(r: Row): MessageRecord {
  const status = MESSAGE_STATUS[r.status as string] ?? 'queued';
  const doneAt = (r.done_at as number | null) ?? null;
  return {
    id: r.id as number,
    channel: r.channel as string,
    event: eventOf(r.payload),
    status,
    attempts: r.attempts as number,
    createdAt: r.created_at as number,
    sentAt: status === 'sent' ? doneAt : null,
    failedAt: status === 'failed' ? doneAt : null,
    nextAttemptAt: status === 'queued' ? ((r.next_attempt_at as number | null) ?? null) : null,
    lastError: boundedText((r.last_error as string | null) ?? null),
  };
}

export function toHookCall(r: Row): HookCallRecord {
  return {
    id: r.id as number,
    hook: r.hook as string,
    phase: r.phase as HookCallRecord['phase'],
    taskName: (r.task_name as string | null) ?? null,
    method: r.method as string,
    callId: r.call_id as string,
    outcome: r.outcome as HookCallRecord['outcome'],
    httpStatus: (r.http_status as number | null) ?? null,
    attempts: r.attempts as number,
    startedAt: r.started_at as number,
    finishedAt: r.finished_at as number,
    output: (r.output as string | null) ?? null,
  };
}

/** The most recent `ACTIVITY_LIMIT` rows of `table` about the notification, oldest first. */
function recent(table: string, uuid: string): Statement {
  return {
    sql: `SELECT * FROM (SELECT * FROM ${table} WHERE notification_uuid = ? ORDER BY id DESC LIMIT ?) AS recent ORDER BY id`,
    params: [uuid, ACTIVITY_LIMIT],
  };
}

export const activityMessages = (uuid: string): Statement => recent('outbox', uuid);
export const activityHookCalls = (uuid: string): Statement => recent('hook_calls', uuid);

/** Record a hook call: identifiers cut, output masked and cut, numbers as integers. */
export function hookCallInsert(c: HookCallInput): Statement {
  const int = (n: number | null) => (n === null || !Number.isFinite(n) ? null : Math.trunc(n));
  return {
    sql: `INSERT INTO hook_calls (notification_uuid, hook, phase, task_name, method, call_id, outcome, http_status, attempts, started_at, finished_at, output)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    params: [
      name(c.notificationUuid),
      name(c.hook),
      c.phase,
      name(c.taskName),
      name(c.method),
      name(c.callId),
      c.outcome,
      int(c.httpStatus),
      int(c.attempts) ?? 0,
      int(c.startedAt) ?? 0,
      int(c.finishedAt) ?? 0,
      boundedText(c.output),
    ],
  };
}
