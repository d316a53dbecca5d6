// What the five dashboards share: variables (datasource → pool → host → VM, chained through info metrics), label
// selectors, links between dashboards, and the dashboard envelope.
import { DATASOURCE, type Dashboard, type DashboardLink, type DataLink, SCHEMA_VERSION, type Variable } from '../lib/model.js';
import { type PanelCheck, type RowSpec, layout } from '../lib/panels.js';

export const TAG = 'xcp-sentinel';

export const UID = {
  pools: 'xcp-pools',
  host: 'xcp-host',
  vm: 'xcp-vm',
  hardware: 'xcp-hardware',
  recovery: 'xcp-recovery',
} as const;

/**
 * Selectors spliced into every query. Multi-value variables use `=~` (Grafana joins the regex-escaped values as
 * `(a|b)`, All is `.*`); single-value variables use `=`, because Grafana does not regex-escape them and names like
 * "web (prod)" would not match a regex.
 */
export const POOL = 'pool_name=~"$pool"';
export const HOST = `${POOL}, host_name=~"$host"`;
export const ONE_HOST = `${POOL}, host_name="$host"`;
export const VM = `${POOL}, vm_name="$vm"`;
/** Guests only: the RRD series of control domains (dom0) carry is_control_domain="true". */
export const GUEST = 'is_control_domain="false"';

export const datasourceVar: Variable = {
  name: 'datasource',
  label: 'Data source',
  description: 'The Prometheus that scrapes the xcp-sentinel exporter (and the recovery hook).',
  type: 'datasource',
  query: 'prometheus',
  hide: 0,
  refresh: 1,
  regex: '',
  current: {},
  options: [],
};

function queryVar(name: string, label: string, description: string, query: string, o: { multi: boolean; all: boolean }): Variable {
  return {
    name,
    label,
    description,
    type: 'query',
    datasource: DATASOURCE,
    query: { query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    definition: query,
    hide: 0,
    refresh: 2,
    regex: '',
    sort: 1,
    multi: o.multi,
    includeAll: o.all,
    ...(o.all ? { allValue: '.*' } : {}),
    current: {},
    options: [],
  };
}

export const poolVar = queryVar('pool', 'Pool', 'Pools known to the exporter (its config names them).', 'label_values(xcp_pool_connected, pool_name)', {
  multi: true,
  all: true,
});

export function hostVar(o: { multi: boolean }): Variable {
  return queryVar('host', 'Host', 'Hosts of the selected pools.', 'label_values(xcp_host_info{pool_name=~"$pool"}, host_name)', {
    multi: o.multi,
    all: o.multi,
  });
}

/** XAPI tags of the guests (the `tags` label: sorted, comma-joined tag sets, as Xen Orchestra writes it); on
 * xcp_vm_info whatever `exporter.labels.tags` says, except `none`. All includes untagged VMs. */
export const vmTagVar = queryVar(
  'tag',
  'Tags',
  "XAPI tags of the guest VMs (each value is a VM's whole tag set, sorted and comma-joined); narrows the VM list.",
  'label_values(xcp_vm_info{pool_name=~"$pool", host_name=~"$host", is_control_domain="false"}, tags)',
  { multi: true, all: true },
);

export const vmVar = queryVar(
  'vm',
  'VM',
  'Guest VMs of the selected pools, hosts and tags (halted VMs have no host and are listed when Host is All).',
  'label_values(xcp_vm_info{pool_name=~"$pool", host_name=~"$host", is_control_domain="false", tags=~"$tag"}, vm_name)',
  { multi: false, all: false },
);

/** The recovery hook's web UI (xcp_recovery_ui_info{url}): panels link its notification pages. Hidden. */
export const recoveryUiVar: Variable = {
  ...queryVar(
    'ui_url',
    'Recovery UI',
    "Base URL of the recovery hook's web UI (recovery_hook.ui.external_url), read from xcp_recovery_ui_info.",
    'label_values(xcp_recovery_ui_info{instance=~"$instance"}, url)',
    {
      multi: false,
      all: false,
    },
  ),
  hide: 2,
};

export const recoveryInstanceVar = queryVar(
  'instance',
  'Recovery hook',
  'Recovery hook instances scraped by Prometheus (the instance label of its /metrics target).',
  'label_values(xcp_recovery_notifications, instance)',
  { multi: true, all: true },
);

const TIME = '${__url_time_range}';
const DS = '${datasource:queryparam}';

/** Data link to the host dashboard from a series or value that carries pool_name and host_name labels. */
export const toHost: DataLink = {
  title: 'Host details',
  url: `/d/${UID.host}?${DS}&var-pool=\${__field.labels.pool_name}&var-host=\${__field.labels.host_name}&${TIME}`,
};

/** Data link to the VM dashboard from a series that carries pool_name and vm_name labels. */
export const toVm: DataLink = {
  title: 'VM details',
  url: `/d/${UID.vm}?${DS}&var-pool=\${__field.labels.pool_name}&var-host=$__all&var-tag=$__all&var-vm=\${__field.labels.vm_name}&${TIME}`,
};

/** Table cell links: the cell holds the host (or VM) name; the pool comes from the current selection. */
export const hostCell: DataLink = { title: 'Host details', url: `/d/${UID.host}?${DS}&\${pool:queryparam}&var-host=\${__value.raw}&${TIME}` };
export const vmCell: DataLink = {
  title: 'VM details',
  url: `/d/${UID.vm}?${DS}&\${pool:queryparam}&var-host=$__all&var-tag=$__all&var-vm=\${__value.raw}&${TIME}`,
};
export const hardwareCell: DataLink = { title: 'Hardware of this host', url: `/d/${UID.hardware}?${DS}&\${pool:queryparam}&var-host=\${__value.raw}&${TIME}` };

const links: DashboardLink[] = [
  { title: 'xcp-sentinel dashboards', type: 'dashboards', tags: [TAG], asDropdown: true, includeVars: true, keepTime: true, icon: 'external link' },
];

export interface BuiltDashboard {
  /** File name under grafana/dashboards/. */
  file: string;
  model: Dashboard;
  checks: PanelCheck[];
}

export function dashboard(o: {
  file: string;
  uid: string;
  title: string;
  description: string;
  tags: string[];
  variables: Variable[];
  rows: RowSpec[];
  time?: string;
  /** Links of this dashboard, after the ones to the other dashboards. */
  links?: DashboardLink[];
}): BuiltDashboard {
  const { panels, checks } = layout(o.rows);
  return {
    file: o.file,
    checks,
    model: {
      uid: o.uid,
      title: o.title,
      description: o.description,
      tags: [TAG, ...o.tags],
      editable: true,
      graphTooltip: 1,
      timezone: 'browser',
      schemaVersion: SCHEMA_VERSION,
      version: 1,
      time: { from: o.time ?? 'now-3h', to: 'now' },
      refresh: '1m',
      fiscalYearStartMonth: 0,
      liveNow: false,
      weekStart: '',
      timepicker: { refresh_intervals: ['30s', '1m', '5m', '15m', '1h'] },
      annotations: {
        list: [
          {
            builtIn: 1,
            datasource: { type: 'grafana', uid: '-- Grafana --' },
            enable: true,
            hide: true,
            iconColor: 'rgba(0, 211, 255, 1)',
            name: 'Annotations & Alerts',
            type: 'dashboard',
          },
        ],
      },
      links: [...links, ...(o.links ?? [])],
      templating: { list: o.variables },
      panels,
    },
  };
}
