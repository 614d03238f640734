/**
 * `corral batch`'s row (issue 24): inputs per second of `runBatch` on a trivial export (`add`) against
 * the bare runtime's `invoke` throughput at the same number of calls in flight, in interleaved rounds
 * (each round rotates which goes first, so both see the same load). What runBatch adds per input: the
 * input's sha256, the line, and the reorder buffer. Target: ≥ 90 % of bare.
 */
import { loadavg } from 'node:os';
import { runBatch } from '../src/batch/runBatch.ts';
import { BATCH_DEFAULTS } from '../src/limits/defaults.ts';
import type { Component } from '../src/index.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;

export interface BatchBenchResult {
  loadAverage: number;
  inFlight: number;
  batchPerSecond: number;
  barePerSecond: number;
  ratios: number[];
}

/** Calls per second of `invoke` with `inFlight` callers sharing `total` calls. */
async function bare(compute: Component, total: number, inFlight: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = next++; i < total; i = next++) {
        const outcome = await compute.invoke('add', [i, 1]);
        if (!outcome.ok) throw outcome.signal;
      }
    }),
  );
  return total / ((performance.now() - t0) / 1000);
}

/** Inputs per second of runBatch over `total` inputs. */
async function batched(compute: Component, total: number, inFlight: number): Promise<number> {
  const inputs = Array.from({ length: total }, (_, i) => [i, 1]);
  const t0 = performance.now();
  let lines = 0;
  for await (const line of runBatch(compute, 'add', inputs, { inFlight })) {
    if (!line.ok) throw new Error(`input ${line.index} failed`);
    lines++;
  }
  if (lines !== total) throw new Error(`runBatch gave ${lines} lines for ${total} inputs`);
  return total / ((performance.now() - t0) / 1000);
}

export async function benchBatch(compute: Component, threads: number, row: Row, rounds = 20, perRound = 4_000): Promise<BatchBenchResult> {
  const inFlight = BATCH_DEFAULTS.inFlightPerThread * threads;
  await bare(compute, perRound, inFlight); // warm both paths before timing
  await batched(compute, perRound, inFlight);
  const loadBefore = loadavg()[0]!;
  const bareRates: number[] = [];
  const batchRates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      bareRates.push(await bare(compute, perRound, inFlight));
      batchRates.push(await batched(compute, perRound, inFlight));
    } else {
      batchRates.push(await batched(compute, perRound, inFlight));
      bareRates.push(await bare(compute, perRound, inFlight));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ratios = batchRates.map((rate, i) => rate / bareRates[i]!);
  const loadAverage = (loadBefore + loadavg()[0]!) / 2;
  const ratio = median(ratios);
  row(
    `batch: inputs/s on add vs bare runtime.invoke, ${inFlight} in flight (${threads} threads)`,
    `${median(batchRates).toFixed(0)} vs ${median(bareRates).toFixed(0)} calls/s (${((median(batchRates) / median(bareRates)) * 100).toFixed(1)} %); median of round ratios ${(ratio * 100).toFixed(1)} % (rounds ${ratios.map((x) => `${(x * 100).toFixed(0)}`).join('/')} %; load average ${loadAverage.toFixed(1)})`,
    '≥ 90 %',
    ratio >= 0.9,
  );
  return { loadAverage, inFlight, batchPerSecond: median(batchRates), barePerSecond: median(bareRates), ratios };
}
