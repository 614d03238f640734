import { describe, expect, it } from 'vitest';
import { SPIN_BACKOFF_MAX, SPIN_MISSES } from '../../src/limits/defaults.ts';
import { SpinGate } from '../../src/runtime/worker/SpinGate.ts';

// The worker's decision to spin for a host call's answer (src/runtime/worker/SpinGate.ts): it counts
// what the spins caught, so the same outcomes give the same decisions.

/** The decisions of `gate` for `n` waits whose answers came after the spin (a miss) each time it spun. */
function decisions(gate: SpinGate, n: number, caught = false): boolean[] {
  const spun: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const spin = gate.spin();
    spun.push(spin);
    if (spin) gate.record(caught);
  }
  return spun;
}

describe('SpinGate', () => {
  it('default: a gate spins while its spins catch answers', () => {
    expect(decisions(new SpinGate(), 1_000, true).every(Boolean)).toBe(true);
  });

  it('behavior: after SPIN_MISSES misses in a row it stops spinning, probing after 1, 2, 4 … calls', () => {
    const spun = decisions(new SpinGate(), SPIN_MISSES + 1 + 1 + 2 + 1 + 4 + 1);
    const expected = [
      ...Array<boolean>(SPIN_MISSES).fill(true),
      false, // backoff 1
      true, // probe: misses
      false, false, // backoff 2
      true,
      false, false, false, false, // backoff 4
      true,
    ];
    expect(spun).toEqual(expected);
  });

  it('behavior: the backoff stops doubling at SPIN_BACKOFF_MAX calls', () => {
    const gate = new SpinGate();
    const spun = decisions(gate, 20 * SPIN_BACKOFF_MAX);
    const tail = spun.slice(-4 * SPIN_BACKOFF_MAX);
    const gaps: number[] = [];
    let run = 0;
    for (const s of tail) {
      if (s) {
        gaps.push(run);
        run = 0;
      } else run++;
    }
    expect(gaps.slice(1)).toEqual(gaps.slice(1).map(() => SPIN_BACKOFF_MAX));
  });

  it('behavior: one probe that catches an answer brings the spin back at once', () => {
    const gate = new SpinGate();
    decisions(gate, 10 * SPIN_BACKOFF_MAX); // backed off to the maximum
    let untilProbe = 0;
    while (!gate.spin()) untilProbe++;
    expect(untilProbe).toBeLessThanOrEqual(SPIN_BACKOFF_MAX);
    gate.record(true);
    expect(decisions(gate, 100, true).every(Boolean)).toBe(true);
  });

  it('behavior: misses that are not in a row do not stop the spin', () => {
    const gate = new SpinGate();
    const spun: boolean[] = [];
    for (let i = 0; i < 1_000; i++) {
      spun.push(gate.spin());
      gate.record(i % SPIN_MISSES !== 0); // SPIN_MISSES - 1 misses at most between catches
    }
    expect(spun.every(Boolean)).toBe(true);
  });
});
