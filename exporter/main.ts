// Start the exporter: collectors for every pool and the HTTP(S) listener.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ExporterBundleConfig } from './config.js';
import { formatListen } from '../core/config/listen.js';
import type { Logger } from '../core/log.js';
import { Exporter } from './exporter.js';
import { exporterHandler } from './server.js';

export interface RunningExporter {
  url: string;
  exporter: Exporter;
  stop(): Promise<void>;
}

export async function startExporter(config: ExporterBundleConfig, logger: Logger): Promise<RunningExporter> {
  const exporter = new Exporter(config, logger);
  const handler = exporterHandler(exporter, logger, config.exporter.token);
  const { tls, listen } = config.exporter;
  const server = tls ? https.createServer({ cert: readFileSync(tls.cert_file), key: readFileSync(tls.key_file) }, handler) : http.createServer(handler);
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const url = `${tls ? 'https' : 'http'}://${formatListen({ host: listen.host === '0.0.0.0' ? '127.0.0.1' : listen.host, port })}`;
  exporter.start();
  logger.info('exporter listening', { url, pools: config.pools.map((p) => p.name), poll_interval_seconds: config.exporter.poll_interval_seconds });
  return {
    url,
    exporter,
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await exporter.stop();
      logger.info('exporter stopped');
    },
  };
}
