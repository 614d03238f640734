import { DEFAULT_POOL } from '../limits/defaults.ts';
import { CorralRuntimeError } from '../errors/RuntimeError.ts';
import { COUNTER_SLOTS, Counter, MAX_WORKER_SLOTS } from './protocol.ts';

/**
 * Instance pool settings of one component. Instances live in worker threads (a wasm instance cannot
 * move between threads): each worker keeps the instances that can serve again, warm, until they are
 * idle past `maxIdleMs`. With `minInstances`, that many are built ahead of calls (a prewarm runs the
 * start functions and `configure` as a call would: under the component's fuel and deadline, watched
 * by the backstop, holding a checkout slot) and kept: not reaped, and rebuilt after recycling or traps.
 */
export interface PoolOptions {
  /** Calls of this component in flight at once (each needs its own instance). Default `DEFAULT_POOL.maxInstances`. */
  maxInstances: number;
  /** Calls one instance serves before it is recycled. Default `DEFAULT_POOL.maxUses`. */
  maxUses: number;
  /** Idle time after which an instance is reaped (the next call builds a fresh one), ms. Default `DEFAULT_POOL.maxIdleMs`. */
  maxIdleMs: number;
  /** How long a call waits for a free slot before failing with `checkout-timeout`, ms. Default `DEFAULT_POOL.checkoutTimeoutMs`. */
  checkoutTimeoutMs: number;
  /**
   * Instances kept built and ready, across workers (at most `maxInstances`). Default 0: an instance is
   * built by the first call that needs it. A prewarm that ends in a signal counts in
   * `stats().prewarm.failures`, and no further prewarm runs until a call of the component succeeds.
   */
  minInstances: number;
}

/**
 * Upper bounds (ms, inclusive) of the checkout wait histogram's buckets; a last, unbounded bucket
 * takes longer waits. A granted checkout that did not wait falls in the first.
 */
export const CHECKOUT_WAIT_BUCKETS_MS = [0, 1, 5, 10, 50, 100, 500, 1_000, 5_000] as const;

/**
 * Why a checkout failed: `timeout` (no slot within `checkoutTimeoutMs`), `deadline` (the caller's
 * own deadline came first), `aborted` (the caller's signal), `closed` (the component was unloaded or
 * the runtime closed while it waited).
 */
export type CheckoutErrorReason = 'timeout' | 'deadline' | 'aborted' | 'closed';

/** What bounds one checkout besides `checkoutTimeoutMs`. */
export interface CheckoutBounds {
  /** The caller's own deadline, on `performance.now()`'s clock: it waits no longer than this. */
  deadline?: number;
  /** Gives up waiting when aborted. */
  signal?: AbortSignal;
}

/**
 * A checkout that gave up: no slot became free in time (`reason` says whose time) or the caller
 * aborted. Code `checkout-timeout`, as before the reasons were told apart. No guest code ran.
 */
export class CheckoutError extends CorralRuntimeError {
  readonly reason: Exclude<CheckoutErrorReason, 'closed'>;
  /** How long the caller waited, ms. */
  readonly waitedMs: number;

  constructor(reason: Exclude<CheckoutErrorReason, 'closed'>, component: string, maxInstances: number, waitedMs: number) {
    const why = reason === 'timeout' ? 'within its checkout timeout' : reason === 'deadline' ? "before the caller's deadline" : 'before the caller gave up';
    super('checkout-timeout', `no instance of ${component} became free ${why} (${Math.round(waitedMs)} ms)`, { component, maxInstances, reason, waitedMs });
    this.reason = reason;
    this.waitedMs = waitedMs;
  }
}

