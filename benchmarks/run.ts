/**
 * `npm run bench`: the runtime's figures on this machine, measured side by side in one run.
 * Prints a table and writes benchmarks/results/latest.json. Timings are medians (p50) and p99s.
 * `npm run bench -- postgres jobs` runs only the named parts (names: BENCHES below), and then writes
 * benchmarks/results/<names>.json instead, so a partial run never replaces the full one.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transpileBytes } from '@bytecodealliance/jco-transpile';
import { buildFixtures } from '../fixtures/build.ts';
import { Runtime } from '../src/index.ts';
import { benchActorLayer, benchActors } from './actors.ts';
import { benchBatch } from './batch.ts';
import { benchBurst } from './burst.ts';
import { atomicsFloor } from './atomicsFloor.ts';
import { benchCallPath, type CallPathResult } from './callPath.ts';
import { startLoad } from './load.ts';
import { benchChain } from './chain.ts';
import { benchEngine } from './engine.ts';
import { benchTwap } from './twap.ts';
import { benchTracing } from './tracing.ts';
import { benchRpcCache } from './rpcCache.ts';
import { benchTimers } from './timers.ts';
import { benchJobs } from './jobs.ts';
import { benchMessages } from './messages.ts';
import { benchOperatorBackfill } from './operatorBackfill.ts';
import { benchPostgres } from './postgres.ts';
import { benchPrewarm } from './prewarm.ts';
import { benchManyModules } from './manyModules.ts';
import { benchTableBomb } from './tableBomb.ts';
import { benchWasiGuest } from './wasiGuest.ts';
import { benchCliStart } from './cliStart.ts';
import { benchReadApi } from './readApi.ts';
import { benchShadow } from './shadow.ts';
import { benchFactory } from './factory.ts';
import { inThreadGuest } from './inThread.ts';
import { nsPerCall, summarize } from './stats.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const fixture = (name: string) => join(root, 'fixtures', 'build', `${name}.wasm`);
const rows: { name: string; value: string; target: string; ok: boolean | null }[] = [];
/** The cross-thread floor's p50 (row 1): the host-call and store rows are measured against it. */
let floorMs = NaN;
const results: Record<string, unknown> = { node: process.version, date: new Date().toISOString() };

/** The parts a run can be limited to; `runtime` is the call rows (idle and under load), glue, fuel, instantiation and deadline rows (1–7). */
const BENCHES = ['runtime', 'actors', 'engine', 'chain', 'twap', 'rpcCache', 'timers', 'jobs', 'prewarm', 'wasiGuest', 'burst', 'tableBomb', 'postgres', 'cliStart', 'manyModules', 'operatorBackfill', 'tracing', 'batch', 'readApi', 'shadow', 'factory', 'messages'] as const;
const only = process.argv.slice(2);
for (const name of only) if (!(BENCHES as readonly string[]).includes(name)) throw new Error(`unknown benchmark ${name}: choose from ${BENCHES.join(', ')}`);
const wanted = (name: (typeof BENCHES)[number]) => only.length === 0 || only.includes(name);

function row(name: string, value: string, target = '', ok: boolean | null = null): void {
  rows.push({ name, value, target, ok });
  console.error(`  ${name}: ${value}`);
}
const us = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;

/** Milliseconds per metered instantiation, after `warmup` untimed ones. */
function timeInstantiation(guest: { metered(): unknown }, runs: number, warmup: number) {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    guest.metered();
    samples.push(performance.now() - t);
  }
  return summarize(samples.slice(warmup));
}

await buildFixtures();
const cacheDir = mkdtempSync(join(tmpdir(), 'corral-bench-cache-'));
const runtime = new Runtime({ threads: 2, cacheDir });
const hostImports = { 'corral-fixtures:host-caller/host': { slow: (ms: number) => ms, fail: () => 0, echo: (s: string) => s, nop: () => {} } };
const jsImports = { 'corral-fixtures:js-guest/host': { echo: (s: string) => s } };

