import type { Clock } from '../clock/Clock.ts';

/**
 * A token bucket: `perMinute` tokens at most, refilled continuously at `perMinute` a minute. A full
 * bucket allows a burst of `perMinute`; after that one more every 60/`perMinute` seconds. Time is the
 * injected clock's, so tests step it.
 */
export class RateLimiter {
  private tokens: number;
  private at: number;

  constructor(
    private readonly perMinute: number,
    private readonly clock: Clock,
  ) {
    this.tokens = perMinute;
    this.at = clock.now();
  }

  /** Takes a token; false when none is left (nothing is taken then). */
  take(): boolean {
    const now = this.clock.now();
    this.tokens = Math.min(this.perMinute, this.tokens + ((now - this.at) * this.perMinute) / 60_000);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
