/**
 * The call rows (issue 23), measured once per condition ("idle", "under load": see load.ts): the floor,
 * a warm call through the runtime and a bare piscina round trip interleaved in rounds (each round
 * rotates which goes first, so all three see the same load), throughput with 64 calls in flight
 * alternated with bare piscina's, and the host-call round trip. Each row names its condition and is
 * judged against the floor and piscina of the same condition.
 */
import { availableParallelism, loadavg } from 'node:os';
import { Piscina } from 'piscina';
import { type Component } from '../src/index.ts';
import { FloorWorker } from './atomicsFloor.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;
type Summary = ReturnType<typeof summarize>;
const us = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;

export interface CallPathResult {
  condition: string;
  loadAverage: number;
  floorMs: Summary;
  runtimeMs: Summary;
  piscinaMs: Summary;
  callsPerSecond: number;
  bareCallsPerSecond: number;
  throughputRatios: number[];
  hostCallMs: Summary;
}

/** Calls `fn` `n` times in a row; the milliseconds of each. */
async function timed(fn: () => Promise<unknown>, n: number, into: number[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    into.push(performance.now() - t0);
  }
}

/** Calls per second with `concurrency` callers sharing `total` calls. */
async function throughput(fn: () => Promise<unknown>, total: number, concurrency = 64): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) await fn();
    }),
  );
  return total / ((performance.now() - t0) / 1000);
}

export async function benchCallPath(compute: Component, caller: Component, row: Row, condition: string, rounds = 40, perRound = 500): Promise<CallPathResult> {
  const floor = new FloorWorker();
  const bare = new Piscina({ filename: new URL('./bare-worker.mjs', import.meta.url).href, minThreads: 2, maxThreads: 2, atomics: 'async' });
  const subjects = [
    { name: 'floor', run: () => floor.roundTrip(), samples: [] as number[] },
    { name: 'runtime', run: () => compute.call('add', [1, 2]), samples: [] as number[] },
    { name: 'piscina', run: () => bare.run({ kind: 'call', args: [1, 2] }), samples: [] as number[] },
  ];
  const loadBefore = loadavg()[0]!;
  try {
    for (const s of subjects) await timed(s.run, 2_000, []);
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < subjects.length; k++) {
        const s = subjects[(r + k) % subjects.length]!;
        await timed(s.run, perRound, s.samples);
      }
    }
    const [f, c, p] = subjects.map((s) => summarize(s.samples)) as [Summary, Summary, Summary];
    const times = (ms: number) => `${(ms / f.p50).toFixed(2)}× floor`;
    row(`floor: bare worker Atomics ping-pong (${condition}), p50 / p99`, `${us(f.p50)} / ${us(f.p99)}`);
    row(`warm call via runtime (add) (${condition}), p50 / p99`, `${us(c.p50)} (${times(c.p50)}) / ${us(c.p99)}`, '≤ 1.5× floor / ≤ bare piscina p99', c.p50 <= 1.5 * f.p50 && c.p99 <= p.p99);
    row(`bare piscina round trip (${condition}), p50 / p99`, `${us(p.p50)} (${times(p.p50)}) / ${us(p.p99)}`);

    // Throughput: corral and piscina alternately, three times each; the median of the three ratios.
    const ratios: number[] = [];
    const own: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < 3; i++) {
      own.push(await throughput(() => compute.call('add', [1, 2]), 30_000));
      theirs.push(await throughput(() => bare.run({ kind: 'call', args: [1, 2] }), 30_000));
      ratios.push(own.at(-1)! / theirs.at(-1)!);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
    const ratio = median(ratios);
    row(
      `throughput, 64 in flight (${condition})`,
      `${Math.round(median(own))} calls/s (bare piscina ${Math.round(median(theirs))}/s); median ratio ${ratio.toFixed(2)}× (${ratios.map((x) => x.toFixed(2)).join(', ')})`,
      '≥ 1.2× bare piscina',
      ratio >= 1.2,
    );

    // Host calls: 100 against 0 in one invocation, per host call; interleaved with the floor.
    await caller.call('call-nop', [2_000]);
    const perCall: number[] = [];
    const floorAgain: number[] = [];
    for (let i = 0; i < 200; i++) {
      const [with100, with0] = [await caller.call('call-nop', [100]), await caller.call('call-nop', [0])];
      perCall.push((with100.durationMs - with0.durationMs) / 100);
      await timed(() => floor.roundTrip(), 20, floorAgain);
    }
    const h = summarize(perCall);
    const hf = summarize(floorAgain);
    row(
      `host-call round trip (guest → main → guest) (${condition}), p50 / p99 of 100-call means`,
      `${us(h.p50)} (${(h.p50 / hf.p50).toFixed(2)}× the floor of ${us(hf.p50)} measured between them) / ${us(h.p99)}`,
      '≤ 1.5× floor p50',
      h.p50 <= 1.5 * hf.p50,
    );
    const loadAverage = (loadBefore + loadavg()[0]!) / 2;
    row(`  load average during the ${condition} rows (${availableParallelism()} cores)`, loadAverage.toFixed(2));
    return { condition, loadAverage, floorMs: f, runtimeMs: c, piscinaMs: p, callsPerSecond: median(own), bareCallsPerSecond: median(theirs), throughputRatios: ratios, hostCallMs: h };
  } finally {
    await bare.destroy();
    await floor.close();
  }
}
