/**
 * The floor of any cross-thread call on this machine: a bare worker blocked in `Atomics.wait`, the main
 * thread waiting with `Atomics.waitAsync`, one Int32 flipped each way per round trip. No message ports,
 * no structured clone, no pool: what a per-worker call slot could at best cost.
 */
import { Worker } from 'node:worker_threads';
import { summarize } from './stats.ts';

const WORKER = `
const { workerData } = require('node:worker_threads');
const cell = new Int32Array(workerData);
for (;;) {
  Atomics.wait(cell, 0, 0);            // wait for a request (1)
  if (Atomics.load(cell, 0) === 2) break; // stop
  Atomics.store(cell, 0, 0);
  Atomics.store(cell, 1, 1);            // answer
  Atomics.notify(cell, 1);
}
`;

/** Milliseconds per round trip, after `warmup` untimed ones. */
export async function atomicsFloor(rounds = 20_000, warmup = 2_000): Promise<{ n: number; p50: number; p99: number; min: number; max: number }> {
  const buffer = new SharedArrayBuffer(8);
  const cell = new Int32Array(buffer);
  const worker = new Worker(WORKER, { eval: true, workerData: buffer });
  const samples: number[] = [];
  try {
    for (let i = 0; i < rounds + warmup; i++) {
      const t0 = performance.now();
      Atomics.store(cell, 1, 0);
      Atomics.store(cell, 0, 1);
      Atomics.notify(cell, 0);
      const wait = Atomics.waitAsync(cell, 1, 0);
      if (wait.async) await wait.value;
      if (i >= warmup) samples.push(performance.now() - t0);
    }
  } finally {
    Atomics.store(cell, 0, 2);
    Atomics.notify(cell, 0);
    await worker.terminate();
  }
  return summarize(samples);
}
