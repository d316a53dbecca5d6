// A throwaway self-signed certificate made with the system's openssl, like the ones XCP-ng hosts ship.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './tmp.js';

export function selfSignedCert(cn = 'xcp-host', ipSan?: string): { cert: string; key: string; fingerprint: string; dir: string; certFile: string } {
  const dir = tempDir('xcp-tls-');
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      keyFile,
      '-out',
      certFile,
      ...(ipSan ? ['-addext', `subjectAltName=IP:${ipSan}`] : []),
    ],
    { stdio: 'ignore' },
  );
  const cert = readFileSync(certFile, 'utf8');
  return { cert, key: readFileSync(keyFile, 'utf8'), fingerprint: new X509Certificate(cert).fingerprint256, dir, certFile };
}
