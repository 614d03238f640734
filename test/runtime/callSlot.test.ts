import { afterAll, describe, expect, it } from 'vitest';
import { ExecutionTimeout, type CallFailure, type Runtime } from '../../src/index.ts';
import { deferred, fixture, hostCallerImports, newRuntime } from '../helpers.ts';

// The per-worker call slot (src/runtime/CallSlot.ts, WorkerSlot.ts): calls, replies and host calls
// cross in shared memory; what does not fit goes through the slot's port.
const runtime: Runtime = newRuntime({ hostCallBufferBytes: 64 * 1024 });
afterAll(() => runtime.close());

describe('call slot', () => {
  it('behavior: a call whose arguments and result do not fit in the slot goes through the port, whole', async () => {
    const compute = await runtime.load(fixture('compute'));
    const big = 'ß'.repeat(100_000); // 200 KB of UTF-8 each way, past the 64 KiB regions
    expect((await compute.call('echo', [big])).value).toBe(big);
    const list = Uint32Array.from({ length: 40_000 }, (_, i) => i);
    const reversed = (await compute.call('reverse', [list])).value as Uint32Array;
    expect(reversed).toBeInstanceOf(Uint32Array);
    expect([reversed[0], reversed.at(-1), reversed.length]).toEqual([39_999, 0, 40_000]);
    // And small calls after them are back in the slot, on the same workers.
    expect((await compute.call('echo', ['small'])).value).toBe('small');
  });

  it('behavior: a late answer to an abandoned host call is dropped while the same worker waits in the next call\'s host call', async () => {
    // One worker: both calls use the same slot. The first call's host function answers only after its
    // deadline passed and the second call is blocked in a host call of its own: the late answer must
    // not be taken for the second call's.
    const single = newRuntime({ threads: 1 });
    try {
      const late = deferred<number>();
      const second = deferred<number>();
      let entered = 0;
      const caller = await single.load(fixture('host-caller'), {
        imports: hostCallerImports({ slow: (ms: number) => (entered++, ms === 1 ? late.promise : second.promise) }),
        limits: { timeoutMs: 50 },
      });
      const first = (await caller.invoke('call-slow', [1])) as CallFailure;
      expect(first.signal).toBeInstanceOf(ExecutionTimeout);
      const next = caller.call('call-slow', [2], { timeoutMs: 10_000 });
      await expect.poll(() => entered).toBe(2);
      late.resolve(111); // the first call's answer, too late
      second.resolve(222);
      expect((await next).value).toBe(222);
    } finally {
      await single.close();
    }
  });
});