export interface PoolStats {
  /** Checkouts granted so far (each call takes one). */
  checkouts: number;
  /** Time calls spent waiting for a checkout, in ms. */
  checkoutWaitMs: { total: number; max: number };
  /**
   * Granted checkouts per wait bucket: `counts[i]` waited at most `CHECKOUT_WAIT_BUCKETS_MS[i]` (and
   * more than the bound before); the last count, longer than every bound. Not cumulative.
   */
  checkoutWaitBuckets: number[];
  /** Checkouts that failed, by reason. */
  checkoutErrors: Record<CheckoutErrorReason, number>;
  /** Calls waiting for a checkout now. */
  waiting: number;
  /** Calls holding an instance now. */
  inUse: number;
  /** Instances built so far. */
  created: number;
  /** Instances alive now, idle or in use, across all workers: `created` minus all `recycled`. */
  size: number;
  /** Instances discarded so far, by reason. */
  recycled: { trap: number; limit: number; maxUses: number; idle: number; close: number; terminated: number; restart: number; exit: number };
  /** How many times the component was recycled (`Component.recycle()`). */
  generation: number;
  /** Prewarms run (`minInstances`), how many ended in a signal, and the last such signal's name. */
  prewarm: { runs: number; failures: number; lastSignal: string | null };
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
  /** Stops waiting: its timer and abort listener are removed. */
  done: () => void;
}

/** The main thread's side of a component's pool: checkout slots, and counters the workers update. */
export class InstancePool {
  readonly options: PoolOptions;
  readonly counterBuffer = new SharedArrayBuffer(COUNTER_SLOTS * 8);
  private readonly counters = new BigInt64Array(this.counterBuffer);

  /** Instances of this component alive in worker `threadId` (idle ones, when that worker runs no call). */
  aliveIn(threadId: number): number {
    return Number(Atomics.load(this.counters, Counter.LIVE_BASE + (threadId % MAX_WORKER_SLOTS)));
  }
  private readonly waiters: Waiter[] = [];
  private inUse = 0;
  private checkouts = 0;
  /** Prewarm bookkeeping, kept by the runtime. */
  readonly prewarm = { runs: 0, failures: 0, lastSignal: null as string | null, inFlight: 0, blocked: false };
  private waitTotal = 0;
  private waitMax = 0;
  private readonly waitBuckets: number[] = new Array<number>(CHECKOUT_WAIT_BUCKETS_MS.length + 1).fill(0);
  private readonly errors: Record<CheckoutErrorReason, number> = { timeout: 0, deadline: 0, aborted: 0, closed: 0 };

  constructor(options: Partial<PoolOptions> = {}, private readonly component = 'component') {
    this.options = { ...DEFAULT_POOL, ...options };
    for (const [key, value] of Object.entries(this.options)) {
      if (!Number.isFinite(value) || value < 0 || (key === 'maxInstances' && value < 1) || (key === 'minInstances' && (!Number.isInteger(value) || value > this.options.maxInstances))) {
        const expected = key === 'maxInstances' ? ' ≥ 1' : key === 'minInstances' ? ` (an integer) from 0 to maxInstances (${this.options.maxInstances})` : ' ≥ 0';
        throw new CorralRuntimeError('invalid-option', `pool option ${key} of ${component} must be a finite number${expected}, got ${value}`, { option: `pool.${key}`, component, value });
      }
    }
  }

