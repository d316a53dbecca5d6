import { UsageError } from './usage.js';

export async function recoveryHookCommand(_args: string[]): Promise<number> {
  throw new UsageError('not yet available in this version (the receiver lands with the recovery-hooks issue)');
}
