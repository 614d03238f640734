import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { StoreOptions } from '../../src/store/openStore.ts';
import { backends, readStore } from './backends.ts';

const child = fileURLToPath(new URL('./commitLoop.ts', import.meta.url));

/** Runs the commit loop in a child process and SIGKILLs it `delayMs` after it started committing. */
async function killMidCommit(options: StoreOptions, delayMs: number): Promise<void> {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    proc.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('committing')) setTimeout(() => proc.kill('SIGKILL'), delayMs);
    });
    proc.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited without being killed (${signal})`))));
  });
}

describe.each(backends)('store: crash safety ($name)', (backend) => {
  // The kill lands at a different point of a commit each time; whichever, the state is whole. On
  // PostgreSQL a commit is one statement (the server has it whole or not at all), so two points are
  // enough there; what it adds is the takeover: the killed owner's lease ends with its sessions, and
  // the store opened after it owns the module.
  it.each(backend.name === 'level' ? [0, 7, 23, 61] : [0, 23])('behavior: SIGKILL %i ms into committing leaves the old or the new batch, never half', async (delayMs) => {
    const options = await backend.options();
    await killMidCommit(options, delayMs);
    await readStore(options, async (store) => {
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
    });
  });
});
