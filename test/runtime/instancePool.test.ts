import { afterAll, describe, expect, it } from 'vitest';
import { CorralRuntimeError, type Component, type Runtime } from '../../src/index.ts';
import { CHECKOUT_WAIT_BUCKETS_MS, CheckoutError, InstancePool } from '../../src/runtime/InstancePool.ts';
import { deferred, fixture, hostCallerImports, newRuntime } from '../helpers.ts';

const runtime: Runtime = newRuntime();
afterAll(() => runtime.close());

/** A pool of one slot, taken: the next checkout must wait. */
const fullPool = (options: { checkoutTimeoutMs?: number } = {}) => {
  const pool = new InstancePool({ maxInstances: 1, checkoutTimeoutMs: 60_000, ...options }, 'held');
  expect(pool.checkout()).toBeUndefined();
  return pool;
};

describe('InstancePool.checkout', () => {
  it("error: the caller's deadline bounds the wait (reason deadline, before checkoutTimeoutMs), and is counted", async () => {
    const pool = fullPool();
    const failure = await Promise.resolve(pool.checkout({ deadline: performance.now() + 20 })).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(CheckoutError);
    expect(failure).toMatchObject({ code: 'checkout-timeout', reason: 'deadline' });
    expect((failure as CheckoutError).waitedMs).toBeLessThan(60_000);
    expect(pool.stats()).toMatchObject({ waiting: 0, inUse: 1, checkoutErrors: { timeout: 0, deadline: 1, aborted: 0, closed: 0 } });
  });

  it('error: an aborted caller stops waiting (reason aborted), and one aborted before asking is refused at once', async () => {
    const pool = fullPool();
    const controller = new AbortController();
    const waiting = Promise.resolve(pool.checkout({ signal: controller.signal })).catch((error: unknown) => error);
    expect(pool.stats().waiting).toBe(1);
    controller.abort();
    expect(await waiting).toMatchObject({ reason: 'aborted' });
    const free = new InstancePool({ maxInstances: 1 }, 'free');
    expect(await Promise.resolve(free.checkout({ signal: controller.signal })).catch((error: unknown) => error)).toBeInstanceOf(CheckoutError);
    expect(free.stats()).toMatchObject({ inUse: 0, checkouts: 0, checkoutErrors: { aborted: 1 } });
    expect(pool.stats()).toMatchObject({ waiting: 0, checkoutErrors: { aborted: 1 } });
  });

  it('error: waiters failed by unload or close count as closed', async () => {
    const pool = fullPool();
    const waiting = Promise.resolve(pool.checkout()).catch((error: unknown) => error);
    pool.rejectWaiting(new CorralRuntimeError('closed', 'closed'));
    expect(await waiting).toMatchObject({ code: 'closed' });
    expect(pool.stats().checkoutErrors).toEqual({ timeout: 0, deadline: 0, aborted: 0, closed: 1 });
  });

  it('behavior: a deadline later than checkoutTimeoutMs leaves the pool timeout in charge (reason timeout)', async () => {
    const pool = fullPool({ checkoutTimeoutMs: 10 });
    expect(await Promise.resolve(pool.checkout({ deadline: performance.now() + 60_000 })).catch((error: unknown) => error)).toMatchObject({ reason: 'timeout' });
  });

  it('behavior: every granted checkout lands in the wait bucket of its wait: one that did not wait in the first', async () => {
    const pool = fullPool();
    const waiting = pool.checkout({ deadline: performance.now() + 60_000 });
    pool.release();
    await waiting;
    const { checkoutWaitBuckets, checkouts, checkoutWaitMs } = pool.stats();
    expect(checkouts).toBe(2);
    expect(checkoutWaitBuckets).toHaveLength(CHECKOUT_WAIT_BUCKETS_MS.length + 1);
    expect(checkoutWaitBuckets.reduce((a, b) => a + b, 0)).toBe(2);
    const waited = CHECKOUT_WAIT_BUCKETS_MS.findIndex((bound) => checkoutWaitMs.max <= bound);
    const expected = new Array<number>(CHECKOUT_WAIT_BUCKETS_MS.length + 1).fill(0);
    expected[0]!++;
    expected[waited < 0 ? CHECKOUT_WAIT_BUCKETS_MS.length : waited]!++;
    expect(checkoutWaitBuckets).toEqual(expected);
  });
});

