import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Component, Runtime } from '../../src/index.ts';
import { fixture, newRuntime } from '../helpers.ts';

const runtime: Runtime = newRuntime();
let compute: Component;
beforeAll(async () => {
  // maxUses 3: the repeated calls below run on fresh and on reused instances alike.
  compute = await runtime.load(fixture('compute'), { pool: { maxUses: 3 } });
});
afterAll(() => runtime.close());

describe('fuel', () => {
  it('behavior: the same call reports the same fuelUsed on every run, cold or warm', async () => {
    const runs = await Promise.all(Array.from({ length: 20 }, () => compute.call('work', [5_000])));
    const fuel = new Set(runs.map((r) => r.fuelUsed));
    expect(fuel.size).toBe(1);
    expect(compute.stats().created).toBeGreaterThan(1);
  });

  it('behavior: fuelUsed grows linearly with the work done', async () => {
    const [a, b, c] = await Promise.all([1_000, 2_000, 4_000].map((n) => compute.call('work', [n])));
    expect(a!.fuelUsed).toBeLessThan(b!.fuelUsed);
    expect(b!.fuelUsed).toBeLessThan(c!.fuelUsed);
    expect(c!.fuelUsed - b!.fuelUsed).toBe(2 * (b!.fuelUsed - a!.fuelUsed));
  });

  it('behavior: a budget exactly equal to fuelUsed suffices; one less runs out', async () => {
    const { fuelUsed } = await compute.call('hash', [new Uint8Array(256).fill(7), 10]);
    expect((await compute.invoke('hash', [new Uint8Array(256).fill(7), 10], { fuel: fuelUsed })).ok).toBe(true);
    const short = await compute.invoke('hash', [new Uint8Array(256).fill(7), 10], { fuel: fuelUsed - 1 });
    expect(short.ok).toBe(false);
  });

  it('args: strings and lists cross both ways', async () => {
    expect((await compute.call('echo', ['grüße, 世界'])).value).toBe('grüße, 世界');
    expect(Array.from((await compute.call('reverse', [new Uint32Array([1, 2, 3, 4])])).value as Uint32Array)).toEqual([4, 3, 2, 1]);
  });
});
