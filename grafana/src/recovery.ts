// Recovery: what the recovery hook received (Alertmanager webhooks, Masakari notifications), what its workflows
// did and how long they took, which recoveries failed, and whether its messages (email, chat) went out.
import { BLUE, GREEN, RED, YELLOW, steps } from '../lib/panels.js';
import { type BuiltDashboard, UID, dashboard, datasourceVar, recoveryInstanceVar, recoveryUiVar } from './common.js';

const SEL = 'instance=~"$instance"';
const RATE = '$__rate_interval';
/** 0 instead of "no data" when the receiver is scraped but the counter has no such label set yet. */
const orZero = `0 * sum(xcp_recovery_notifications{${SEL}})`;

/**
 * increase() over `window` that also counts label sets born inside the window. The receiver's counters create a
 * label set at its first increment (value 1), and increase() never counts a series' first sample: the first failed
 * recovery of a kind would otherwise never show. Series older than the window: increase(); series born in it: their
 * whole value.
 */
export function increaseInclBirth(selector: string, window: string): string {
  const born = `(${selector} unless ${selector} offset ${window})`;
  return `((increase(${selector}[${window}]) unless ${born}) or ${born})`;
}

export function recoveryDashboard(): BuiltDashboard {
  return dashboard({
    file: 'xcp-recovery.json',
    uid: UID.recovery,
    title: 'xcp-sentinel / Recovery',
    description: 'The recovery hook: notifications by type and status, workflow durations and outcomes, failed recoveries and message delivery.',
    tags: ['recovery'],
    variables: [datasourceVar, recoveryInstanceVar, recoveryUiVar],
    time: 'now-24h',
    links: [
      {
        title: 'Notifications (web UI)',
        type: 'link',
        url: '${ui_url}/ui/notifications',
        tags: [],
        asDropdown: false,
        includeVars: false,
        keepTime: false,
        icon: 'external link',
        targetBlank: true,
      },
    ],
    rows: [
      {
        title: 'Notifications',
        panels: [
          {
            kind: 'stat',
            title: 'Notifications by status',
            description: "Notifications in the recovery hook's store now, by status (new, running, error, failed, ignored, finished).",
            w: 12,
            h: 5,
            targets: [{ expr: `sum by (status) (xcp_recovery_notifications{${SEL}})`, legend: '{{status}}' }],
            thresholds: steps(BLUE),
            textMode: 'value_and_name',
            colorMode: 'value',
            links: [{ title: 'These notifications (web UI)', url: '${ui_url}/ui/notifications?status=${__field.labels.status}', targetBlank: true }],
            needs: 'recovery',
          },
          {
            kind: 'stat',
            title: 'Waiting for an operator',
            description:
              "Host recoveries waiting for a person, one value per host (0: none): the fence cannot be proven (fence_confirmation) or a blast-radius limit holds them. Nothing restarts until someone confirms; a host's value links to its recovery in the web UI.",
            w: 24,
            h: 4,
            targets: [{ expr: `sum by (pool_name, host_name, kind) (xcp_recovery_waiting_for_operator{${SEL}}) or on() vector(0)` }],
            decimals: 0,
            thresholds: steps(GREEN, [1, RED]),
            textMode: 'value_and_name',
            colorMode: 'background',
            links: [{ title: 'Recovery of this host (web UI)', url: '${ui_url}/ui/hosts/${__field.labels.host_name}/latest', targetBlank: true }],
            needs: 'recovery',
          },
          {
            kind: 'stat',
            title: 'Recovered',
            description: 'Notifications whose workflow finished successfully during the selected time range.',
            w: 4,
            h: 5,
            targets: [{ expr: `sum(${increaseInclBirth(`xcp_recovery_notifications_total{${SEL}, status="finished"}`, '$__range')}) or ${orZero}` }],
            decimals: 0,
            thresholds: steps(GREEN),
            needs: 'recovery',
          },
          {
            kind: 'stat',
            title: 'Failed recoveries',
            description: 'Notifications whose recovery failed for good (status failed, after the retries) during the selected time range: a human has to look.',
            w: 4,
            h: 5,
            targets: [{ expr: `sum(${increaseInclBirth(`xcp_recovery_notifications_total{${SEL}, status="failed"}`, '$__range')}) or ${orZero}` }],
            decimals: 0,
            thresholds: steps(GREEN, [1, RED]),
            needs: 'recovery',
          },
          {
            kind: 'stat',
            title: 'Undelivered messages',
            description: 'Messages to operators (email, chat, webhooks) given up after all retries during the selected time range.',
            w: 4,
            h: 5,
            targets: [{ expr: `sum(${increaseInclBirth(`xcp_recovery_messages_total{${SEL}, outcome="dead"}`, '$__range')}) or ${orZero}` }],
            decimals: 0,
            thresholds: steps(GREEN, [1, RED]),
            needs: 'recovery',
          },
          {
            kind: 'timeseries',
            title: 'Notification status changes by type',
            description: 'Status transitions per interval, by notification type (COMPUTE_HOST, COMPUTE_INSTANCE, COMPUTE_PROCESS) and new status.',
            w: 12,
            h: 8,
            targets: [
              { expr: `sum by (type, status) (${increaseInclBirth(`xcp_recovery_notifications_total{${SEL}}`, RATE)})`, legend: '{{type}} → {{status}}' },
            ],
            unit: 'short',
            min: 0,
            legendCalcs: ['max'],
            needs: 'recovery',
          },
          {
            kind: 'timeseries',
            title: 'Notifications in the store',
            description: 'Notifications held by the recovery hook, by current status. A growing "running" or "error" count means recoveries are stuck.',
            w: 12,
            h: 8,
            targets: [{ expr: `sum by (status) (xcp_recovery_notifications{${SEL}})`, legend: '{{status}}' }],
            unit: 'short',
            min: 0,
            stack: true,
            legendCalcs: ['lastNotNull'],
            needs: 'recovery',
          },
        ],
      },
      {
        title: 'Workflows',
        panels: [
          {
            kind: 'timeseries',
            title: 'Recovery duration',
            description:
              'Median and 95th percentile duration of the recovery workflows that ended in each interval, by notification type (from the workflow duration histogram).',
            w: 12,
            h: 8,
            targets: [
              {
                expr: `histogram_quantile(0.5, sum by (le, type) (${increaseInclBirth(`xcp_recovery_workflow_duration_seconds_bucket{${SEL}}`, RATE)}))`,
                legend: '{{type}} median',
              },
              {
                expr: `histogram_quantile(0.95, sum by (le, type) (${increaseInclBirth(`xcp_recovery_workflow_duration_seconds_bucket{${SEL}}`, RATE)}))`,
                legend: '{{type}} p95',
              },
            ],
            unit: 's',
            min: 0,
            legendCalcs: ['max'],
            needs: 'recovery',
          },
          {
            kind: 'table',
            title: 'Workflow outcomes',
            description: 'Workflow runs in the selected time range by notification type and the status they ended in, with their average duration.',
            w: 12,
            h: 8,
            targets: [
              { expr: `sum by (type, status) (${increaseInclBirth(`xcp_recovery_workflow_duration_seconds_count{${SEL}}`, '$__range')})` },
              {
                expr: `sum by (type, status) (${increaseInclBirth(`xcp_recovery_workflow_duration_seconds_sum{${SEL}}`, '$__range')}) / sum by (type, status) (${increaseInclBirth(`xcp_recovery_workflow_duration_seconds_count{${SEL}}`, '$__range')})`,
              },
            ],
            columns: [
              { field: 'type', title: 'Type' },
              { field: 'status', title: 'Ended in' },
              { field: 'Value #A', title: 'Runs', decimals: 0 },
              { field: 'Value #B', title: 'Average duration', unit: 's' },
            ],
            sortBy: { title: 'Runs', desc: true },
            needs: 'recovery',
          },
          {
            kind: 'table',
            title: 'Recovery errors and failures by type',
            description:
              'Transitions to error (the workflow failed and will be retried) and failed (retries exhausted) in the selected time range, by notification type. Empty is good.',
            w: 12,
            h: 7,
            targets: [
              {
                expr: `sum by (type, status) (${increaseInclBirth(`xcp_recovery_notifications_total{${SEL}, status=~"failed|error"}`, '$__range')}) > 0`,
                optional: 'only when a recovery failed in the time range',
              },
            ],
            columns: [
              { field: 'type', title: 'Type' },
              { field: 'status', title: 'Status' },
              { field: 'Value #A', title: 'Count', decimals: 0, thresholds: steps(RED), cell: 'color-text' },
            ],
            needs: 'recovery',
          },
          {
            kind: 'timeseries',
            title: 'Task runs by outcome',
            description: 'Workflow task runs per interval by task and outcome (success, retry, failure, ignore, finish).',
            w: 12,
            h: 7,
            targets: [{ expr: `sum by (task, outcome) (${increaseInclBirth(`xcp_recovery_task_runs_total{${SEL}}`, RATE)})`, legend: '{{task}} {{outcome}}' }],
            unit: 'short',
            min: 0,
            legendCalcs: ['max'],
            legendRight: true,
            needs: 'recovery',
          },
        ],
      },
      {
        title: 'Messages and intake',
        panels: [
          {
            kind: 'timeseries',
            title: 'Message delivery',
            description: 'Operator messages per interval by channel and outcome (queued, sent, retry, dead).',
            w: 12,
            h: 8,
            targets: [
              { expr: `sum by (channel, outcome) (${increaseInclBirth(`xcp_recovery_messages_total{${SEL}}`, RATE)})`, legend: '{{channel}} {{outcome}}' },
            ],
            unit: 'short',
            min: 0,
            thresholds: steps(GREEN, [1, YELLOW]),
            legendCalcs: ['max'],
            needs: 'recovery',
          },
          {
            kind: 'timeseries',
            title: 'Alertmanager webhooks',
            description:
              'Webhook requests from Alertmanager per interval by outcome: accepted, duplicate (within the dedup window), rejected (bad payload or token), error.',
            w: 12,
            h: 8,
            targets: [{ expr: `sum by (outcome) (${increaseInclBirth(`xcp_recovery_webhooks_total{${SEL}}`, RATE)})`, legend: '{{outcome}}' }],
            unit: 'short',
            min: 0,
            legendCalcs: ['max'],
            needs: 'recovery',
          },
        ],
      },
    ],
  });
}
