// XMPP with @xmpp/client: one long-lived connection (its reconnect module brings it back after a drop), chat messages
// to each recipient and, when configured, a groupchat message to a multi-user chat room.
//
// A message counts as sent only when the server took it:
//  - with XEP-0198 stream management (Prosody, ejabberd, Openfire offer it): when the server acknowledges each
//    stanza. After a drop, the library resumes the stream and re-sends what was not acknowledged; if it cannot
//    resume, it reports the stanzas as failed and the outbox retries them. So a drop never turns into a duplicate.
//    When no ack comes within the send timeout, the attempt fails but the stanza stays in the library's queue: the
//    outbox's next attempt waits for that stanza's ack (or sends a new one only if the library gave it up), so a late
//    ack does not turn into a second message either.
//  - without it: a ping iq (XEP-0199) sent after the messages. A server handles a stream's stanzas in order, so any
//    answer to the ping (even an error from a server without ping) proves the messages before it were received. When
//    the answer comes too late, the next attempt on the same connection pings again instead of sending the message
//    again; only after the connection dropped is the message sent anew (the server may then see it twice).
//
// Unlike XO's transport, credentials are never sent over an unencrypted stream unless `require_tls: false`.
import { randomUUID } from 'node:crypto';
import { type Authenticate, type Client, type Element, client, xml } from '@xmpp/client';
import type { Logger } from '../../../core/log.js';
import type { XmppChannelConfig } from '../config.js';
import type { RenderedMessage } from '../render.js';
import type { Channel } from './channel.js';
import { describeError } from '../../../core/errors.js';

const NS_SM = 'urn:xmpp:sm:3';
const NS_MUC = 'http://jabber.org/protocol/muc';
const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
const NS_MUC_OWNER = 'http://jabber.org/protocol/muc#owner';
// Characters XML 1.0 forbids: one of them in a body would make the server close the stream.
const XML_INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

class InsecureStreamError extends Error {
  override name = 'InsecureStreamError';
}

/** At most this many messages with a timed-out attempt are remembered for their next attempt (oldest forgotten). */
const UNCONFIRMED_MAX = 1000;

const bare = (jid: string | undefined) => (jid ?? '').split('/')[0]!.toLowerCase();

export class XmppChannel implements Channel {
  readonly name: string;
  readonly #xmpp: Client;
  readonly #userAgent = xml('user-agent', { id: randomUUID() }, xml('software', {}, 'xcp-sentinel'));
  /** A stop in progress (after an authentication failure, or close): never two at once. */
  #stopping: Promise<void> | undefined;
  #joined: Promise<void> | undefined;
  #lastError = '';
  #closed = false;
  /** By message key, the stanzas of an attempt that timed out while stream management still queued one of them. */
  readonly #unconfirmed = new Map<string, Element[]>();
  /** Every stanza the server acknowledged (weakly held: forgotten with the stanza). */
  readonly #acked = new WeakSet<Element>();
  /** The connection each stanza was written on: a ping answered on that same connection proves the server read it. */
  readonly #sentOn = new WeakMap<Element, number>();
  /** Counts the connections lost. */
  #connection = 0;

