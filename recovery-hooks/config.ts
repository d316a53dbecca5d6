// The `recovery_hook:` section of the config.
import type { SchemaContext } from '../core/config/bundle.js';
import { type ListenAddress, listenAddress } from '../core/config/listen.js';
import { type Schema, obj, withDefault } from '../core/config/schema.js';

export interface RecoveryHookConfig {
  listen: ListenAddress;
}

export function recoveryHookSchema(_sc: SchemaContext): Schema<RecoveryHookConfig> {
  // 15868 is Masakari's API port; the receiver answers the same API.
  return withDefault(obj({ listen: withDefault(listenAddress(), { host: '127.0.0.1', port: 15868 }) }), {
    listen: { host: '127.0.0.1', port: 15868 },
  });
}
