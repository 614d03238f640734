import { afterAll, describe, expect, it } from 'vitest';
import { ExecutionTimeout, Trap, type PoolStats, type Runtime } from '../../src/index.ts';
import { deferred, fixture, gatedHostCaller, hostCallerImports, newRuntime } from '../helpers.ts';

const runtime: Runtime = newRuntime();
afterAll(() => runtime.close());

function recycledTotal(stats: PoolStats): number {
  return Object.values(stats.recycled).reduce((a, b) => a + b, 0);
}

describe('concurrency', () => {
  it('behavior: 100 callers × 1,000 calls, every 10th trapping: counters add up, nothing leaks', async () => {
    const compute = await runtime.load(fixture('compute'), { name: 'busy', pool: { maxUses: 500 } });
    await compute.call('add', [1, 1]); // warm up before measuring the heap
    const gc = globalThis.gc;
    expect(gc, 'tests run with --expose-gc (vitest.config.ts)').toBeTypeOf('function');
    gc!();
    const heapBefore = process.memoryUsage().heapUsed;
    let ok = 0;
    let traps = 0;
    await Promise.all(
      Array.from({ length: 100 }, async (_, caller) => {
        for (let i = 0; i < 1_000; i++) {
          const outcome = (caller + i) % 10 === 0 ? await compute.invoke('trap', [0]) : await compute.invoke('add', [caller, i]);
          if (outcome.ok) {
            expect(outcome.value).toBe(caller + i);
            ok++;
          } else {
            expect(outcome.signal).toBeInstanceOf(Trap);
            traps++;
          }
        }
      }),
    );
    expect(ok).toBe(90_000);
    expect(traps).toBe(10_000);
    const stats = compute.stats();
    expect(stats.checkouts).toBe(100_001);
    expect(stats.inUse).toBe(0);
    expect(stats.waiting).toBe(0);
    expect(stats.recycled.trap).toBe(10_000);
    expect(stats.created).toBe(stats.size + recycledTotal(stats));
    // One idle instance per worker at most: a warm instance is reused, never piled up.
    expect(stats.size).toBeLessThanOrEqual(runtime.threads);
    expect(runtime['pool'].threads.length).toBe(runtime.threads);
    // Bound: after 100k calls the main thread's heap may hold at most 8 MiB more than before
    // (a leak of one small object per call would already be ~10 MiB).
    gc!();
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(8 * 1024 * 1024);
  });

  it('behavior: a component spinning into its deadline does not stop another from being served', async () => {
    const spinner = await runtime.load(fixture('compute'), { name: 'spinner', limits: { timeoutMs: 300, fuel: Number.MAX_SAFE_INTEGER } });
    const steady = await runtime.load(fixture('compute'), { name: 'steady' });
    const spinning = spinner.invoke('spin');
    // One worker is busy spinning; the other keeps serving `steady`.
    for (let i = 0; i < 200; i++) expect((await steady.call('add', [i, 1])).value).toBe(i + 1);
    const outcome = await spinning;
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.signal).toBeInstanceOf(ExecutionTimeout);
    expect(steady.stats().recycled.trap + steady.stats().recycled.limit).toBe(0);
  });

  it('pool: maxInstances bounds calls in flight; a caller past checkoutTimeoutMs gets checkout-timeout', async () => {
    const { caller, inHost, release } = await gatedHostCaller(runtime, { pool: { maxInstances: 1, checkoutTimeoutMs: 20 } });
    const first = caller.call('call-slow', [1]);
    await inHost;
    expect(caller.stats().inUse).toBe(1);
    await expect(caller.call('call-echo', ['x'])).rejects.toMatchObject({ name: 'CorralRuntimeError', code: 'checkout-timeout' });
    release(5);
    expect((await first).value).toBe(5);
    expect(caller.stats().inUse).toBe(0);
  });

  it('pool: callers past maxInstances wait, and each gets an instance as one is returned, in order', async () => {
    const gates = [deferred<number>(), deferred<number>()];
    const entered: number[] = [];
    const caller = await runtime.load(fixture('host-caller'), {
      name: 'two-at-a-time',
      imports: hostCallerImports({
        slow: (ms: number) => {
          entered.push(ms);
          return ms <= 2 ? gates[ms - 1]!.promise : ms;
        },
      }),
      limits: { timeoutMs: 10_000 },
      pool: { maxInstances: 2, checkoutTimeoutMs: 10_000 },
    });
    const first = caller.call('call-slow', [1]);
    const second = caller.call('call-slow', [2]);
    await expect.poll(() => entered.length).toBe(2); // both instances are out
    const third = caller.call('call-slow', [3]); // the (max+1)th caller waits for a checkout
    const fourth = caller.call('call-slow', [4]);
    expect(caller.stats().inUse).toBe(2);
    gates[1]!.resolve(2);
    expect((await second).value).toBe(2);
    expect((await third).value).toBe(3); // served by the returned instance
    gates[0]!.resolve(1);
    expect((await first).value).toBe(1);
    expect((await fourth).value).toBe(4);
    // The first two run on two workers at once: either may reach the host first. The waiting callers are served in order.
    expect([...entered.slice(0, 2)].sort()).toEqual([1, 2]);
    expect(entered.slice(2)).toEqual([3, 4]);
    expect(caller.stats().inUse).toBe(0);
  });

  it('pool: an instance is recycled after maxUses calls', async () => {
    const compute = await runtime.load(fixture('compute'), { name: 'short-lived', pool: { maxUses: 5 } });
    for (let i = 0; i < 20; i++) await compute.call('add', [i, i]);
    expect(compute.stats().recycled.maxUses).toBe(4);
  });

  it('pool: idle instances are reaped after maxIdleMs; the next call builds a fresh one', async () => {
    const compute = await runtime.load(fixture('compute'), { name: 'idler', pool: { maxIdleMs: 20 } });
    await compute.call('add', [1, 1]);
    // The reaper runs on the worker's own timer: wait for its effect, not for a fixed time.
    await expect.poll(() => compute.stats().recycled.idle, { timeout: 5_000, interval: 10 }).toBeGreaterThanOrEqual(1);
    const stats = compute.stats();
    expect(stats.created).toBe(stats.size + recycledTotal(stats));
    expect((await compute.call('add', [2, 2])).value).toBe(4);
    expect(compute.stats().created).toBeGreaterThan(stats.created);
  });

  it('close: drains in-flight calls, then rejects new ones; counters end at zero live instances', async () => {
    // Deadlines far from the work: under load a worker can take seconds to start, and this is about
    // draining (the default 5 s close timeout once terminated the call before it began, at load 15).
    const own = newRuntime({ threads: 1, closeTimeoutMs: 120_000 });
    const compute = await own.load(fixture('compute'));
    const inflight = compute.call('work', [100_000], { timeoutMs: 60_000 });
    const closing = own.close();
    expect((await inflight).value).toEqual(expect.any(Number));
    await closing;
    await expect(compute.call('add', [1, 2])).rejects.toMatchObject({ code: 'closed' });
    expect(compute.stats().size).toBe(0);
    expect(compute.stats().recycled.close).toBeGreaterThanOrEqual(1);
    expect(own['pool'].threads.length).toBe(0);
  });

  it('close: a call that outlives closeTimeoutMs is ended by terminating the workers; a second close() is the same promise', async () => {
    const own = newRuntime({ threads: 1, closeTimeoutMs: 50 });
    const { caller, inHost } = await gatedHostCaller(own); // never released: the host never answers
    const stuck = caller.invoke('call-slow', [1]);
    await inHost;
    const closing = own.close();
    expect(own.close()).toBe(closing);
    await closing; // resolves although the host never answers: the wait is bounded by closeTimeoutMs
    const outcome = await stuck;
    expect(outcome.ok).toBe(false);
    expect(own['pool'].threads.length).toBe(0);
    await expect(own.close()).resolves.toBeUndefined();
  });
});
