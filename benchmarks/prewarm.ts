/**
 * The first call after idle, with and without `minInstances`: the QuickJS guest's instances are
 * reaped after 50 ms idle; after each 150 ms pause the next call either builds an instance (start
 * functions, QuickJS's own setup) or finds the one the prewarm kept. Measured alternately, in one run.
 */
import { fileURLToPath } from 'node:url';
import type { Runtime } from '../src/index.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;
const ROUNDS = 30;
const jsImports = { 'corral-fixtures:js-guest/host': { echo: (s: string) => s } };

export async function benchPrewarm(runtime: Runtime, fixture: (name: string) => string, row: Row): Promise<Record<string, unknown>> {
  const cold = await runtime.load(fixture('js-guest'), { name: 'no-prewarm', imports: jsImports, pool: { maxIdleMs: 50 } });
  const warm = await runtime.load(fixture('js-guest'), { name: 'prewarm', imports: jsImports, pool: { maxIdleMs: 50, minInstances: 1 } });
  const pause = () => new Promise((resolve) => setTimeout(resolve, 150)); // a benchmark may wait: this is the idle time measured
  const first = { cold: [] as number[], warm: [] as number[] };
  for (let i = 0; i < ROUNDS; i++) {
    for (const [which, component] of [['cold', cold], ['warm', warm]] as const) {
      await pause();
      const t = performance.now();
      await component.call('greet', ['corral']);
      first[which].push(performance.now() - t);
    }
  }
  const c = summarize(first.cold);
  const w = summarize(first.warm);
  row('first call after idle (QuickJS guest), no prewarm, p50 / p99', `${c.p50.toFixed(2)} ms / ${c.p99.toFixed(2)} ms`);
  row('  with minInstances = 1, p50 / p99', `${w.p50.toFixed(2)} ms / ${w.p99.toFixed(2)} ms (${(c.p50 / w.p50).toFixed(1)}× faster at p50)`);
  const stats = { cold: cold.stats(), warm: warm.stats() };
  cold.close();
  warm.close();
  return { coldMs: c, warmMs: w, created: { cold: stats.cold.created, warm: stats.warm.created } };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { newRuntime, fixture } = await import('../test/helpers.ts');
  const runtime = newRuntime();
  console.log(JSON.stringify(await benchPrewarm(runtime, fixture as (name: string) => string, (name, value) => console.log(`  ${name}: ${value}`))));
  await runtime.close();
}
