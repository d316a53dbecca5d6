// The `exporter:` section of the config.
import type { SchemaContext } from '../core/config/bundle.js';
import { type ListenAddress, listenAddress } from '../core/config/listen.js';
import { type Schema, num, obj, withDefault } from '../core/config/schema.js';

export interface ExporterConfig {
  listen: ListenAddress;
  poll_interval_seconds: number;
}

export function exporterSchema(_sc: SchemaContext): Schema<ExporterConfig> {
  return withDefault(
    obj({
      listen: withDefault(listenAddress(), { host: '127.0.0.1', port: 9100 }),
      poll_interval_seconds: withDefault(num({ min: 5, max: 3600 }), 30),
    }),
    { listen: { host: '127.0.0.1', port: 9100 }, poll_interval_seconds: 30 },
  );
}
