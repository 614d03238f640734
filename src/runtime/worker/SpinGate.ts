import { SPIN_BACKOFF_MAX, SPIN_MISSES } from '../../limits/defaults.ts';

/**
 * Decides, from what the last spins caught, whether a worker spins for a host call's answer before it
 * sleeps in `Atomics.wait`. A spin pays only when the answer comes within it: where futex wake-ups are
 * slow and a core is free, it saves the sleep and the wake-up; where the machine is busy, the spinning
 * worker takes the core the main thread needs to answer, and every spin is lost time. So: spin while
 * spins catch answers; after `SPIN_MISSES` misses in a row, stop spinning, and probe with one spin
 * again after 1, 2, 4 … up to `SPIN_BACKOFF_MAX` calls (a catch resets the backoff). Deterministic:
 * it counts outcomes, never times them.
 */
export class SpinGate {
  private misses = 0;
  /** Calls left to make without a spin before the next probe. */
  private skip = 0;
  private backoff = 0;

  /** Whether to spin before this wait. */
  spin(): boolean {
    if (this.skip === 0) return true;
    this.skip--;
    return false;
  }

  /** What the spin of a wait did: `true` if the answer came while spinning. */
  record(caught: boolean): void {
    if (caught) {
      this.misses = 0;
      this.backoff = 0;
      return;
    }
    if (++this.misses < SPIN_MISSES && this.backoff === 0) return;
    // Enough misses in a row, or a probe during a backoff missed: sleep at once for twice as long.
    this.misses = 0;
    this.backoff = Math.min(SPIN_BACKOFF_MAX, Math.max(1, this.backoff * 2));
    this.skip = this.backoff;
  }
}
