/**
 * How a retry waits: from `initialMs`, `factor` times longer after each further failure, never
 * longer than `maxMs`; optionally spread at random by ±`jitter`, so callers that failed together
 * (modules, engines on one node) do not retry together.
 */
export interface BackoffOptions {
  /** Wait before the first retry (ms). */
  initialMs: number;
  /** Longest wait (ms), the random spread included. */
  maxMs: number;
  /** Growth from one retry to the next. Default 2. */
  factor?: number;
  /** ± fraction of each wait drawn at random, 0–1. Default 0: no spread. */
  jitter?: number;
}

/**
 * The wait before retry number `retry` (0: the first), in whole ms. Pure: the randomness is handed in
 * (`random`, in [0, 1)), so a test or a seeded supervisor gets the same waits every run.
 *
 * @example
 * backoffDelay(0, { initialMs: 250, maxMs: 30_000 }); // 250
 * backoffDelay(3, { initialMs: 250, maxMs: 30_000 }); // 2_000
 * backoffDelay(9, { initialMs: 250, maxMs: 30_000 }); // 30_000
 */
export function backoffDelay(retry: number, options: BackoffOptions, random: () => number = Math.random): number {
  const { initialMs, maxMs, factor = 2, jitter = 0 } = options;
  // `factor ** retry` overflows to Infinity after enough retries; 0 × Infinity would be NaN.
  const base = initialMs <= 0 ? 0 : Math.min(maxMs, initialMs * factor ** retry);
  const spread = jitter > 0 ? 1 - jitter + 2 * jitter * random() : 1;
  return Math.round(Math.min(maxMs, base * spread));
}
