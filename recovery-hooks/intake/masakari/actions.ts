// The writes of the Masakari API, shared by its routes and the web UI (recovery-hooks/ui/) so both validate, refuse
// and answer alike: create a notification, confirm an operator wait's fence.
import type { HostDirectory } from '../../hosts.js';
import type { NotificationStore } from '../../store/store.js';
import { type Notification, TERMINAL_STATUSES } from '../../store/types.js';
import { type Caller, requireScope } from '../auth.js';
import { ApiError } from '../errors.js';
import type { NotificationRecorder } from '../recorder.js';
import { UUID } from '../validate.js';
import { parseConfirmFenced } from './confirm-fenced.js';
import { parseCreateRequest } from './create-request.js';
import { notificationView, operatorWaitView } from './views.js';

export interface ActionDeps {
  store: NotificationStore;
  recorder: NotificationRecorder;
  hosts: HostDirectory;
  now: () => number;
  /** Called after an operator's confirmation was stored: the engine resumes the parked workflow. */
  onConfirmed?: () => void;
}

/** The notification with this uuid, or the API's 404. */
export async function notificationOf(store: NotificationStore, id: string): Promise<Notification> {
  const n = UUID.test(id) ? await store.get(id) : undefined;
  if (!n) throw new ApiError(404, `No notification with id ${id}.`);
  return n;
}

/** The notification's view with its operator wait (null when it waits for nobody). */
export async function withWait(store: NotificationStore, n: Notification): Promise<Record<string, unknown>> {
  const wait = await store.operatorWait(n.uuid);
  const open = wait && wait.confirmedAt === null && !TERMINAL_STATUSES.includes(n.status) ? wait : undefined;
  return { ...notificationView(n), operator_wait: open ? operatorWaitView(open) : null };
}

/** POST /v1/notifications with a parsed JSON body: the created notification, or the API's 400/403/409. */
export async function createNotification(deps: ActionDeps, caller: Caller, body: unknown): Promise<Notification> {
  // Checked here as well as by the route's path (server.ts, intake/scopes.ts): a path spelling the scope check does not
  // know must not reach an action (session 7 found POST /V1/Notifications needing no scope).
  requireScope(caller, 'notifications:write', 'POST /v1/notifications');
  const request = parseCreateRequest(body);
  // A STOPPED event with host_status NORMAL says "this host is off" (pacemaker fenced it): a fence assertion,
  // honoured only from a token trusted to make it. A STARTED event never fences anything (the host is back).
  const upper = (v: unknown) => String(v ?? '').toUpperCase();
  if (request.type === 'COMPUTE_HOST' && upper(request.payload.event) === 'STOPPED' && upper(request.payload.host_status) === 'NORMAL')
    requireScope(caller, 'fence:assert', 'a COMPUTE_HOST STOPPED notification with host_status NORMAL (an assertion that the host is off)');
  // Halting a whole pool is not what a recovery token is trusted with.
  if (request.type === 'XCP_EMERGENCY_SHUTDOWN')
    requireScope(caller, 'emergency:shutdown', 'an XCP_EMERGENCY_SHUTDOWN notification (suspends VMs and halts hosts, or powers them back on)');
  const host = deps.hosts.findHost(request.hostname);
  if (!host) throw new ApiError(400, `Host with name ${request.hostname} could not be found.`);
  const result = await deps.recorder.record(
    {
      type: request.type,
      hostUuid: host.uuid,
      hostName: host.name,
      poolName: host.pool,
      generatedAt: request.generatedAt,
      payload: request.payload,
      source: 'api',
    },
    'refuse',
  );
  if (result.outcome === 'host-on-maintenance')
    throw new ApiError(409, `Notification received from host ${host.name} of type '${request.type}' is ignored as the host is already under maintenance.`);
  if (result.outcome !== 'created') throw new ApiError(409, `Duplicate notification received for type: ${request.type}`);
  return result.notification;
}

/** POST /v1/notifications/{id}/confirm-fenced with a parsed JSON body: the notification after the confirmation. */
export async function confirmFenced(deps: ActionDeps, caller: Caller, id: string, body: unknown): Promise<Notification> {
  requireScope(caller, 'fence:confirm', 'confirming a host is fenced');
  const n = await notificationOf(deps.store, id);
  const { hostUuid } = parseConfirmFenced(body);
  if (hostUuid.toLowerCase() !== n.hostUuid.toLowerCase())
    throw new ApiError(
      400,
      `Invalid input for field/attribute host_uuid. Value: ${JSON.stringify(hostUuid)}. It is not the host of notification ${n.uuid} (${n.hostUuid}).`,
    );
  const confirmed = await deps.store.confirmFenced(n.uuid, caller.name, deps.now());
  if (!confirmed) throw new ApiError(409, `Notification ${n.uuid} is ${n.status} and not waiting for an operator: nothing to confirm.`);
  deps.onConfirmed?.();
  return (await deps.store.get(n.uuid)) ?? n;
}
