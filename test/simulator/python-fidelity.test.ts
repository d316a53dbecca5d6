// The simulator against the official Python XenAPI client (Debian python3-os-xenapi): what a real tool sees.
import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startSim } from '../helpers/sim.js';

const script = fileURLToPath(new URL('../helpers/xenapi_fidelity.py', import.meta.url));
const sim = await startSim();
t.teardown(() => sim.stop());

const run = () =>
  new Promise<Record<string, unknown>>((resolve, reject) =>
    execFile(
      '/usr/bin/python3',
      [script, sim.url + '/', sim.server.urlOf(sim.pool.hosts[1]!) + '/', 'root', 'simulated'],
      { timeout: 30_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout))),
    ),
  );

const out = await run();
t.equal(out.api_version, '2.21', 'the client read the API version through pool.get_master and host.get_API_version_*');
t.same(out.hosts, ['xcp-host-01', 'xcp-host-02', 'xcp-host-03']);
t.ok((out.host_fields as string[]).includes('resident_VMs') && (out.host_fields as string[]).includes('address'));
t.equal(out.vm_count, 3 + 12 + 1, 'dom0s, guests and a template');
t.equal(out.control_domains, 3);
t.equal(out.templates, 1);
t.equal(out.vm_memory_static_max_type, 'str', 'int64 fields arrive as strings over XML-RPC, as from XAPI');
t.equal(out.vm_by_uuid, true);
t.equal(out.master_address, sim.pool.master.address);
t.same(out.bad_ref_error, ['HANDLE_INVALID', 'VM', 'OpaqueRef:does-not-exist']);
t.same(out.member_login, ['HOST_IS_SLAVE', sim.pool.master.address]);
t.same(out.bad_login, ['SESSION_AUTHENTICATION_FAILED', 'root', 'Authentication failure']);
t.equal(sim.pool.sessions.size, 0, 'the client logged out');
