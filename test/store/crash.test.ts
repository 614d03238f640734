import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LevelStore } from '../../src/store/LevelStore.ts';

const child = fileURLToPath(new URL('./commitLoop.ts', import.meta.url));

/** Runs the commit loop in a child process and SIGKILLs it `delayMs` after it started committing. */
async function killMidCommit(directory: string, delayMs: number): Promise<void> {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, directory], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    proc.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('committing')) setTimeout(() => proc.kill('SIGKILL'), delayMs);
    });
    proc.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited without being killed (${signal})`))));
  });
}

describe('store: crash safety', () => {
  // The kill lands at a different point of a commit each time; whichever, the state is whole.
  it.each([0, 7, 23, 61])('behavior: SIGKILL %i ms into committing leaves the old or the new batch, never half', async (delayMs) => {
    const directory = mkdtempSync(join(tmpdir(), 'corral-crash-'));
    await killMidCommit(directory, delayMs);
    const store = await LevelStore.open(directory);
    try {
      const state = await store.module('crashy');
      const cursor = (await state.cursor('custom')) as { seq: number };
      expect(cursor.seq).toBeGreaterThanOrEqual(3);
      const values = new Set<string>();
      let keys = 0;
      for await (const key of state.keys({ limit: 10_000 })) {
        keys++;
        values.add(new TextDecoder().decode(state.getSync(key)));
      }
      // Every key holds the cursor's batch: no key from a later, half-written batch.
      expect([...values]).toEqual([String(cursor.seq)]);
      expect(keys).toBe(1_000);
    } finally {
      await store.close();
    }
  });
});
