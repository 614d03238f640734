/**
 * Shadow runs' cost to the live module (issue 25, docs/shadow.md): the latency of the live module's
 * steps (a custom event that reads and writes one key: `engine.deliver` until committed) of a module
 * without a shadow and of one shadowed by an identical candidate, in interleaved rounds in one
 * engine, so both sides share the machine's load. A third module, `control`, is `plain` again: its
 * ratio to `plain` is the run's noise floor (what a ratio means on a machine whose load moves). The shadowed module's candidate works
 * while the next live steps run (it is not waited for inside a round), as it would in production.
 *
 * Two ways of issuing steps:
 * - saturated: each step as soon as the one before it committed (the module never idles);
 * - paced: steps on a fixed schedule at `PACED_LOAD` of the rate the plain module sustained in the
 *   saturated rounds of the same run (its mean step time), as blocks and custom events arrive in
 *   production; each step's latency runs from its issue to its commit, so it includes any wait behind
 *   the step before it. The schedule is kept with timers: steps due while a timer was late go out
 *   together when it fires, and an interval under the timers' 1 ms resolution is stretched to 1 ms
 *   (the load actually reached is reported).
 */
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Engine } from '../src/engine/Engine.ts';
import type { ShadowReport } from '../src/engine/ShadowReport.ts';
import type { Runtime } from '../src/index.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;

/** Many short rounds rather than a few long ones: the machine's load moves within seconds, and each module must meet it alike. */
const STEPS_PER_ROUND = 50;
const ROUNDS = 28;
/** Paced: the share of the plain module's saturated rate the schedule asks for. */
const PACED_LOAD = 0.6;
/** setTimeout's resolution: a shorter interval cannot be kept step by step. */
const TIMER_MS = 1;
const TARGET = 1.1;

type Steps = ShadowReport['steps'];
const minus = (a: Steps, b: Steps): Steps => ({ same: a.same - b.same, different: a.different - b.different, skipped: a.skipped - b.skipped, failed: a.failed - b.failed });
const counts = (s: Steps) => `${s.same} / ${s.different} / ${s.skipped} / ${s.failed}`;

