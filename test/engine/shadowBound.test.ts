/**
 * The pre-images a shadow holds stay within DEFAULT_SHADOW.heldCommits whatever the live module does:
 * with its candidate's queue full (steps skipped), and with a long candidate step in flight (each of
 * its host calls waits for a live step). The bound is lowered to 16 for the test (read at load), and
 * the commits held are observed through ShadowState's own counter as each commit is heard.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/Clock.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { ShadowState } from '../../src/engine/ShadowState.ts';
import { DEFAULT_SHADOW } from '../../src/limits/defaults.ts';
import { fixture, newRuntime } from '../helpers.ts';

const runtime = newRuntime();
afterAll(() => runtime.close());

const BOUND = 16;
const bound = DEFAULT_SHADOW as { heldCommits: number };
const proto = ShadowState.prototype as unknown as { heardCommit: (before: Map<string, unknown>) => void };
const heardCommit = proto.heardCommit;
let most = 0;
beforeEach(() => {
  most = 0;
  bound.heldCommits = BOUND;
  // The most commits held just after one is heard (and the bound applied to it).
  proto.heardCommit = function (this: ShadowState, before) {
    heardCommit.call(this, before);
    most = Math.max(most, this.heard);
  };
});
afterEach(() => {
  proto.heardCommit = heardCommit;
  bound.heldCommits = 4_096;
});

async function counterEngine() {
  const engine = await Engine.start({
    runtime,
    stateDir: mkdtempSync(join(tmpdir(), 'corral-shadow-bound-')),
    logger: pino({ level: 'silent' }),
    clock: new ManualClock(),
    modules: [{ name: 'counter', component: fixture('counter'), grants: { store: true, logging: true }, topics: ['cmd'], limits: { fuel: 1e12, timeoutMs: 20_000 }, shadow: { component: fixture('counter') } }],
  });
  let seq = 0;
  const run = (command: object) => engine.deliver('counter', { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify(command) } }, { seq: ++seq });
  return { engine, run };
}

describe('shadow: the pre-images held are bounded', () => {
  it('behavior: steps arriving to a full queue do not grow the pre-images past heldCommits (the oldest queued steps are skipped)', async () => {
    const { engine, run } = await counterEngine();
    try {
      // Ten fill the queue (8); two hundred more arrive while the module is busy, to a full queue.
      const first = Array.from({ length: 10 }, () => run({ op: 'incr' }));
      await first[8];
      const steps = [...first, ...Array.from({ length: 200 }, () => run({ op: 'incr' }))];
      for (const outcome of await Promise.all(steps)) expect(outcome).toMatchObject({ ok: true });
      await engine.shadowSettled('counter');
      // The bound was reached (the case is exercised), and never passed.
      expect(most).toBeGreaterThanOrEqual(BOUND);
      expect(most).toBeLessThanOrEqual(BOUND);
      const { steps: counts } = engine.shadowReport('counter')!;
      expect(counts.different + counts.failed).toBe(0);
      expect(counts.same + counts.skipped).toBe(210);
    } finally {
      await engine.stop();
    }
  }, 30_000);

  it('behavior: a long candidate step in flight while the module is busy is abandoned at the bound (skipped, not compared), instead of holding every commit since', async () => {
    const { engine, run } = await counterEngine();
    try {
      // A step of 250 host calls; its candidate starts in the pause after it, and the burst follows
      // before it can end: each of its host calls then waits for one live step.
      expect(await run({ op: 'reads', n: 250 })).toMatchObject({ ok: true });
      const steps = Array.from({ length: 300 }, () => run({ op: 'incr' }));
      for (const outcome of await Promise.all(steps)) expect(outcome).toMatchObject({ ok: true });
      await engine.shadowSettled('counter');
      expect(most).toBeGreaterThanOrEqual(BOUND);
      expect(most).toBeLessThanOrEqual(BOUND);
      // Nothing compared from a state that was released: no failure, and no difference but fuel (the
      // first step compared runs on a cold candidate instance against a warm live one: docs/shadow.md).
      const { steps: counts, differences } = engine.shadowReport('counter')!;
      expect(counts.failed).toBe(0);
      expect(differences.flatMap((step) => step.differences.map((d) => d.kind)).filter((kind) => kind !== 'fuel')).toEqual([]);
      expect(counts.same + counts.different + counts.skipped).toBe(301);
      expect(counts.skipped).toBeGreaterThan(0);
    } finally {
      await engine.stop();
    }
  }, 30_000);
});
