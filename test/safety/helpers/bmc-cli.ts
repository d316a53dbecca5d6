// `xcp-sentinel simulate <fault> …` without the rest of the CLI: the matrix's fencing commands run it once per BMC
// call, and loading only the simulate command keeps each call light on a loaded 2-core machine.
import { simulateCommand } from '../../../cli/simulate.js';

try {
  process.exitCode = await simulateCommand(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exitCode = 1;
}