if (wanted('runtime')) {
  // 1. The call rows, idle and then under load (one busy process per core), each side by side with
  // the floor and bare piscina (callPath.ts); the host-call round trip (row 6) with them.
  {
    const compute = await runtime.load(fixture('compute'));
    const caller = await runtime.load(fixture('host-caller'), { imports: hostImports, limits: { timeoutMs: 10_000 } });
    const idle = await benchCallPath(compute, caller, row, 'idle');
    const stopLoad = await startLoad();
    let underLoad: CallPathResult;
    try {
      underLoad = await benchCallPath(compute, caller, row, 'under load');
    } finally {
      await stopLoad();
    }
    floorMs = idle.floorMs.p50;
    results.callPath = { idle, underLoad };
    results.warmCall = { floorMs: idle.floorMs, runtimeMs: idle.runtimeMs, piscinaMs: idle.piscinaMs, callsPerSecond: idle.callsPerSecond, bareCallsPerSecond: idle.bareCallsPerSecond };
  }
  {
    const compute = await runtime.load(fixture('compute'));
    const guest = await inThreadGuest(readFileSync(fixture('compute')), compute.artifactDir);
    const plain = guest.plain();
    const inThread = nsPerCall(() => plain.add(1, 2));
    row('bare in-thread call (glue + wasm), p50', `${inThread.p50.toFixed(1)} ns`);

    // 2. Glue cost: jco 1.11.2 glue (what corral runs) and jco 1.35 glue, minus the raw core call.
    const raw = guest.rawCore('add');
    const rawNs = nsPerCall(() => raw(1, 2));
    const modern = await transpileBytes(readFileSync(fixture('compute')), { name: 'component', instantiation: { tag: 'async' } as never, noTypescript: true } as never);
    const dir = mkdtempSync(join(tmpdir(), 'corral-bench-jco135-'));
    for (const [f, b] of Object.entries(modern.files)) if (!f.includes('/')) writeFileSync(join(dir, f.replace(/\.js$/, '.mjs')), b);
    const modernGlue = (await import(join(dir, 'component.mjs'))) as { instantiate: (g: (f: string) => WebAssembly.Module, i: object) => Promise<Record<string, (a: number, b: number) => number>> };
    const modernInstance = await modernGlue.instantiate((f) => new WebAssembly.Module(readFileSync(join(dir, f))), {});
    const modernNs = nsPerCall(() => modernInstance.add!(1, 2), 20_000, 9);
    const glueNs = inThread.p50 - rawNs.p50;
    row('glue cost per trivial call (jco 1.11.2 glue − raw core call)', `${glueNs.toFixed(1)} ns`, '≤ 1 µs', glueNs <= 1000);
    row('  same call through jco 1.35 glue', `${modernNs.p50.toFixed(0)} ns (${(modernNs.p50 / inThread.p50).toFixed(0)}× corral's)`);
    results.glue = { rawCoreNs: rawNs, jco1112Ns: inThread, jco135Ns: modernNs, glueNs };

    // 3. Fuel overhead: instrumented vs original core modules, same glue, same thread.
    const metered = guest.metered();
    const tightPlain = nsPerCall(() => plain.work(100_000), 20, 15);
    const tightMetered = nsPerCall(() => metered.work(100_000), 20, 15);
    const data = new Uint8Array(4096).map((_, i) => i * 31);
    const hashPlain = nsPerCall(() => plain.hash(data, 20), 20, 15);
    const hashMetered = nsPerCall(() => metered.hash(data, 20), 20, 15);
    const tight = tightMetered.p50 / tightPlain.p50 - 1;
    const hash = hashMetered.p50 / hashPlain.p50 - 1;
    row('fuel overhead, tight loop (work)', `${(tight * 100).toFixed(1)} %`, '≤ 30 %', tight <= 0.3);
    row('fuel overhead, hashing (FNV-1a, 4 KiB × 20)', `${(hash * 100).toFixed(1)} %`, '≤ 10 %', hash <= 0.1);
    results.fuelOverhead = { tightLoop: { plainNs: tightPlain, meteredNs: tightMetered, overhead: tight }, hash: { plainNs: hashPlain, meteredNs: hashMetered, overhead: hash } };

    // 4. Instantiate from the cached, compiled artifact.
    const inst = timeInstantiation(guest, 2_000, 200);
    row('instantiate small guest (compiled, in worker-equivalent), p50 / p99', `${us(inst.p50)} / ${us(inst.p99)}`, '≤ 1 ms p50', inst.p50 <= 1);
    results.instantiateSmallMs = inst;

    // 5. Deadline overshoot on a spinning guest; the worker must survive every time.
    const overshoot: Record<string, unknown> = {};
    for (const [timeoutMs, runs] of [[10, 40], [50, 20], [250, 8]] as const) {
      const samples: number[] = [];
      for (let i = 0; i < runs; i++) {
        const outcome = await compute.invoke('spin', [], { timeoutMs, fuel: Number.MAX_SAFE_INTEGER });
        if (outcome.ok || outcome.signal.name !== 'ExecutionTimeout') throw new Error('spin did not time out');
        samples.push(outcome.signal.elapsedMs - timeoutMs);
      }
      const s = summarize(samples);
      overshoot[timeoutMs] = s;
      row(`deadline overshoot @ ${timeoutMs} ms, p50 / p99`, `${s.p50.toFixed(2)} / ${s.p99.toFixed(2)} ms`, '≤ 5 ms p99', s.p99 <= 5);
    }
    const terminated = compute.stats().recycled.terminated;
    row('worker restarts during the deadline runs', String(terminated), '0', terminated === 0);
    results.deadlineOvershootMs = overshoot;
  }

  // 7. First load vs cached load of the QuickJS guest, and its instantiation.
  {
    const coldDir = mkdtempSync(join(tmpdir(), 'corral-bench-cold-'));
    const cold = new Runtime({ threads: 1, cacheDir: coldDir });
    let t = performance.now();
    const first = await cold.load(fixture('js-guest'), { imports: jsImports });
    const firstMs = performance.now() - t;
    const warm = new Runtime({ threads: 1, cacheDir: coldDir });
    t = performance.now();
    const second = await warm.load(fixture('js-guest'), { imports: jsImports });
    const cachedMs = performance.now() - t;
    if (first.fromCache || !second.fromCache) throw new Error('cache did not behave');
    await Promise.all([cold.close(), warm.close()]);
    row('QuickJS guest: first load (transpile + instrument) vs cached load', `${firstMs.toFixed(0)} ms vs ${cachedMs.toFixed(1)} ms`);
    const guest = await inThreadGuest(readFileSync(fixture('js-guest')), first.artifactDir, jsImports);
    const s = timeInstantiation(guest, 60, 10);
    row('instantiate QuickJS guest (compiled), p50 / p99', `${s.p50.toFixed(2)} / ${s.p99.toFixed(2)} ms`);
    const plain = guest.plain();
    const metered = guest.metered();
    const text = JSON.stringify({ orders: Array.from({ length: 20 }, (_, i) => ({ id: i, owner: '0xabc', amounts: [i, i * 2] })) });
    // Three side-by-side measurements, the median ratio: one pass alone was often thrown by a GC or a tier-up.
    const trials = [0, 1, 2].map(() => {
      const p = nsPerCall(() => plain.reformat(text, 5), 10, 21, 200);
      const m = nsPerCall(() => metered.reformat(text, 5), 10, 21, 200);
      return { p, m, overhead: m.p50 / p.p50 - 1 };
    });
    const { p, m, overhead } = trials.sort((a, b) => a.overhead - b.overhead)[1]!;
    row('fuel overhead, QuickJS JSON round trips', `${(overhead * 100).toFixed(1)} %`, '≤ 10 %', overhead <= 0.1);
    results.quickjs = { firstLoadMs: firstMs, cachedLoadMs: cachedMs, instantiateMs: s, fuelOverhead: { plainNs: p, meteredNs: m, overhead } };
  }
}
// The floor the engine's store rows are measured against, when the runtime rows did not run.
if (wanted('engine') && Number.isNaN(floorMs)) floorMs = (await atomicsFloor()).p50;

