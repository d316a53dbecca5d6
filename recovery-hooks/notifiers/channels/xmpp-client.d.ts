// Types for the part of @xmpp/client 0.14 we use (the package ships none). Checked against its sources:
// client-core (Client, Connection), stream-management, iq/caller, reconnect, ltx (Element).
declare module '@xmpp/client' {
  import type { EventEmitter } from 'node:events';

  export interface Element {
    name: string;
    attrs: Record<string, string>;
    children: (Element | string)[];
    is(name: string, xmlns?: string): boolean;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    getText(): string;
    toString(): string;
  }

  type Child = Element | string | undefined | null | false;
  export function xml(name: string, attrs?: Record<string, string | undefined> | null, ...children: Child[]): Element;

  export interface StreamManagement extends EventEmitter {
    /** XEP-0198 is on for this stream (the server answered <enabled/>). */
    enabled: boolean;
    /** Stanzas sent and not yet acknowledged; 'ack' and 'fail' are emitted with these same objects. */
    outbound_q: { stanza: Element; stamp: string }[];
  }

  export interface Reconnect extends EventEmitter {
    delay: number;
    start(): void;
    stop(): void;
  }

  export interface IqCaller {
    request(stanza: Element, timeoutMs?: number): Promise<Element>;
  }

  export type Authenticate = (credentials: { username: string; password: string }, mechanism: string, userAgent?: Element) => Promise<void>;

  export interface ClientOptions {
    service: string;
    domain?: string;
    resource?: string;
    username?: string;
    password?: string;
    /** Called with the offered SASL mechanisms; decides how (and whether) to authenticate. */
    credentials?: (authenticate: Authenticate, mechanisms: string[], fast: unknown, entity: Client) => Promise<void>;
    /** Deadline of stream open/close steps (ms, default 2000). */
    timeout?: number;
  }

  export interface Client extends EventEmitter {
    /** offline, connecting, connect, opening, open, online, closing, close, disconnecting, disconnect */
    status: string;
    options: ClientOptions & { domain: string };
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    send(stanza: Element): Promise<void>;
    isSecure(): boolean;
    /** Options for the socket's connect(); overridable per client (TLS options for xmpps://). */
    socketParameters(service: string): Record<string, unknown> | undefined;
    reconnect: Reconnect;
    iqCaller: IqCaller;
    streamManagement: StreamManagement;
  }

  export function client(options: ClientOptions): Client;
}
