/**
 * The componentize-js (StarlingMonkey) guest, as a user's WASI component: first load (transpile +
 * instrument a 12 MB component) against a cached load, instantiation, a warm call through the runtime,
 * and fuel overhead on a loop in its JS: instrumented against the original core modules, in this thread.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Runtime } from '../src/index.ts';
import { WasiHost } from '../src/wasi/WasiHost.ts';
import { wasiImports } from '../src/wasi/wasiPolicy.ts';
import { resolveWasiConfig } from '../src/wasi/resolveWasiConfig.ts';
import { inThreadGuest } from './inThread.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;
/** StarlingMonkey charges ~7M fuel for a trivial call (see docs/runtime.md): a budget no call here reaches. */
const FUEL = 1e12;
/** A bench times its calls; a deadline missed on a loaded machine would only end the run. */
const TIMEOUT_MS = 60_000;

export async function benchWasiGuest(fixture: (name: string) => string, row: Row): Promise<Record<string, unknown>> {
  const file = fixture('wasi-guest');
  const coldDir = mkdtempSync(join(tmpdir(), 'corral-bench-wasi-'));
  const cold = new Runtime({ threads: 1, cacheDir: coldDir });
  let t = performance.now();
  const first = await cold.load(file, { limits: { fuel: FUEL, timeoutMs: TIMEOUT_MS } });
  const firstMs = performance.now() - t;
  const cached = new Runtime({ threads: 1, cacheDir: coldDir });
  t = performance.now();
  const second = await cached.load(file, { limits: { fuel: FUEL, timeoutMs: TIMEOUT_MS } });
  const cachedMs = performance.now() - t;
  if (first.fromCache || !second.fromCache) throw new Error('cache did not behave');
  row('componentize-js guest (12 MB, 18 WASI imports): first load vs cached load', `${(firstMs / 1000).toFixed(1)} s vs ${cachedMs.toFixed(1)} ms`, '≤ 5 s / ≤ 50 ms', firstMs <= 5000 && cachedMs <= 50);

  const warm: number[] = [];
  await second.call('add', [1, 2]);
  for (let i = 0; i < 300; i++) {
    t = performance.now();
    await second.call('add', [i, 1]);
    warm.push(performance.now() - t);
  }
  const w = summarize(warm);
  row('  warm call (add) via runtime, p50 / p99', `${w.p50.toFixed(2)} ms / ${w.p99.toFixed(2)} ms`);
  await Promise.all([cold.close(), cached.close()]);

  // In this thread: the glue over the original core modules (plain) and over corral's instrumented ones.
  const host = new WasiHost(resolveWasiConfig({}, 'bench'), 1 << 30);
  host.begin(Infinity);
  const guest = await inThreadGuest(readFileSync(file), first.artifactDir, host.imports(wasiImports(first.meta.imports)));
  const builds: number[] = [];
  for (let i = 0; i < 20; i++) {
    t = performance.now();
    guest.metered();
    builds.push(performance.now() - t);
  }
  const b = summarize(builds);
  row('  instantiate (compiled, instrumented), p50 / p99', `${b.p50.toFixed(2)} ms / ${b.p99.toFixed(2)} ms`);
  const plain = guest.plain();
  const metered = guest.metered();
  // Alternating rounds, the median of each: one pass alone is thrown by a GC or a tier-up.
  const rounds = { plain: [] as number[], metered: [] as number[] };
  for (let i = 0; i < 15; i++) {
    for (const [which, exports] of [['plain', plain], ['metered', metered]] as const) {
      t = performance.now();
      exports.spin!(200_000);
      rounds[which].push(performance.now() - t);
    }
  }
  const p = summarize(rounds.plain);
  const m = summarize(rounds.metered);
  const overhead = m.p50 / p.p50 - 1;
  row('  fuel overhead, a JS loop (spin 200k)', `${(overhead * 100).toFixed(1)} % (${p.p50.toFixed(1)} ms → ${m.p50.toFixed(1)} ms)`, '≤ 20 %', overhead <= 0.2);
  return { firstLoadMs: firstMs, cachedLoadMs: cachedMs, warmCallMs: w, instantiateMs: b, fuelOverhead: { plainMs: p, meteredMs: m, overhead } };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { fixture } = await import('../test/helpers.ts');
  console.log(JSON.stringify(await benchWasiGuest(fixture as (name: string) => string, (name, value, target) => console.log(`  ${name}: ${value} ${target ?? ''}`))));
}
