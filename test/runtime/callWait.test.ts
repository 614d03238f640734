import { afterAll, describe, expect, it } from 'vitest';
import { setTimeout as after } from 'node:timers/promises';
import { CALL_WAIT_MS } from '../../src/limits/defaults.ts';
import type { Runtime } from '../../src/index.ts';
import { fixture, newRuntime } from '../helpers.ts';

// How a worker waits for its next call (WorkerSlot.nextCall): blocked in Atomics.wait for
// CALL_WAIT_MS, then in Atomics.waitAsync (its event loop running), with a turn of the event loop at
// least every WORKER_TURN_MS while calls keep coming. One thread: every call meets the same worker.
const runtime: Runtime = newRuntime({ threads: 1 });
afterAll(() => runtime.close());

describe('a worker between calls', () => {
  it('behavior: calls back to back and calls after the blocking window (the worker parked in its event loop) are all answered', async () => {
    const compute = await runtime.load(fixture('compute'));
    const values: number[] = [];
    for (let i = 0; i < 40; i++) {
      // A gap past the window on every fourth call: no wake-up may be lost on either kind of wait.
      if (i % 4 === 3) await after(CALL_WAIT_MS * 3);
      values.push((await compute.call('add', [i, 1])).value as number);
    }
    expect(values).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it('behavior: the worker reaps idle instances of one component while calls of another keep it busy back to back', async () => {
    const idle = await runtime.load(fixture('compute'), { name: 'left-idle', pool: { maxIdleMs: 20 } });
    const busy = await runtime.load(fixture('compute'), { name: 'kept-busy' });
    await idle.call('add', [1, 1]);
    expect(idle.stats().created).toBe(1);
    // Never more than a few µs between two calls, so the worker would never reach Atomics.waitAsync
    // by its window alone: its reaper runs only through the periodic turn of its event loop.
    let calls = 0;
    while (idle.stats().recycled.idle === 0 && calls < 2_000_000) {
      await busy.call('add', [calls, 1]);
      calls++;
    }
    expect(idle.stats().recycled.idle).toBe(1);
    expect(idle.stats().size).toBe(0);
  });

  it('behavior: a runtime closed while its worker blocks waiting for the next call closes, and calls after are refused', async () => {
    const own = newRuntime({ threads: 1 });
    const compute = await own.load(fixture('compute'));
    expect((await compute.call('add', [2, 3])).value).toBe(5);
    await own.close(); // the worker is inside its blocking window: CLOSED wakes it
    await expect(compute.call('add', [1, 1])).rejects.toThrow();
  });
});
