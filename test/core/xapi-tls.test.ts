import t from 'tap';
import { TlsPinError } from '../../core/errors.js';
import { Secret } from '../../core/config/secret.js';
import { XapiClient } from '../../core/xapi/client.js';
import { startSim } from '../helpers/sim.js';
import { selfSignedCert } from '../helpers/tls.js';

const tls = selfSignedCert();
const sim = await startSim({ tls: { cert: tls.cert, key: tls.key } });
t.teardown(() => sim.stop());

const login = async (opts: ConstructorParameters<typeof XapiClient>[0]['tls']) => {
  const c = new XapiClient({ url: sim.url, username: 'root', password: new Secret('simulated'), tls: opts, callTimeoutMs: 3000 });
  try {
    await c.login();
    return 'ok';
  } catch (err) {
    return err;
  } finally {
    await c.logout();
  }
};

t.match(sim.url, /^https:/);

t.test('a self-signed certificate is refused by default', async (t) => {
  const err = await login({});
  t.not(err, 'ok');
  t.match(String((err as Error).message), /SELF_SIGNED|certificate/i);
});

t.test('pinning the SHA-256 fingerprint accepts exactly that certificate', async (t) => {
  t.equal(await login({ fingerprint: tls.fingerprint }), 'ok', 'with colons');
  t.equal(await login({ fingerprint: tls.fingerprint.replace(/:/g, '').toLowerCase() }), 'ok', 'bare lowercase hex');
  const other = selfSignedCert();
  const err = await login({ fingerprint: other.fingerprint });
  t.type(err, TlsPinError);
  t.equal((err as TlsPinError).actual, tls.fingerprint.replace(/:/g, ''));
});

t.test('a CA file that holds the certificate is trusted (hostname checked)', async (t) => {
  const err = await login({ ca: tls.cert });
  // The certificate's CN is "xcp-host", not the loopback address: verification must fail on the name.
  t.match(String((err as Error).message), /ALTNAME/);
  const address = `127.99.${process.pid % 250}.2`;
  const named = selfSignedCert('xcp-host', address);
  const sim2 = await startSim({ firstAddress: address, tls: { cert: named.cert, key: named.key } });
  const c = new XapiClient({ url: sim2.url, username: 'root', password: new Secret('simulated'), tls: { ca: named.cert } });
  await t.resolves(c.login());
  await c.logout();
  await sim2.stop();
});

t.test('insecure: true accepts anything, only when asked', async (t) => {
  t.equal(await login({ insecure: true }), 'ok');
});
