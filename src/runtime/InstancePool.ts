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
  /** Calls of this component in flight at once (each needs its own instance). Default 64. */
  maxInstances: number;
  /** Calls one instance serves before it is recycled. Default 10,000. */
  maxUses: number;
  /** Idle time after which an instance is reaped (the next call builds a fresh one). Default 60 s. */
  maxIdleMs: number;
  /** How long a call waits for a free slot before failing with `checkout-timeout`. Default 5 s. */
  checkoutTimeoutMs: number;
  /**
   * Instances kept built and ready, across workers (at most `maxInstances`). Default 0: an instance is
   * built by the first call that needs it. A prewarm that ends in a signal counts in
   * `stats().prewarm.failures`, and no further prewarm runs until a call of the component succeeds.
   */
  minInstances: number;
}

export interface PoolStats {
  /** Checkouts granted so far (each call takes one). */
  checkouts: number;
  /** Time calls spent waiting for a checkout, in ms. */
  checkoutWaitMs: { total: number; max: number };
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
  timer: NodeJS.Timeout;
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

  constructor(options: Partial<PoolOptions> = {}, private readonly component = 'component') {
    this.options = { ...DEFAULT_POOL, ...options };
    for (const [key, value] of Object.entries(this.options)) {
      if (!Number.isFinite(value) || value < 0 || (key === 'maxInstances' && value < 1) || (key === 'minInstances' && (!Number.isInteger(value) || value > this.options.maxInstances))) {
        const expected = key === 'maxInstances' ? ' ≥ 1' : key === 'minInstances' ? ` (an integer) from 0 to maxInstances (${this.options.maxInstances})` : ' ≥ 0';
        throw new CorralRuntimeError('invalid-option', `pool option ${key} of ${component} must be a finite number${expected}, got ${value}`, { option: `pool.${key}`, component, value });
      }
    }
  }

  /** Resolves when a slot is free, or rejects with `checkout-timeout` after `checkoutTimeoutMs`. */
  checkout(): Promise<void> | void {
    if (this.inUse < this.options.maxInstances && this.waiters.length === 0) {
      this.grant(0);
      return;
    }
    const since = performance.now();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          clearTimeout(waiter.timer);
          this.grant(performance.now() - since);
          resolve();
        },
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(
            new CorralRuntimeError('checkout-timeout', `no instance of ${this.component} became free within ${this.options.checkoutTimeoutMs} ms`, {
              component: this.component,
              maxInstances: this.options.maxInstances,
            }),
          );
        }, this.options.checkoutTimeoutMs),
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
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }

  /** Counts the instances of a terminated worker as recycled; they died with it. */
  writeOffWorker(threadId: number): void {
    const index = Counter.LIVE_BASE + (threadId % MAX_WORKER_SLOTS);
    const lost = Atomics.exchange(this.counters, index, 0n);
    Atomics.add(this.counters, Counter.RECYCLED_TERMINATED, lost);
  }

  /** Counts every live instance as recycled by `close` (the workers are being destroyed). */
  writeOffAll(): void {
    for (let s = 0; s < MAX_WORKER_SLOTS; s++) {
      const lost = Atomics.exchange(this.counters, Counter.LIVE_BASE + s, 0n);
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
  }
}
