import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LoadError } from '../../../src/index.ts';
import { prepareThreadsStarted } from '../../../src/runtime/prepare/prepareInWorker.ts';
import { fixture, hostCallerImports, newRuntime } from '../../helpers.ts';

describe('prepare thread', () => {
  it('behavior: preparing several components, one after another and at once, starts one thread', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'corral-prepare-')); // empty: every load prepares
    const runtime = newRuntime({ cacheDir });
    try {
      const before = prepareThreadsStarted();
      const first = await runtime.load(fixture('wasi-exit'), { name: 'one' });
      const rest = await Promise.all([
        ...(['wasi-probe', 'compute'] as const).map((name) => runtime.load(fixture(name), { name })),
        runtime.load(fixture('host-caller'), { name: 'host-caller', imports: hostCallerImports() }),
      ]);
      expect([first, ...rest].map((c) => c.fromCache)).toEqual([false, false, false, false]);
      expect(prepareThreadsStarted() - before).toBe(1);
      // A malformed component is refused, and the thread goes on serving.
      expect(await runtime.load(new Uint8Array([0, 97, 115, 109, 13, 0, 1, 0, 1, 255, 255, 255]), { name: 'bad' }).catch((error: unknown) => error)).toBeInstanceOf(LoadError);
      expect((await runtime.load(fixture('start-grow'), { name: 'after' })).fromCache).toBe(false);
      expect(prepareThreadsStarted() - before).toBe(1);
    } finally {
      await runtime.close();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