// 8. The actor layer (issue: actors and the supervisor).
if (wanted('actors')) {
  results.actors = await benchActors(runtime, fixture('compute'), row, (results.warmCall as { callsPerSecond: number } | undefined)?.callsPerSecond ?? NaN);
  // The actor layer's overhead again with one busy process per core (load.ts).
  const compute = await runtime.load(fixture('compute'), { name: 'actors-compute-loaded' });
  const stopLoad = await startLoad();
  try {
    (results.actors as Record<string, unknown>).actorEventUnderLoad = await benchActorLayer(compute, row, 'under load', 10_000);
  } finally {
    await stopLoad();
  }
}

// 9. The engine: store through the bridge, commits, chain requests (issue: the WIT world and state).
if (wanted('engine')) results.engine = await benchEngine(runtime, fixture, row, floorMs);

// 10. The chain bus against anvil: block-to-handler latency, fan-out, backfill (issue: the chain bus).
if (wanted('chain')) results.chain = await benchChain(runtime, fixture, row);

// 11. The TWAP watcher with 1,000 active orders beside a naive poller (issue: the embedded default).
if (wanted('twap')) results.twap = await benchTwap(row);

// The block-pinned RPC cache: two TWAP watchers sharing a chain, upstream eth_calls per block with it on and off (issue 24).
if (wanted('rpcCache')) results.rpcCache = await benchRpcCache(row);

