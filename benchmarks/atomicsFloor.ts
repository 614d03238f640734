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

/** The bare worker, kept between round trips so the floor can be measured interleaved with other subjects. */
export class FloorWorker {
  private readonly cell = new Int32Array(new SharedArrayBuffer(8));
  private readonly worker = new Worker(WORKER, { eval: true, workerData: this.cell.buffer });

  /** One round trip. */
  async roundTrip(): Promise<void> {
    const cell = this.cell;
    Atomics.store(cell, 1, 0);
    Atomics.store(cell, 0, 1);
    Atomics.notify(cell, 0);
    const wait = Atomics.waitAsync(cell, 1, 0);
    if (wait.async) await wait.value;
  }

  async close(): Promise<void> {
    Atomics.store(this.cell, 0, 2);
    Atomics.notify(this.cell, 0);
    await this.worker.terminate();
  }
}

/** Milliseconds per round trip, after `warmup` untimed ones. */
export async function atomicsFloor(rounds = 20_000, warmup = 2_000): Promise<{ n: number; p50: number; p99: number; min: number; max: number }> {
  const floor = new FloorWorker();
  const samples: number[] = [];
  try {
    for (let i = 0; i < rounds + warmup; i++) {
      const t0 = performance.now();
      await floor.roundTrip();
      if (i >= warmup) samples.push(performance.now() - t0);
    }
  } finally {
    await floor.close();
  }
  return summarize(samples);
}
