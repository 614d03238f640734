/**
 * Shadow runs' cost to the live module (issue 25, docs/shadow.md): the latency of the live module's
 * steps (a custom event that reads and writes one key: `engine.deliver` until committed) of a module
 * without a shadow and of one shadowed by an identical candidate, in interleaved rounds in one
 * engine, so both sides share the machine's load. The shadowed module's candidate works
 * while the next live steps run (it is not waited for inside a round), as it would in production.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Engine } from '../src/engine/Engine.ts';
import type { Runtime } from '../src/index.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;

const STEPS_PER_ROUND = 200;
const ROUNDS = 7;
const TARGET = 1.1;

export async function benchShadow(runtime: Runtime, fixture: (name: string) => string, row: Row) {
  const grants = { store: true, logging: true, chain: { chains: [] }, http: { hosts: [] }, cowApi: { chains: [] } };
  // One engine, two modules of the same component: `plain`, and `shadowed` with its candidate (one
  // engine, so both share its store, thread and runtime alike).
  const module = (name: string, shadow: boolean) => ({ name, component: fixture('explorer'), grants, limits: { timeoutMs: 5_000 }, ...(shadow ? { shadow: { component: fixture('explorer') } } : {}) });
  const engine = await Engine.start({
    runtime,
    stateDir: mkdtempSync(join(tmpdir(), 'corral-bench-shadow-')),
    logger: pino({ level: 'silent' }),
    modules: [module('plain', false), module('shadowed', true)],
  });
  const payload = JSON.stringify({ op: 'count' });
  const sequence = new Map<string, number>();
  const steps = async (name: string, n: number, samples: number[] | undefined) => {
    for (let i = 0; i < n; i++) {
      const seq = (sequence.get(name) ?? 0) + 1;
      sequence.set(name, seq);
      const t = performance.now();
      const outcome = await engine.deliver(name, { tag: 'custom', val: { topic: 'cmd', payload } }, { seq });
      samples?.push(performance.now() - t);
      if (!outcome.ok) throw new Error(`a step failed: ${JSON.stringify(outcome)}`);
    }
  };
  try {
    // Warm both: instances built, code tiered up.
    await steps('plain', 50, undefined);
    await steps('shadowed', 50, undefined);
    await engine.shadowSettled('shadowed');
    const without: number[] = [];
    const withShadow: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const [first, second] = round % 2 === 0 ? ([['plain', without], ['shadowed', withShadow]] as const) : ([['shadowed', withShadow], ['plain', without]] as const);
      await steps(first[0], STEPS_PER_ROUND, first[1]);
      await engine.shadowSettled('shadowed');
      await steps(second[0], STEPS_PER_ROUND, second[1]);
      await engine.shadowSettled('shadowed');
    }
    const a = summarize(without);
    const b = summarize(withShadow);
    const report = engine.shadowReport('shadowed')!;
    const ratio = b.p50 / a.p50;
    row('shadow: live step latency without a shadow (p50 / p99)', `${a.p50.toFixed(3)} / ${a.p99.toFixed(3)} ms`);
    row('shadow: live step latency with an identical candidate (p50 / p99)', `${b.p50.toFixed(3)} / ${b.p99.toFixed(3)} ms`);
    row('shadow: overhead on the live step (p50 ratio; p99 ratio)', `${ratio.toFixed(3)}×; ${(b.p99 / a.p99).toFixed(3)}×`, `≤ ${TARGET}×`, ratio <= TARGET);
    row('shadow: candidate steps same / different / skipped / failed', `${report.steps.same} / ${report.steps.different} / ${report.steps.skipped} / ${report.steps.failed}`);
    return { without: a, withShadow: b, ratioP50: ratio, ratioP99: b.p99 / a.p99, steps: report.steps };
  } finally {
    await engine.stop();
  }
}