// 12. Timers: how late a timer's handler starts, idle and under load (issue: jobs, timers and schedules).
if (wanted('timers')) results.timers = await benchTimers(runtime, fixture, row);

// 13. Jobs: enqueue → start latency, and trivial jobs per second across ten modules (same issue).
if (wanted('jobs')) results.jobs = await benchJobs(runtime, fixture, row);

// Messages between modules: sender commit → receiver handler start, and messages/s across 10 pairs (issue 25).
if (wanted('messages')) results.messages = await benchMessages(runtime, fixture, row);

// 14. The first call after idle, with and without minInstances (issue: runtime to the physical limit).
if (wanted('prewarm')) results.prewarm = await benchPrewarm(runtime, fixture, row);

// 15. A componentize-js (WASI) guest: first and cached load, instantiation, warm call, fuel overhead (issue: components from any toolchain).
if (wanted('wasiGuest')) results.wasiGuest = await benchWasiGuest(fixture, row);

// 16. Memory after a burst of concurrent calls across 100 components (issue: runtime to the physical limit).
if (wanted('burst')) results.burst = await benchBurst(cacheDir, fixture, row);

// 17. RSS after 100 instances each try to grow their tables past a 4 MiB cap (issue 19: tables escape the memory cap).
if (wanted('tableBomb')) results.tableBomb = await benchTableBomb(cacheDir, fixture, row);

// 18. PostgreSQL against LevelDB: commits, jobs, replicas, failover (issue 22), on an embedded PostgreSQL of its own.
if (wanted('postgres')) results.postgres = await benchPostgres(runtime, fixture, row);

// 19. The CLI's start, `corral --help` and `corral inspect`, from dist/ (issue 23: the CLI starts in 2–4 s).
if (wanted('cliStart')) results.cliStart = await benchCliStart(row);

// 20. Many modules in one engine, and the cached load of a 12.5 MB component (issue 23).
if (wanted('manyModules')) results.manyModules = await benchManyModules(cacheDir, fixture, row);

// 21. Backfill as an operator meets it: corral run with the scaffold's JavaScript module (issue 23).
if (wanted('operatorBackfill')) results.operatorBackfill = await benchOperatorBackfill(row);

// 22. Tracing off vs on: the cost per step, in interleaved rounds (issue 24).
if (wanted('tracing')) results.tracing = await benchTracing(runtime, fixture, row);
// 23. corral batch: runBatch's inputs/s against bare invoke at equal in-flight (issue 24).
if (wanted('batch')) results.batch = await benchBatch(await runtime.load(fixture('compute')), runtime.threads, row);
// 24. The live read API: the fan-out rate with and without readers, and the readers' requests/s (issue 24).
if (wanted('readApi')) results.readApi = await benchReadApi(fixture, row);
if (wanted('shadow')) results.shadow = await benchShadow(runtime, fixture, row);
// 25. Factory triggers: backfill of 1,000 children against the same addresses listed statically (issue 25).
if (wanted('factory')) results.factory = await benchFactory(runtime, fixture, row);

await runtime.close();

const width = Math.max(...rows.map((r) => r.name.length));
console.log(`\ncorral runtime benchmarks — Node ${process.version}, ${new Date().toISOString()}\n`);
for (const r of rows) {
  const mark = r.ok === null ? ' ' : r.ok ? '✓' : '✗';
  console.log(`${mark} ${r.name.padEnd(width)}  ${r.value}${r.target ? `   (target ${r.target})` : ''}`);
}
mkdirSync(join(root, 'benchmarks', 'results'), { recursive: true });
const out = join(root, 'benchmarks', 'results', only.length === 0 ? 'latest.json' : `${only.join('-')}.json`);
writeFileSync(out, JSON.stringify({ ...results, rows }, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v), 2));
console.log(`\nJSON: ${out}`);