describe('checkout through the runtime', () => {
  it('error: a call that finds every instance busy past checkoutTimeoutMs fails with CheckoutError (reason timeout) and is counted', async () => {
    const gate = deferred<number>();
    const entered = deferred();
    const caller = await runtime.load(fixture('host-caller'), {
      name: 'busy',
      limits: { timeoutMs: 30_000 },
      pool: { maxInstances: 1, checkoutTimeoutMs: 20 },
      imports: hostCallerImports({ slow: () => (entered.resolve(), gate.promise) }),
    });
    const held = caller.invoke('call-slow', [1]);
    await entered.promise;
    const failure = await caller.invoke('call-slow', [1]).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(CheckoutError);
    expect(failure).toMatchObject({ code: 'checkout-timeout', reason: 'timeout' });
    gate.resolve(1);
    expect((await held).ok).toBe(true);
    expect(caller.stats().checkoutErrors).toMatchObject({ timeout: 1 });
  });

  it("error: a call's own checkoutDeadline and signal bound its wait for a busy pool (reasons deadline and aborted)", async () => {
    const gate = deferred<number>();
    const entered = deferred();
    const caller = await runtime.load(fixture('host-caller'), {
      name: 'busy-bounded',
      limits: { timeoutMs: 30_000 },
      pool: { maxInstances: 1, checkoutTimeoutMs: 60_000 },
      imports: hostCallerImports({ slow: () => (entered.resolve(), gate.promise) }),
    });
    const held = caller.invoke('call-slow', [1]);
    await entered.promise;
    const late = await caller.invoke('call-slow', [1], { checkoutDeadline: performance.now() + 10 }).catch((error: unknown) => error);
    expect(late).toBeInstanceOf(CheckoutError);
    expect(late).toMatchObject({ code: 'checkout-timeout', reason: 'deadline' });
    const controller = new AbortController();
    const waiting = caller.invoke('call-slow', [1], { signal: controller.signal }).catch((error: unknown) => error);
    controller.abort();
    expect(await waiting).toMatchObject({ code: 'checkout-timeout', reason: 'aborted' });
    gate.resolve(1);
    expect((await held).ok).toBe(true);
    expect(caller.stats().checkoutErrors).toMatchObject({ deadline: 1, aborted: 1 });
  });
});

describe('idle instances per worker (idleInstances)', () => {
  it('behavior: past its share a worker recycles the instance idle longest (counted as idle); a component with minInstances keeps its own; the others still serve', async () => {
    const own = newRuntime({ threads: 1, idleInstances: 2 });
    try {
      const kept = await own.load(fixture('compute'), { name: 'kept', pool: { minInstances: 1 } });
      await expect.poll(() => kept.stats().size).toBe(1);
      const loaded: Component[] = [];
      for (let i = 0; i < 4; i++) loaded.push(await own.load(fixture('compute'), { name: `c${i}` }));
      // One after another: c0 is idle longest when c2 parks its instance, c1 when c3 does.
      for (const [i, c] of loaded.entries()) expect((await c.call('add', [i, 1])).value).toBe(i + 1);
      expect(loaded.map((c) => c.stats().size)).toEqual([0, 0, 0, 1]);
      expect(loaded.map((c) => c.stats().recycled.idle)).toEqual([1, 1, 1, 0]);
      expect(kept.stats()).toMatchObject({ size: 1, recycled: expect.objectContaining({ idle: 0 }) });
      // A recycled one builds a fresh instance at its next call, as after the reaper.
      expect((await loaded[0]!.call('add', [2, 2])).value).toBe(4);
      expect(loaded[0]!.stats()).toMatchObject({ created: 2, size: 1 });
    } finally {
      await own.close();
    }
  });

  it('error: idleInstances must be an integer of at least 1', () => {
    expect(() => newRuntime({ idleInstances: 0 })).toThrow(expect.objectContaining({ name: 'CorralRuntimeError', code: 'invalid-option', details: expect.objectContaining({ option: 'idleInstances' }) }));
  });
});
