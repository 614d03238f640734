import { describe, expect, it } from 'vitest';
import { backoffDelay, type BackoffOptions } from '../../src/clock/backoff.ts';

describe('backoffDelay', () => {
  it('default: doubles from initialMs, without spread', () => {
    expect([0, 1, 2, 3].map((retry) => backoffDelay(retry, { initialMs: 250, maxMs: 30_000 }))).toEqual([250, 500, 1_000, 2_000]);
  });

  it.each<[string, number, BackoffOptions, number, number]>([
    ['the cap holds from the retry that reaches it', 7, { initialMs: 250, maxMs: 30_000 }, 0.5, 30_000],
    ['the cap holds where factor ** retry overflows', 5_000, { initialMs: 1_000, maxMs: 60_000 }, 0.5, 60_000],
    ['a zero initial wait stays zero, however many retries', 5_000, { initialMs: 0, maxMs: 30_000 }, 0.5, 0],
    ['a factor of its own', 2, { initialMs: 100, maxMs: 30_000, factor: 3 }, 0.5, 900],
    ['a fractional factor is rounded to whole ms', 1, { initialMs: 100, maxMs: 30_000, factor: 1.5 }, 0.5, 150],
    ['jitter: random 0 gives the low end', 0, { initialMs: 100, maxMs: 30_000, jitter: 0.2 }, 0, 80],
    ['jitter: random 0.5 gives the middle', 0, { initialMs: 100, maxMs: 30_000, jitter: 0.2 }, 0.5, 100],
    ['jitter: random near 1 gives the high end', 0, { initialMs: 100, maxMs: 30_000, jitter: 0.2 }, 0.999_999, 120],
    ['jitter never lifts a wait past the cap', 10, { initialMs: 250, maxMs: 30_000, jitter: 0.3 }, 0.999_999, 30_000],
  ])('args: %s', (_, retry, options, random, expected) => {
    expect(backoffDelay(retry, options, () => random)).toBe(expected);
  });

  it('behavior: without jitter the random source is not consulted', () => {
    let draws = 0;
    backoffDelay(3, { initialMs: 250, maxMs: 30_000 }, () => (draws++, 0.5));
    expect(draws).toBe(0);
  });
});
