import { spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A FIFO in a fresh directory: opening it to read blocks until a writer comes, reading then waits for data. */
export function makeFifo(name: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'corral-fifo-')), name);
  const made = spawnSync('mkfifo', [path]);
  if (made.status !== 0) throw new Error(`mkfifo failed: ${made.stderr}`);
  return path;
}

/**
 * Releases a reader stuck on the FIFO (the code under test before it refused FIFOs): a writer that
 * opens and closes at once gives it end-of-file, so a failing test ends instead of hanging its worker.
 */
export function releaseFifo(path: string): void {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
  } catch {
    // ENXIO: nobody has it open to read.
  }
}

/** `promise`'s settlement, or `'hung'` after `ms`. */
export async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), ms)));
  try {
    return await Promise.race([promise.then((value) => ({ value }), (error: unknown) => ({ error })), hung]);
  } finally {
    clearTimeout(timer);
  }
}
