// A receiver in a child process, for the SIGKILL test: its XAPI fake logs each call to DIR/calls.log and never
// answers host_metrics.get_live, so the first host task is left RUNNING when the parent kills the process.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHook, testConfig } from './harness.js';

const dir = process.argv[2]!;
const hook = await startHook(testConfig(dir), {
  xapiFor: () => ({
    async call<T>(method: string): Promise<T> {
      appendFileSync(join(dir, 'calls.log'), `${method}\n`);
      if (method === 'host.get_by_uuid') return 'OpaqueRef:host-1' as T;
      if (method === 'host.get_record') return { uuid: 'u', name_label: 'host-1', address: '10.0.0.1', enabled: true, metrics: 'm' } as T;
      return new Promise<T>(() => undefined);
    },
  }),
});
process.stdout.write(`${hook.url}\n`);