  /**
   * Resolves when a slot is free; rejects with a `CheckoutError` when none is free within
   * `checkoutTimeoutMs`, by the caller's `deadline`, or when its `signal` aborts (whichever comes first).
   */
  checkout(bounds: CheckoutBounds = {}): Promise<void> | void {
    if (bounds.signal?.aborted) return Promise.reject(this.fail('aborted', 0));
    if (this.inUse < this.options.maxInstances && this.waiters.length === 0) {
      this.grant(0);
      return;
    }
    const since = performance.now();
    const toDeadline = bounds.deadline === undefined ? Infinity : Math.max(0, bounds.deadline - since);
    const reason = toDeadline < this.options.checkoutTimeoutMs ? 'deadline' : 'timeout';
    return new Promise<void>((resolve, reject) => {
      const giveUp = (why: Exclude<CheckoutErrorReason, 'closed'>) => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.done();
        reject(this.fail(why, performance.now() - since));
      };
      const timer = setTimeout(() => giveUp(reason), Math.min(toDeadline, this.options.checkoutTimeoutMs));
      const onAbort = () => giveUp('aborted');
      bounds.signal?.addEventListener('abort', onAbort, { once: true });
      const waiter: Waiter = {
        resolve: () => {
          waiter.done();
          this.grant(performance.now() - since);
          resolve();
        },
        reject: (error) => {
          this.errors.closed++;
          reject(error);
        },
        done: () => {
          clearTimeout(timer);
          bounds.signal?.removeEventListener('abort', onAbort);
        },
      };
      this.waiters.push(waiter);
    });
  }

  release(): void {
    this.inUse--;
    this.waiters.shift()?.resolve();
  }

  /** Fails every waiting caller (the runtime is closing). */
  rejectWaiting(error: Error): void {
    for (const waiter of this.waiters.splice(0)) {
      waiter.done();
      waiter.reject(error);
    }
  }

  /** Counts the instances of a terminated worker as recycled; they died with it. */
  writeOffWorker(threadId: number): void {
    const index = Counter.LIVE_BASE + (threadId % MAX_WORKER_SLOTS);
    const lost = Atomics.exchange(this.counters, index, 0n);
    Atomics.add(this.counters, Counter.RECYCLED_TERMINATED, lost);
  }

  /**
   * Counts every live instance in the workers `threadIds` as recycled by `close` (the workers are being
   * destroyed). Only their slots: a pass over all MAX_WORKER_SLOTS (1,024) per component was 336 ms of a 2,000-module stop.
   */
  writeOffAll(threadIds: readonly number[]): void {
    for (const threadId of threadIds) {
      const lost = Atomics.exchange(this.counters, Counter.LIVE_BASE + (threadId % MAX_WORKER_SLOTS), 0n);
      Atomics.add(this.counters, Counter.RECYCLED_CLOSE, lost);
    }
  }

  /** Starts a new generation: every instance built before is discarded instead of reused. */
  recycle(): void {
    Atomics.add(this.counters, Counter.GENERATION, 1n);
  }

  /** Tells the workers the component is unloaded: each drops it with its instances at its next call or idle sweep. */
  markUnloaded(): void {
    Atomics.store(this.counters, Counter.UNLOADED, 1n);
  }

  stats(): PoolStats {
    const c = (i: number) => Number(Atomics.load(this.counters, i));
    let size = 0;
    for (let s = 0; s < MAX_WORKER_SLOTS; s++) size += c(Counter.LIVE_BASE + s);
    return {
      checkouts: this.checkouts,
      checkoutWaitMs: { total: this.waitTotal, max: this.waitMax },
      checkoutWaitBuckets: [...this.waitBuckets],
      checkoutErrors: { ...this.errors },
      waiting: this.waiters.length,
      inUse: this.inUse,
      created: c(Counter.CREATED),
      size,
      recycled: {
        trap: c(Counter.RECYCLED_TRAP),
        limit: c(Counter.RECYCLED_LIMIT),
        maxUses: c(Counter.RECYCLED_MAX_USES),
        idle: c(Counter.RECYCLED_IDLE),
        close: c(Counter.RECYCLED_CLOSE),
        terminated: c(Counter.RECYCLED_TERMINATED),
        restart: c(Counter.RECYCLED_RESTART),
        exit: c(Counter.RECYCLED_EXIT),
      },
      generation: c(Counter.GENERATION),
      prewarm: { runs: this.prewarm.runs, failures: this.prewarm.failures, lastSignal: this.prewarm.lastSignal },
    };
  }

  private grant(waitedMs: number): void {
    this.inUse++;
    this.checkouts++;
    this.waitTotal += waitedMs;
    if (waitedMs > this.waitMax) this.waitMax = waitedMs;
    let bucket = 0;
    while (bucket < CHECKOUT_WAIT_BUCKETS_MS.length && waitedMs > CHECKOUT_WAIT_BUCKETS_MS[bucket]!) bucket++;
    this.waitBuckets[bucket]!++;
  }

  private fail(reason: Exclude<CheckoutErrorReason, 'closed'>, waitedMs: number): CheckoutError {
    this.errors[reason]++;
    return new CheckoutError(reason, this.component, this.options.maxInstances, waitedMs);
  }
}
