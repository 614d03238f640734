/**
 * Time as the actors and the supervisor see it. Injected so tests drive backoff and breaker
 * cooldowns step by step (`ManualClock`) instead of sleeping. Compatible with xstate's clock.
 */
export interface Clock {
  /** Milliseconds, monotonic within one clock. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/**
 * The real clock: `performance.timeOrigin + performance.now()` (epoch ms) and real timers; a pending
 * backoff keeps the process alive until `Supervisor.stop()` clears it. A zero delay runs on the next
 * turn of the event loop instead of Node's 1 ms minimum for `setTimeout`.
 */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout: (fn, ms) => (ms <= 0 ? setImmediate(fn) : setTimeout(fn, ms)),
  clearTimeout: (id) => {
    if (id && typeof id === 'object' && 'hasRef' in id && id.constructor.name === 'Immediate') clearImmediate(id as NodeJS.Immediate);
    else clearTimeout(id as NodeJS.Timeout);
  },
};

/**
 * A clock that moves only when told to. `advance(ms)` runs the timers that fall due, in order.
 *
 * @example
 * const clock = new ManualClock();
 * clock.setTimeout(() => console.log('fired'), 100);
 * clock.advance(100); // fired
 */
export class ManualClock implements Clock {
  private time: number;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): number {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(id: unknown): void {
    this.timers.delete(id as number);
  }

  /** Moves time forward by `ms`, firing every timer due on the way (timers set by timers included). */
  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.time = next[1].at;
      next[1].fn();
    }
    this.time = target;
  }

  /** Delays of the timers still pending, from now. */
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.time).sort((a, b) => a - b);
  }
}
