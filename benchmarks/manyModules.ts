/**
 * Many modules in one engine (issue 23): `createEngine` with N copies of the small `counter` fixture
 * (QuickJS, 1.6 MB), each its own actor, store namespace and topic; start, one event to each, stop.
 * Each N runs in a child process of its own, so its RSS is its own and not what earlier rows left.
 * Also the cached load of the 12.5 MB componentize-js guest by a new runtime: a file the cache has a
 * record of beside a new copy of the same bytes, interleaved, so both see the same load.
 *
 * Run alone: `tsx benchmarks/manyModules.ts child <N> <cacheDir>` prints one engine's JSON line;
 * `tsx benchmarks/manyModules.ts cached <cacheDir>` the cached-load row.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine } from '../src/app/createEngine.ts';
import { Runtime } from '../src/runtime/Runtime.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;
const MiB = 1024 * 1024;

interface ChildResult {
  modules: number;
  startMs: number;
  firstEventsMs: number;
  stopMs: number;
  rssBeforeMiB: number;
  idleMiBPerModule: number;
  afterEventMiBPerModule: number;
}

/** One engine of `n` counter modules, in this process: what a child reports. */
async function runChild(n: number, cacheDir: string, counter: string): Promise<ChildResult> {
  const stateDir = mkdtempSync(join(tmpdir(), 'corral-bench-many-'));
  const rssBefore = process.memoryUsage().rss;
  const corral = createEngine({
    engine: { stateDir, cacheDir, logLevel: 'silent', limits: { fuel: 1e10, timeoutMs: 10_000 } },
    modules: Array.from({ length: n }, (_, i) => ({ name: `m${i}`, component: counter, grants: { store: true, logging: true }, topics: [`t${i}`] })),
  });
  try {
    let t = performance.now();
    await corral.start();
    const startMs = performance.now() - t;
    const idle = process.memoryUsage().rss;
    t = performance.now();
    await Promise.all(Array.from({ length: n }, (_, i) => corral.publish(`t${i}`, '{"op":"incr"}')));
    await Promise.all(Array.from({ length: n }, (_, i) => corral.engine.settled(`m${i}`)));
    const firstEventsMs = performance.now() - t;
    const failed = corral.actors().filter((a) => a.invocations !== 1);
    if (failed.length > 0) throw new Error(`${failed.length} modules did not run their one event (${failed[0]!.name}: ${failed[0]!.invocations})`);
    const served = process.memoryUsage().rss;
    t = performance.now();
    await corral.stop();
    const stopMs = performance.now() - t;
    return {
      modules: n,
      startMs,
      firstEventsMs,
      stopMs,
      rssBeforeMiB: rssBefore / MiB,
      idleMiBPerModule: (idle - rssBefore) / MiB / n,
      afterEventMiBPerModule: (served - rssBefore) / MiB / n,
    };
  } finally {
    await corral.stop();
    rssSafeRemove(stateDir);
  }
}

function rssSafeRemove(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

function child(n: number, cacheDir: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'child', String(n), cacheDir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    proc.once('error', reject);
    proc.once('exit', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`manyModules child (${n} modules) exited with code ${code}: ${out}`));
      else resolve(JSON.parse(line) as ChildResult);
    });
  });
}

/** Milliseconds of a pinned `load` of `path` by a new runtime on `cacheDir` (as a process restart does). */
async function timeCachedLoad(cacheDir: string, path: string, sha256: string): Promise<number> {
  const runtime = new Runtime({ threads: 1, cacheDir });
  try {
    const t = performance.now();
    await runtime.load(path, { name: 'wasi', sha256 });
    return performance.now() - t;
  } finally {
    await runtime.close();
  }
}

export async function benchManyModules(cacheDir: string, fixture: (name: string) => string, row: Row, sizes: readonly number[] = [100, 1_000, 10_000]): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {};
  // Prepared once here, so every child finds it cached (the first load is not what these rows measure).
  const runtime = new Runtime({ threads: 1, cacheDir });
  try {
    await runtime.inspect(fixture('counter'));
  } finally {
    await runtime.close();
  }
  for (const n of sizes) {
    const r = await child(n, cacheDir);
    results[`modules${n}`] = r;
    const label = n.toLocaleString('en');
    row(`${label} counter modules: start / one event each / stop`, `${(r.startMs / 1000).toFixed(2)} s / ${(r.firstEventsMs / 1000).toFixed(2)} s / ${(r.stopMs / 1000).toFixed(2)} s`, n === 10_000 ? 'start ≤ 10 s, stop ≤ 5 s' : '', n === 10_000 ? r.startMs <= 10_000 && r.stopMs <= 5_000 : null);
    row(`  RSS per module, idle / after its event`, `${r.idleMiBPerModule.toFixed(3)} / ${r.afterEventMiBPerModule.toFixed(3)} MiB`, 'idle ≤ 0.5 MiB', r.idleMiBPerModule <= 0.5);
  }
  results.cachedLoad = await benchCachedLoad(cacheDir, fixture, row);
  return results;
}

/**
 * The cached load of the 12.5 MB componentize-js guest, pinned, by a new runtime each time: a file whose
 * identity (dev, ino, size, mtime, ctime) the cache has a record of, against a fresh copy of the same bytes
 * (a new identity: read and hashed in full, as every cached load was before), in alternating rounds.
 */
async function benchCachedLoad(cacheDir: string, fixture: (name: string) => string, row: Row): Promise<Record<string, unknown>> {
  const source = fixture('wasi-guest');
  const sha256 = createHash('sha256').update(readFileSync(source)).digest('hex');
  const dir = mkdtempSync(join(tmpdir(), 'corral-bench-cached-'));
  const known: number[] = [];
  const unknown: number[] = [];
  try {
    await timeCachedLoad(cacheDir, source, sha256); // prepared (or found) once, and its record written
    for (let i = 0; i < 12; i++) {
      known.push(await timeCachedLoad(cacheDir, source, sha256));
      const copy = join(dir, `copy${i}.wasm`);
      copyFileSync(source, copy);
      unknown.push(await timeCachedLoad(cacheDir, copy, sha256));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const a = summarize(known.slice(2));
  const b = summarize(unknown.slice(2));
  row('cached load of the 12.5 MB guest, pinned, new runtime: file known vs a new copy, p50 / p99', `${a.p50.toFixed(1)} / ${a.p99.toFixed(1)} ms vs ${b.p50.toFixed(1)} / ${b.p99.toFixed(1)} ms (${(b.p50 / a.p50).toFixed(1)}× faster)`, '≤ 50 ms', a.p50 <= 50);
  return { known: a, newCopy: b };
}

if (process.argv[2] === 'cached') {
  const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/build/${name}.wasm`, import.meta.url));
  console.log(JSON.stringify(await benchCachedLoad(process.argv[3]!, fixture, (name, value) => console.error(`${name}: ${value}`))));
}

if (process.argv[2] === 'child') {
  const n = Number(process.argv[3]);
  const counter = fileURLToPath(new URL('../fixtures/build/counter.wasm', import.meta.url));
  const result = await runChild(n, process.argv[4]!, counter);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}
