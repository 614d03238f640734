import { afterAll, describe, expect, it } from 'vitest';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CorralRuntimeError, ExecutionTimeout, type CallFailure, type Runtime } from '../../src/index.ts';
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

  it('error: arguments that cannot cross to a worker (a function) are refused as invalid-arguments; the worker serves on', async () => {
    // One worker: a refused call must leave its slot free, or the next call would wait forever.
    const single = newRuntime({ threads: 1 });
    try {
      const compute = await single.load(fixture('compute'));
      const refused = await compute.call('echo', [(() => 1) as unknown as string]).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(CorralRuntimeError);
      expect(refused).toMatchObject({ code: 'invalid-arguments', details: { component: 'compute', export: 'echo' } });
      expect((await compute.call('echo', ['after'])).value).toBe('after');
    } finally {
      await single.close();
    }
  });

  it('behavior: a call admitted before its component is unloaded still runs (calls in flight finish)', async () => {
    const single = newRuntime({ threads: 1 });
    try {
      const gate = deferred<number>();
      const inHost = deferred();
      const caller = await single.load(fixture('host-caller'), {
        limits: { timeoutMs: 10_000 },
        imports: hostCallerImports({ slow: (ms: number) => (inHost.resolve(), ms === 1 ? gate.promise : ms) }),
      });
      const first = caller.call('call-slow', [1]);
      await inHost.promise;
      const second = caller.call('call-slow', [2]); // admitted, waiting behind the first on the only worker
      single.unload(caller);
      gate.resolve(9);
      expect((await first).value).toBe(9);
      expect((await second).value).toBe(2);
      await expect(caller.call('call-slow', [3])).rejects.toMatchObject({ code: 'closed' });
    } finally {
      await single.close();
    }
  });

  it('behavior: a worker terminated by a kill leaves nothing behind: its slot is collected', async () => {
    const gc = (globalThis as { gc?: () => void }).gc!;
    const single = newRuntime({ threads: 1 });
    try {
      const compute = await single.load(fixture('compute'));
      await compute.call('add', [1, 2]);
      // Only a weak reference: the test itself must not keep the slot alive.
      const ref = ((dispatcher: { slots: Map<number, object> }) => new WeakRef([...dispatcher.slots.values()][0]!))(
        (single as unknown as { dispatcher: { slots: Map<number, object> } }).dispatcher,
      );
      const spinning = compute.invoke('spin', [], { timeoutMs: 60_000 });
      await expect.poll(() => compute.stats().inUse).toBe(1);
      compute.kill();
      expect(((await spinning) as CallFailure).signal.name).toBe('Trap');
      // Served again by the replacement worker, then the old slot must be garbage.
      expect((await compute.call('add', [2, 3])).value).toBe(5);
      await expect
        .poll(async () => {
          gc();
          await nextTurn();
          return ref.deref() === undefined;
        })
        .toBe(true);
    } finally {
      await single.close();
    }
  });

  it('behavior: a host function never runs inside another call made meanwhile (the dispatcher only takes replies)', async () => {
    let served = 0;
    const caller = await runtime.load(fixture('host-caller'), {
      limits: { timeoutMs: 60_000, fuel: 1e12 },
      imports: hostCallerImports({ nop: () => void served++ }),
    });
    const compute = await runtime.load(fixture('compute'));
    const busy = caller.call('call-nop', [20_000]); // host requests keep arriving on its worker
    let finished = false;
    void busy.finally(() => (finished = true)).catch(() => {});
    let inside = 0;
    let rounds = 0;
    while (!finished) {
      const before = served;
      const call = compute.call('add', [1, 2]);
      if (served !== before) inside++;
      await call;
      rounds++;
    }
    await busy;
    expect(served).toBe(20_000);
    expect(rounds).toBeGreaterThan(0);
    expect(inside).toBe(0);
  });

  it('error: a host-call buffer size out of range is refused when the runtime is made', () => {
    expect(() => newRuntime({ hostCallBufferBytes: -1 })).toThrow(expect.objectContaining({ code: 'invalid-option', details: { option: 'hostCallBufferBytes', value: -1 } }));
    expect(() => newRuntime({ hostCallBufferBytes: 2 ** 40 })).toThrow(/hostCallBufferBytes must be an integer from 4096/);
  });

  it('behavior: a worker failure piscina reports is not thrown at the embedder (its exit ends its call)', () => {
    // piscina emits 'error' for a worker that fails with no task of its own on it (corral's calls are not
    // piscina tasks). A synthetic emit stands in for a real failure (a worker out of heap), which a test cannot cause on demand.
    const pool = (runtime as unknown as { pool: { emit(event: string, error: Error): boolean } }).pool;
    expect(() => pool.emit('error', new Error('worker out of memory'))).not.toThrow();
  });
});
