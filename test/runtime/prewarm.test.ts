import { afterAll, describe, expect, it } from 'vitest';
import { CorralRuntimeError, type Runtime } from '../../src/index.ts';
import { deferred, fixture, hostCallerImports, newRuntime } from '../helpers.ts';

// Prewarms run in the background: the tests wait for their outcome with expect.poll (no fixed sleeps).
const runtime: Runtime = newRuntime();
afterAll(() => runtime.close());

describe('pool: minInstances (prewarm)', () => {
  it('default: minInstances are built at load, before any call; a call then builds nothing', async () => {
    const compute = await runtime.load(fixture('compute'), { name: 'warm', pool: { minInstances: 2 } });
    await expect.poll(() => compute.stats()).toMatchObject({ created: 2, size: 2, prewarm: { runs: 2, failures: 0 } });
    expect((await compute.call('add', [1, 2])).value).toBe(3);
    expect(compute.stats()).toMatchObject({ created: 2, size: 2, checkouts: 3 }); // two prewarms and the call
  });

  it('behavior: an instance lost to a trap is built again', async () => {
    // One worker: the trapping call certainly runs on the prewarmed instance (with two, it may build its own).
    const single = newRuntime({ threads: 1 });
    try {
      const compute = await single.load(fixture('compute'), { name: 'refilled', pool: { minInstances: 1 } });
      await expect.poll(() => compute.stats().size).toBe(1);
      expect((await compute.invoke('trap', [0])).ok).toBe(false);
      await expect.poll(() => compute.stats()).toMatchObject({ size: 1, created: 2, recycled: { trap: 1 }, prewarm: { runs: 2 } });
    } finally {
      await single.close();
    }
  });

  it('behavior: the idle reaper keeps minInstances alive', async () => {
    // Two calls held in their host call need two instances at once; once both are idle, the reaper
    // takes all but minInstances. The gates make the overlap certain, not a matter of scheduling.
    const gates = [deferred<number>(), deferred<number>()];
    let entered = 0;
    const caller = await runtime.load(fixture('host-caller'), {
      name: 'kept',
      limits: { timeoutMs: 10_000 },
      pool: { minInstances: 1, maxIdleMs: 20 },
      imports: hostCallerImports({ slow: (ms: number) => (entered++, gates[ms]!.promise) }),
    });
    await expect.poll(() => caller.stats().created).toBe(1);
    const calls = [caller.call('call-slow', [0]), caller.call('call-slow', [1])];
    await expect.poll(() => entered).toBe(2);
    expect(caller.stats()).toMatchObject({ created: 2, inUse: 2 });
    gates.forEach((gate, i) => gate.resolve(i));
    expect((await Promise.all(calls)).map((r) => r.value)).toEqual([0, 1]);
    await expect.poll(() => caller.stats().recycled.idle, { timeout: 10_000 }).toBe(1);
    expect(caller.stats()).toMatchObject({ size: 1, created: 2 }); // one kept, none rebuilt
  });

  it('behavior: after recycle, minInstances fresh instances are built', async () => {
    const compute = await runtime.load(fixture('compute'), { name: 'recycled', pool: { minInstances: 2 } });
    await expect.poll(() => compute.stats().created).toBe(2);
    compute.recycle();
    // A generous wait: the two builds after the recycle passed the default 1 s once, in a loaded full run.
    await expect.poll(() => compute.stats(), { timeout: 10_000 }).toMatchObject({ prewarm: { runs: 4 }, created: 4 });
  });

  it('error: a prewarm that trips a limit is a failure of the component (counted, with its signal), and no prewarm runs again until a call succeeds', async () => {
    // The start function grows memory far past the cap: every instance build ends in MemoryLimitExceeded.
    const broken = await runtime.load(fixture('start-grow'), { name: 'broken', limits: { memoryBytes: 4 * 1024 * 1024 }, pool: { minInstances: 1 } });
    await expect.poll(() => broken.stats().prewarm).toEqual({ runs: 1, failures: 1, lastSignal: 'MemoryLimitExceeded' });
    expect((await broken.invoke('pages', [])).ok).toBe(false);
    expect(broken.stats()).toMatchObject({ created: 0, size: 0, prewarm: { runs: 1 } }); // no loop of failing prewarms
  });

  it('error: minInstances above maxInstances, or not an integer, is refused at load naming the option', async () => {
    for (const pool of [{ minInstances: 3, maxInstances: 2 }, { minInstances: 1.5 }]) {
      const error = await runtime.load(fixture('compute'), { pool }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CorralRuntimeError);
      expect(error).toMatchObject({ code: 'invalid-option', details: { option: 'pool.minInstances' } });
    }
  });
});
