// The plugins every XCP-ng host ships in /etc/xapi.d/plugins that the bundle calls, answering like the real ones.
//
//   echo main  → "args were: {'k': 'v'}" — xapi's scripts/plugins/echo returns `"args were: %s" % repr(args)`; an
//                optional "sleep" argument (seconds) delays the answer, as the real plugin does. The recovery hooks
//                use it as a side-effect-free "does XAPI on this host answer?" probe: host.call_plugin is forwarded
//                by the master to the host, so a host whose toolstack is down answers no plugin at all.
//   anything else → UNKNOWN_XENAPI_PLUGIN_FUNCTION [fn], like XenAPIPlugin.dispatch.
import { XapiError } from '../../core/errors.js';
import type { PluginHandler } from './dispatch.js';

/** Python's repr() of a str (Python 3): single quotes unless the text has a single quote and no double quote. */
export function pyRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return quote + out + quote;
}

/** repr() of the plugin's args dict (a str → str map, in the order XAPI passed them). */
export function pyDictRepr(args: Record<string, string>): string {
  return `{${Object.entries(args)
    .map(([k, v]) => `${pyRepr(String(k))}: ${pyRepr(String(v))}`)
    .join(', ')}}`;
}

const echo: PluginHandler = async (_host, fn, args) => {
  if (fn !== 'main') throw new XapiError('UNKNOWN_XENAPI_PLUGIN_FUNCTION', [fn], 'host.call_plugin');
  if (args.sleep !== undefined) {
    const seconds = Number.parseInt(args.sleep, 10);
    // int("x") raises in the real plugin: a plugin failure carrying the Python exception.
    if (Number.isNaN(seconds))
      throw new XapiError('XENAPI_PLUGIN_FAILURE', ['ValueError', '', `invalid literal for int() with base 10: ${pyRepr(args.sleep)}`], 'host.call_plugin');
    if (seconds > 0) await new Promise((r) => setTimeout(r, seconds * 1000));
  }
  return `args were: ${pyDictRepr(args)}`;
};

/** The stock plugins, for startSimulation's `plugins`. */
export function stockPlugins(): Map<string, PluginHandler> {
  return new Map([['echo', echo]]);
}
