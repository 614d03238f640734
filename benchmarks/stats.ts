/** Median, p99 and friends of a sample, in the sample's unit. */
export function summarize(samples: number[]): { n: number; p50: number; p99: number; min: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), min: sorted[0]!, max: sorted.at(-1)! };
}

/** Nanoseconds per call of `fn`, as the median of `rounds` timed batches of `batch` calls. */
export function nsPerCall(fn: () => unknown, batch = 100_000, rounds = 15, warmup = batch): { p50: number; p99: number } {
  for (let i = 0; i < warmup; i++) fn(); // let V8 tier the code up before timing it
  const perCall: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) fn();
    perCall.push(Number(process.hrtime.bigint() - t0) / batch);
  }
  const s = summarize(perCall);
  return { p50: s.p50, p99: s.p99 };
}
