// The Masakari-compatible API under /v1: notifications (create, list, show, vmoves) and read-only segments and hosts.
import { Router } from '@koa/router';
import type { Context } from 'koa';
import type { PoolMode } from '../../config.js';
import type { HostDirectory } from '../../hosts.js';
import { MarkerNotFoundError, type NotificationStore } from '../../store/store.js';
import type { Notification } from '../../store/types.js';
import type { Caller } from '../auth.js';
import { ApiError } from '../errors.js';
import { readJsonBody } from '../body.js';
import type { NotificationRecorder } from '../recorder.js';
import { confirmFenced, createNotification, notificationOf as notificationOfStore, withWait } from './actions.js';
import { type ListSpec, listPage } from './list-page.js';
import { parseListQuery } from './list-query.js';
import { type Microversion, atLeast, formatVersion, requestedVersion } from './microversion.js';
import { type Segment, forwardView, hostView, notificationView, segmentView, stableUuid, vmoveView, workflowDetailsView } from './views.js';

export interface MasakariDeps {
  store: NotificationStore;
  recorder: NotificationRecorder;
  hosts: HostDirectory;
  pools: { name: string; mode: PoolMode }[];
  maxBodyBytes: number;
  startedAt: number;
  now: () => number;
  /** Called after an operator's confirmation was stored: the engine resumes the parked workflow. */
  onConfirmed?: () => void;
}

/** What `openstack segment list` and `segment host list` filter and sort on (masakari segments.py / hosts.py). */
const SEGMENT_LIST: ListSpec = {
  sortKeys: ['created_at', 'description', 'name', 'updated_at', 'uuid', 'recovery_method', 'service_type', 'id'],
  filters: {
    recovery_method: { field: 'recovery_method', kind: 'text' },
    service_type: { field: 'service_type', kind: 'text' },
    enabled: { field: 'enabled', kind: 'bool' },
  },
};
const HOST_LIST: ListSpec = {
  sortKeys: ['created_at', 'type', 'name', 'updated_at', 'uuid', 'reserved', 'on_maintenance', 'id'],
  filters: {
    failover_segment_id: { field: 'failover_segment_id', kind: 'text' },
    type: { field: 'type', kind: 'text' },
    on_maintenance: { field: 'on_maintenance', kind: 'bool' },
    reserved: { field: 'reserved', kind: 'bool' },
  },
};
const READ_ONLY = 'Segments and hosts are read-only here: they are the configured pools and their hosts (edit the configuration instead).';

function version(ctx: Context): Microversion {
  const v = requestedVersion(ctx.headers);
  ctx.set('OpenStack-API-Version', `instance-ha ${formatVersion(v)}`);
  ctx.set('Vary', 'OpenStack-API-Version');
  return v;
}

export function masakariRouter(deps: MasakariDeps): Router {
  const router = new Router({ prefix: '/v1' });
  const segments: Segment[] = deps.pools.map((p, i) => ({ id: i + 1, name: p.name, mode: p.mode, createdAt: deps.startedAt }));
  const segmentOf = (id: string) => {
    const s = segments.find((x) => stableUuid('segment', x.name) === id);
    if (!s) throw new ApiError(404, `Failover segment ${id} could not be found.`);
    return s;
  };
  const notificationOf = (id: string) => notificationOfStore(deps.store, id);

  router.post('/notifications', async (ctx) => {
    version(ctx);
    const created = await createNotification(deps, ctx.state.caller as Caller, await readJsonBody(ctx.req, deps.maxBodyBytes));
    ctx.status = 202;
    ctx.body = { notification: notificationView(created) };
  });

  router.get('/notifications', async (ctx) => {
    version(ctx);
    const { filter, page } = parseListQuery(ctx.query);
    let list: Notification[] = [];
    try {
      if (filter) list = await deps.store.list(filter, page);
    } catch (err) {
      if (err instanceof MarkerNotFoundError) throw new ApiError(400, err.message);
      throw err;
    }
    ctx.body = { notifications: list.map(notificationView) };
  });

  router.post('/notifications/:id/confirm-fenced', async (ctx) => {
    version(ctx);
    const n = await confirmFenced(deps, ctx.state.caller as Caller, ctx.params.id!, await readJsonBody(ctx.req, deps.maxBodyBytes));
    ctx.status = 202;
    ctx.body = { notification: await withWait(deps.store, n) };
  });

  router.get('/notifications/:id', async (ctx) => {
    const v = version(ctx);
    const n = await notificationOf(ctx.params.id!);
    const forward = await deps.store.getForward(n.uuid);
    ctx.body = {
      notification: {
        ...(await withWait(deps.store, n)),
        ...(atLeast(v, 1) ? { recovery_workflow_details: workflowDetailsView(await deps.store.tasks(n.uuid)) } : {}),
        ...(forward ? { forward: forwardView(forward) } : {}),
      },
    };
  });

  const vmovesOf = async (ctx: Context, id: string) => {
    if (!atLeast(version(ctx), 3)) throw new ApiError(404, 'vmoves need API microversion 1.3 or later.');
    const n = await notificationOf(id);
    if (n.type !== 'COMPUTE_HOST') throw new ApiError(400, `Notification ${id} is of type ${n.type}: only COMPUTE_HOST notifications have vmoves.`);
    return deps.store.moves(n.uuid);
  };
  router.get('/notifications/:id/vmoves', async (ctx) => {
    ctx.body = { vmoves: (await vmovesOf(ctx, ctx.params.id!)).map(vmoveView) };
  });
  router.get('/notifications/:id/vmoves/:vmove', async (ctx) => {
    const move = (await vmovesOf(ctx, ctx.params.id!)).find((m) => String(m.id) === ctx.params.vmove);
    if (!move) throw new ApiError(404, `No vmove with id ${ctx.params.vmove}.`);
    ctx.body = { vmove: vmoveView(move) };
  });

  router.get('/segments', (ctx) => {
    const v = version(ctx);
    ctx.body = {
      segments: listPage(
        segments.map((s) => segmentView(s, atLeast(v, 2))),
        ctx.query,
        SEGMENT_LIST,
      ),
    };
  });
  router.get('/segments/:id', (ctx) => {
    const v = version(ctx);
    ctx.body = { segment: segmentView(segmentOf(ctx.params.id!), atLeast(v, 2)) };
  });

  const hostsOf = async (segment: Segment, withEnabled: boolean) => {
    const states = new Map((await deps.store.hosts()).map((h) => [h.hostUuid, h]));
    return deps.hosts.hostsOf(segment.name).map((h, i) => hostView(h, i, segment, states.get(h.uuid), withEnabled));
  };
  router.get('/segments/:id/hosts', async (ctx) => {
    const v = version(ctx);
    ctx.body = { hosts: listPage(await hostsOf(segmentOf(ctx.params.id!), atLeast(v, 2)), ctx.query, HOST_LIST) };
  });
  router.get('/segments/:id/hosts/:host', async (ctx) => {
    const v = version(ctx);
    const host = (await hostsOf(segmentOf(ctx.params.id!), atLeast(v, 2))).find((h) => h.uuid === ctx.params.host);
    if (!host) throw new ApiError(404, `Host ${ctx.params.host} could not be found.`);
    ctx.body = { host };
  });

  const readOnly = () => {
    throw new ApiError(405, READ_ONLY, { Allow: 'GET' });
  };
  for (const path of ['/segments', '/segments/:id', '/segments/:id/hosts', '/segments/:id/hosts/:host']) {
    router.post(path, readOnly);
    router.put(path, readOnly);
    router.patch(path, readOnly);
    router.delete(path, readOnly);
  }
  return router;
}
