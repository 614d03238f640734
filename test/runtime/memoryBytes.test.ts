import { afterAll, describe, expect, it } from 'vitest';
import { fixture, newRuntime } from '../helpers.ts';

const PAGE = 65_536;

describe('memoryBytes in call outcomes', () => {
  const runtime = newRuntime({ threads: 1 });
  afterAll(() => runtime.close());

  it('behavior: a pooled instance reports its high-water mark; a fresh one (maxUses 1) each call\'s own', async () => {
    const pooled = await runtime.load(fixture('compute'), { pool: { maxInstances: 1 } });
    // compute declares one page: grow(2) leaves three, and the next call on the same instance still sees them.
    expect(await pooled.call('grow', [2])).toMatchObject({ value: 3, memoryBytes: 3 * PAGE });
    expect(await pooled.call('add', [1, 2])).toMatchObject({ value: 3, memoryBytes: 3 * PAGE });

    const fresh = await runtime.load(fixture('compute'), { pool: { maxUses: 1 } });
    expect(await fresh.call('grow', [2])).toMatchObject({ memoryBytes: 3 * PAGE });
    expect(await fresh.call('add', [1, 2])).toMatchObject({ memoryBytes: 1 * PAGE });
  });

  it('behavior: a signal carries the memory at the stop', async () => {
    const capped = await runtime.load(fixture('compute'), { limits: { memoryBytes: 4 * PAGE } });
    const outcome = await capped.invoke('grow', [10]);
    expect(outcome.ok).toBe(false);
    expect(outcome.memoryBytes).toBe(1 * PAGE);
  });
});
