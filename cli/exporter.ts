import { UsageError } from './usage.js';

export async function exporterCommand(_args: string[]): Promise<number> {
  throw new UsageError('not yet available in this version (the exporter lands with the exporter issue)');
}
