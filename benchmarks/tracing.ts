/**
 * Tracing's cost per step (issue 24: "tracing off vs on: per-step overhead"): the same custom event
 * (the watcher fixture: three store calls and a commit) through engines side by side, in interleaved
 * rounds so that load from other processes falls on every variant alike: tracing off (no tracer: the
 * path main takes, plus one `undefined` check per site), on with every span sampled and batched into
 * an in-memory exporter (the batch processor `[engine.tracing]` uses), and on without host-call spans.
 * A second engine with tracing off gives the noise floor.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import type { Runtime } from '../src/index.ts';
import { Engine } from '../src/engine/Engine.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;
const us = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;

const VARIANTS = ['off', 'off (again)', 'on', 'on, no host-call spans'] as const;
type Variant = (typeof VARIANTS)[number];

export async function benchTracing(runtime: Runtime, fixture: (name: string) => string, row: Row, rounds = 20, perRound = 50): Promise<Record<string, unknown>> {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] });
  const tracer = provider.getTracer('bench');
  const engines = new Map<Variant, Engine>();
  try {
    for (const variant of VARIANTS) {
      const tracing = variant === 'on' ? { tracer } : variant === 'on, no host-call spans' ? { tracer, traceHostCalls: false } : {};
      engines.set(
        variant,
        await Engine.start({
          runtime,
          stateDir: mkdtempSync(join(tmpdir(), 'corral-bench-tracing-')),
          logger: pino({ level: 'silent' }),
          modules: [{ name: 'w', component: fixture('watcher'), grants: { store: true, logging: true }, limits: { fuel: 1e10, timeoutMs: 10_000 }, topics: ['cmd'] }],
          ...tracing,
        }),
      );
    }
    const seq = new Map<Variant, number>(VARIANTS.map((v) => [v, 0]));
    const step = async (variant: Variant): Promise<number> => {
      const n = seq.get(variant)! + 1;
      seq.set(variant, n);
      const t = performance.now();
      const outcome = await engines.get(variant)!.deliver('w', { tag: 'custom', val: { topic: 'cmd', payload: '{}' } }, { seq: n });
      const ms = performance.now() - t;
      if (!outcome.ok) throw new Error(`benchmark step failed: ${JSON.stringify(outcome)}`);
      return ms;
    };
    for (const variant of VARIANTS) for (let i = 0; i < perRound; i++) await step(variant); // warm-up: instances built, code tiered up
    const samples = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    /** Each round's p50 per variant: ratios are taken round by round, so a burst of load skews no single variant. */
    const roundP50 = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    for (let r = 0; r < rounds; r++) {
      // Rotated, so no variant always runs first (or right after the same neighbour).
      const order = VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length]!);
      for (const variant of order) {
        const round: number[] = [];
        for (let i = 0; i < perRound; i++) round.push(await step(variant));
        samples.get(variant)!.push(...round);
        roundP50.get(variant)!.push(summarize(round).p50);
      }
      exporter.reset();
    }
    const median = (xs: number[]) => summarize(xs).p50;
    const ratio = (variant: Variant) => median(roundP50.get(variant)!.map((p, r) => p / roundP50.get('off')![r]!));
    const results: Record<string, unknown> = { rounds, perRound };
    for (const variant of VARIANTS) {
      const s = summarize(samples.get(variant)!);
      const vsOff = ratio(variant);
      results[variant] = { p50Ms: s.p50, p99Ms: s.p99, vsOff };
      const label = `tracing: per-step, ${variant === 'on' ? 'on (100 % sampled, batched into an in-memory exporter, host-call spans)' : variant}`;
      if (variant === 'off') row(label, `${us(s.p50)} p50, ${us(s.p99)} p99`);
      else if (variant === 'off (again)') row(label, `${us(s.p50)} p50 (${((vsOff - 1) * 100).toFixed(1)} % vs off: the noise floor)`, 'off within 1 % of main', null);
      else row(label, `${us(s.p50)} p50, ${us(s.p99)} p99 (+${((vsOff - 1) * 100).toFixed(1)} % vs off)`);
    }
    return results;
  } finally {
    for (const engine of engines.values()) await engine.stop();
    await provider.shutdown();
  }
}
