// xcp_recovery_ui_info{url}: where the web UI is, so the Grafana recovery dashboard can link its pages (its `ui_url`
// variable reads this label) without being configured separately.
import { Gauge, type Registry } from 'prom-client';

export function registerUiInfo(registry: Registry, url: string): void {
  const info = new Gauge({
    name: 'xcp_recovery_ui_info',
    help: 'The notifications web UI of this recovery hook: its base URL (recovery_hook.ui.external_url, else the listen address).',
    labelNames: ['url'],
    registers: [registry],
  });
  info.set({ url }, 1);
}