  constructor(
    private readonly config: XmppChannelConfig,
    private readonly logger: Logger,
  ) {
    this.name = config.name;
    this.#xmpp = client({
      service: config.service,
      domain: config.domain,
      resource: config.resource,
      credentials: (authenticate, mechanisms, _fast, entity) => this.#authenticate(authenticate, mechanisms, entity),
      timeout: Math.min(config.delivery.timeoutMs, 10_000),
    });
    this.#xmpp.reconnect.delay = config.reconnectMs;
    if (config.service.startsWith('xmpps:')) this.#directTls();

    this.#xmpp.on('error', (err: Error) => this.#onError(err));
    this.#xmpp.on('online', () => {
      // A new session (not a resumed one): the room must be joined again.
      this.#joined = undefined;
      this.#lastError = '';
      this.logger.info('XMPP connected', { channel: this.name, jid: config.jid });
    });
    this.#xmpp.on('stanza', (st: Element) => this.#onStanza(st));
    this.#xmpp.streamManagement.on('ack', (st: Element) => this.#acked.add(st));
    this.#xmpp.on('nonza', (el: Element) => this.#onNonza(el));
    this.#xmpp.on('disconnect', () => this.#connection++);
    this.#start();
  }

  /** Direct TLS (xmpps://): @xmpp/client opens it with tls.connect(socketParameters), so the CA options go there. */
  #directTls(): void {
    const base = this.#xmpp.socketParameters.bind(this.#xmpp);
    const { ca, insecure } = this.config.tls;
    this.#xmpp.socketParameters = (service) => {
      const params = base(service);
      return params && { ...params, servername: this.config.domain, ca, rejectUnauthorized: !insecure, minVersion: 'TLSv1.2' };
    };
  }

  async #authenticate(authenticate: Authenticate, mechanisms: string[], entity: Client): Promise<void> {
    const secure = entity.isSecure();
    if (!secure && this.config.requireTls)
      throw new InsecureStreamError(`${this.config.service} offers no TLS: credentials not sent (require_tls is on; use xmpps:// or a server with STARTTLS)`);
    // Over an unencrypted stream (allowed explicitly), prefer a mechanism that does not send the password itself.
    const mechanism = secure ? mechanisms[0] : (mechanisms.find((m) => m !== 'PLAIN') ?? mechanisms[0]);
    if (!mechanism) throw new Error('the server offers no SASL mechanism we support');
    await authenticate({ username: this.config.jid.split('@')[0]!, password: this.config.password.reveal() }, mechanism, this.#userAgent);
  }

  /**
   * 'online' comes after resource binding, before the server's <enabled/>: a message sent in between is queued by
   * stream management, whose own ack request (250 ms after a send) does nothing while it is not yet enabled, and which
   * asks next only at its periodic request (requestAckInterval, 30 s). Ask for the ack as soon as it is enabled.
   */
  #onNonza(el: Element): void {
    if (!el.is('enabled', NS_SM) || this.#xmpp.streamManagement.outbound_q.length === 0) return;
    this.#xmpp.send(xml('r', { xmlns: NS_SM })).catch(() => {});
  }

  #onError(err: Error): void {
    const message = err.name === 'SASLError' ? `authentication as ${this.config.jid} failed: ${err.message}` : describeError(err);
    if (message !== this.#lastError) this.logger.warn('XMPP connection problem', { channel: this.name, service: this.config.service, error: message });
    this.#lastError = message;
    // Retrying bad credentials every few seconds only fills the server's log: go offline, the next send tries again.
    if (err.name === 'SASLError' || err instanceof InsecureStreamError) void this.#stop();
  }

  #stop(): Promise<void> {
    this.#xmpp.reconnect.stop();
    this.#stopping ??= this.#xmpp
      .stop()
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => (this.#stopping = undefined));
    return this.#stopping;
  }

  #onStanza(st: Element): void {
    // A message that bounced (unknown recipient, not allowed in the room): the server took it, so it is not retried.
    if (st.is('message') && st.attrs.type === 'error' && st.attrs.id?.startsWith('xcp-sentinel.')) {
      const condition = st.getChild('error')?.children.find((c): c is Element => typeof c !== 'string')?.name ?? 'unknown';
      this.logger.warn('XMPP message bounced', { channel: this.name, to: st.attrs.from, id: st.attrs.id, condition });
    }
  }

  #start(): void {
    // start() leaves 'offline' at once (it sets 'connecting' before its first await), so this never runs twice.
    if (this.#closed || this.#xmpp.status !== 'offline') return;
    // stop() first: start() adds its listener again each time.
    this.#xmpp.reconnect.stop();
    this.#xmpp.reconnect.start();
    // Failures arrive through the 'error' event; after a refused connection the reconnect module keeps trying.
    this.#xmpp.start().catch(() => undefined);
  }

  /** Resolve once online; reject with the connection's error, or after `timeoutMs`. */
  async #online(timeoutMs: number): Promise<void> {
    if (this.#xmpp.status === 'online') return;
    if (this.#stopping) await this.#stopping;
    this.#start();
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.#xmpp.off('online', onOnline);
        this.#xmpp.off('error', onError);
        if (err) reject(err);
        else resolve();
      };
      const onOnline = () => done();
      const onError = (err: Error) =>
        done(
          new Error(
            `XMPP ${this.config.service}: not connected: ${err.name === 'SASLError' ? `authentication as ${this.config.jid} failed: ${err.message}` : describeError(err)}`,
          ),
        );
      const timer = setTimeout(
        () => done(new Error(`XMPP ${this.config.service}: not connected after ${timeoutMs / 1000} s${this.#lastError ? ` (${this.#lastError})` : ''}`)),
        timeoutMs,
      );
      this.#xmpp.on('online', onOnline);
      this.#xmpp.on('error', onError);
    });
  }

  /** Enter the room (once per session); a room our join creates is configured as an instant room (XEP-0045 §10.1.2). */
  #joinRoom(timeoutMs: number): Promise<void> {
    const room = this.config.room!;
    this.#joined ??= (async () => {
      const self = `${room.jid}/${room.nick}`;
      const answer = this.#nextStanza(
        (st) => st.is('presence') && bare(st.attrs.from) === room.jid.toLowerCase() && (st.attrs.type === 'error' || st.attrs.from === self),
        timeoutMs,
      );
      await this.#xmpp.send(xml('presence', { to: self }, xml('x', { xmlns: NS_MUC }, xml('history', { maxstanzas: '0' }))));
      const presence = await answer;
      if (presence.attrs.type === 'error') {
        const condition = presence.getChild('error')?.children.find((c): c is Element => typeof c !== 'string')?.name ?? 'unknown';
        throw new Error(`cannot join room ${room.jid} as ${room.nick}: ${condition}`);
      }
      const created = presence
        .getChild('x', NS_MUC_USER)
        ?.getChildren('status')
        .some((s) => s.attrs.code === '201');
      if (created)
        await this.#xmpp.iqCaller.request(
          xml('iq', { type: 'set', to: room.jid }, xml('query', { xmlns: NS_MUC_OWNER }, xml('x', { xmlns: 'jabber:x:data', type: 'submit' }))),
          timeoutMs,
        );
    })().catch((err: unknown) => {
      this.#joined = undefined;
      throw err;
    });
    return this.#joined;
  }

  #nextStanza(match: (st: Element) => boolean, timeoutMs: number): Promise<Element> {
    return new Promise((resolve, reject) => {
      const onStanza = (st: Element) => {
        if (!match(st)) return;
        clearTimeout(timer);
        this.#xmpp.off('stanza', onStanza);
        resolve(st);
      };
      const timer = setTimeout(() => {
        this.#xmpp.off('stanza', onStanza);
        reject(new Error(`no answer from the XMPP server within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.#xmpp.on('stanza', onStanza);
    });
  }

  async send(m: RenderedMessage): Promise<void> {
    const deadline = Date.now() + this.config.delivery.timeoutMs;
    const left = () => Math.max(1, deadline - Date.now());
    const body = m.chat.replace(XML_INVALID, '');
    const stanza = (to: string, type: 'chat' | 'groupchat', i: number) =>
      xml(
        'message',
        { to, type, id: `${m.key}.${i}` },
        xml('body', {}, body),
        // XEP-0359: the same origin id on every attempt lets archives and clients drop a repeat.
        xml('origin-id', { xmlns: 'urn:xmpp:sid:0', id: `${m.key}.${i}` }),
      );
    // A stanza of an earlier attempt is kept while the server acknowledged it (not sent again), stream management
    // still queues it (its ack may come yet: waited for, not sent twice) or it went out on this same connection (a
    // ping confirms it); otherwise a new one is sent.
    const earlier = this.#unconfirmed.get(m.key);
    this.#unconfirmed.delete(m.key);
    const reuse = (i: number) => {
      const prev = earlier?.[i];
      return prev && (this.#acked.has(prev) || this.#pending(prev)) ? prev : undefined;
    };
    const stanzas: Element[] = [];
    try {
      await this.#online(left());
      for (const [i, to] of this.config.to.entries()) stanzas.push(reuse(i) ?? stanza(to, 'chat', i));
      if (this.config.room) {
        await this.#joinRoom(left());
        stanzas.push(reuse(stanzas.length) ?? stanza(this.config.room.jid, 'groupchat', stanzas.length));
      }
      await this.#deliver(
        stanzas.filter((st) => !this.#acked.has(st)),
        left(),
      );
    } catch (err) {
      // Slots this attempt did not reach (not connected, room not joined) keep the earlier attempt's stanza.
      earlier?.forEach((prev, i) => {
        stanzas[i] ??= prev;
      });
      this.#remember(m.key, stanzas);
      throw err instanceof Error && err.message.startsWith('XMPP ') ? err : new Error(`XMPP ${this.config.service}: ${describeError(err)}`, { cause: err });
    }
  }

  #queued(st: Element): boolean {
    return this.#xmpp.streamManagement.outbound_q.some((q) => q.stanza === st);
  }

  /** Written and not known to be lost: queued by stream management, or sent on the current connection. */
  #pending(st: Element): boolean {
    return this.#queued(st) || this.#sentOn.get(st) === this.#connection;
  }

  /** Keep a failed attempt's stanzas for the next one when the server may have read or may yet get one of them. */
  #remember(key: string, stanzas: Element[]): void {
    if (!stanzas.some((st) => !this.#acked.has(st) && this.#pending(st))) return;
    this.#unconfirmed.set(key, stanzas);
    if (this.#unconfirmed.size > UNCONFIRMED_MAX) this.#unconfirmed.delete(this.#unconfirmed.keys().next().value!);
  }

  /**
   * Send the stanzas not already pending (queued by stream management, or written on this connection); resolve when
   * the server acknowledged each (stream management) or answered a ping after them.
   */
  async #deliver(stanzas: Element[], timeoutMs: number): Promise<void> {
    const sm = this.#xmpp.streamManagement;
    const acked = this.#acked;
    let failure: Error | undefined;
    let check = () => {};
    const ours = new Set(stanzas);
    // Listen before sending: an ack can arrive between two sends (the constructor's listener records it first).
    const onAck = () => check();
    const onFail = (st: Element) => {
      if (ours.has(st)) failure ??= new Error('the stream was lost before the server acknowledged the message, and could not be resumed');
      check();
    };
    sm.on('ack', onAck);
    sm.on('fail', onFail);
    let timer: NodeJS.Timeout | undefined;
    try {
      for (const st of stanzas) {
        if (this.#pending(st)) continue;
        const connection = this.#connection;
        await this.#xmpp.send(st);
        this.#sentOn.set(st, connection);
      }
      // Stream management tracks a stanza once it is enabled (or being enabled) for the stream; the rest need a ping.
      const tracked = stanzas.filter((st) => acked.has(st) || this.#queued(st));
      const acks = new Promise<void>((resolve, reject) => {
        check = () => (failure ? reject(failure) : tracked.every((st) => acked.has(st)) ? resolve() : undefined);
        check();
      });
      const timeout = new Promise<never>((_r, reject) => {
        timer = setTimeout(() => reject(new Error(`the server did not acknowledge the message within ${timeoutMs / 1000} s`)), timeoutMs);
      });
      await Promise.race([Promise.all([acks, tracked.length < stanzas.length ? this.#ping(timeoutMs) : undefined]), timeout]);
    } finally {
      clearTimeout(timer);
      sm.off('ack', onAck);
      sm.off('fail', onFail);
    }
  }

  async #ping(timeoutMs: number): Promise<void> {
    const iq = xml('iq', { type: 'get', to: this.config.domain }, xml('ping', { xmlns: 'urn:xmpp:ping' }));
    try {
      await this.#xmpp.iqCaller.request(iq, timeoutMs);
    } catch (err) {
      // An error answer is still an answer: the server has read everything sent before the ping.
      if ((err as Error).name !== 'StanzaError') throw err;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#xmpp.status === 'offline' && !this.#stopping) return;
    await Promise.race([this.#stop(), new Promise((r) => setTimeout(r, 3000).unref())]);
  }
}