export async function benchShadow(runtime: Runtime, fixture: (name: string) => string, row: Row) {
  const grants = { store: true, logging: true, chain: { chains: [] }, http: { hosts: [] }, cowApi: { chains: [] } };
  // One engine, two modules of the same component: `plain`, and `shadowed` with its candidate (one
  // engine, so both share its store, thread and runtime alike).
  const module = (name: string, shadow: boolean) => ({ name, component: fixture('explorer'), grants, limits: { timeoutMs: 5_000 }, ...(shadow ? { shadow: { component: fixture('explorer') } } : {}) });
  const engine = await Engine.start({
    runtime,
    stateDir: mkdtempSync(join(tmpdir(), 'corral-bench-shadow-')),
    logger: pino({ level: 'silent' }),
    modules: [module('plain', false), module('shadowed', true), module('control', false)],
  });
  const payload = JSON.stringify({ op: 'count' });
  const sequence = new Map<string, number>();
  /** One step of `name`, resolving with its latency (ms) from now to its commit. */
  const step = async (name: string): Promise<number> => {
    const seq = (sequence.get(name) ?? 0) + 1;
    sequence.set(name, seq);
    const t = performance.now();
    const outcome = await engine.deliver(name, { tag: 'custom', val: { topic: 'cmd', payload } }, { seq });
    if (!outcome.ok) throw new Error(`a step failed: ${JSON.stringify(outcome)}`);
    return performance.now() - t;
  };
  const saturated = async (name: string, n: number, samples: number[] | undefined) => {
    for (let i = 0; i < n; i++) {
      const ms = await step(name);
      samples?.push(ms);
    }
  };
  /** `n` steps issued every `intervalMs` from now, not waiting for each other; resolves when all committed, with the time it took. */
  const paced = async (name: string, n: number, intervalMs: number, samples: number[]): Promise<number> => {
    const start = performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < n; ) {
      const due = start + i * intervalMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      // Every step due by now goes out (after a late timer, more than one).
      for (const now = performance.now(); i < n && start + i * intervalMs <= now; i++) pending.push(step(name).then((ms) => void samples.push(ms)));
    }
    await Promise.all(pending);
    return performance.now() - start;
  };
  /** Interleaved rounds of the three modules (the order rotates); the candidate catches up between them. */
  const rounds = async (run: (name: string, samples: number[]) => Promise<unknown>) => {
    const samples = { plain: [] as number[], shadowed: [] as number[], control: [] as number[] };
    const names = ['plain', 'shadowed', 'control'] as const;
    const before = engine.shadowReport('shadowed')!.steps;
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(round + i) % names.length]!;
        await run(name, samples[name]);
        await engine.shadowSettled('shadowed');
      }
    }
    const without = samples.plain;
    return { without: summarize(without), withShadow: summarize(samples.shadowed), control: summarize(samples.control), mean: without.reduce((a, b) => a + b, 0) / without.length, steps: minus(engine.shadowReport('shadowed')!.steps, before) };
  };
  const report = (label: string, r: Awaited<ReturnType<typeof rounds>>) => {
    const { without: a, withShadow: b, control: c } = r;
    const ratio = b.p50 / a.p50;
    row(`shadow ${label}: live step latency without a shadow (p50 / p99)`, `${a.p50.toFixed(3)} / ${a.p99.toFixed(3)} ms`);
    row(`shadow ${label}: live step latency with an identical candidate (p50 / p99)`, `${b.p50.toFixed(3)} / ${b.p99.toFixed(3)} ms`);
    row(`shadow ${label}: overhead on the live step (p50 ratio; p99 ratio)`, `${ratio.toFixed(3)}×; ${(b.p99 / a.p99).toFixed(3)}×`, `≤ ${TARGET}×`, ratio <= TARGET);
    row(`shadow ${label}: control, plain again (p50 ratio; p99 ratio: the noise floor)`, `${(c.p50 / a.p50).toFixed(3)}×; ${(c.p99 / a.p99).toFixed(3)}×`);
    row(`shadow ${label}: candidate steps same / different / skipped / failed`, counts(r.steps));
    return { without: a, withShadow: b, control: c, ratioP50: ratio, ratioP99: b.p99 / a.p99, controlP50: c.p50 / a.p50, controlP99: c.p99 / a.p99, steps: r.steps };
  };
  try {
    const load = loadavg()[0]!;
    // Warm both: instances built, code tiered up.
    await saturated('plain', 50, undefined);
    await saturated('shadowed', 50, undefined);
    await saturated('control', 50, undefined);
    await engine.shadowSettled('shadowed');
    const sat = await rounds((name, samples) => saturated(name, STEPS_PER_ROUND, samples));
    // The schedule from the plain module's own rate in this run.
    const intervalMs = Math.max(sat.mean / PACED_LOAD, TIMER_MS);
    let elapsed = 0;
    const pac = await rounds(async (name, samples) => {
      const ms = await paced(name, STEPS_PER_ROUND, intervalMs, samples);
      if (name === 'plain') elapsed += ms;
    });
    row('shadow: load average (1 min) at the start', load.toFixed(2));
    const saturatedResult = report('saturated', sat);
    row('shadow paced: interval (plain module\'s mean saturated step / load reached)', `${intervalMs.toFixed(3)} ms (${sat.mean.toFixed(3)} ms / ${((ROUNDS * STEPS_PER_ROUND * sat.mean) / elapsed).toFixed(2)})`);
    const pacedResult = report('paced', pac);
    return { loadAverage: load, saturated: saturatedResult, paced: { intervalMs, ...pacedResult } };
  } finally {
    await engine.stop();
  }
}
