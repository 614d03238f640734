/**
 * Memory after a burst (issue: runtime to the physical limit). Before the call slots, every call in
 * flight at once held a 1 MiB host-call channel that was never released: 100 components × 1,000
 * concurrent calls left 6,400 channels and 7 GiB of RSS. Now each worker has one slot, whatever
 * the number of calls: RSS after the burst (and a GC) should come back near where it started.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Runtime } from '../src/index.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;
const COMPONENTS = 100;
const CALLS_EACH = 1_000;

export async function benchBurst(cacheDir: string, fixture: (name: string) => string, row: Row): Promise<Record<string, unknown>> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    return process.memoryUsage().rss / 2 ** 20;
  };
  const runtime = new Runtime({ threads: 2, cacheDir });
  try {
    const components = [];
    // Callers may wait in the instance pools for as long as the burst takes (100,000 calls at once).
    for (let i = 0; i < COMPONENTS; i++) components.push(await runtime.load(fixture('compute'), { name: `burst-${i}`, pool: { checkoutTimeoutMs: 600_000 } }));
    // One call each first: every worker has compiled every component before the baseline is taken.
    await Promise.all(components.map((c) => Promise.all([c.call('add', [1, 2]), c.call('add', [1, 2])])));
    const before = await settle();
    const t = performance.now();
    await Promise.all(components.flatMap((c) => Array.from({ length: CALLS_EACH }, (_, i) => c.call('add', [i, 1]))));
    const burstMs = performance.now() - t;
    const during = process.memoryUsage().rss / 2 ** 20;
    const after = await settle();
    const grown = after - before;
    row(
      `RSS after ${COMPONENTS} components × ${CALLS_EACH.toLocaleString('en')} concurrent calls, then GC`,
      `${before.toFixed(0)} → ${after.toFixed(0)} MiB (+${grown.toFixed(0)}; ${during.toFixed(0)} MiB at the end of the burst, ${(burstMs / 1000).toFixed(1)} s)`,
      '≤ +64 MiB',
      grown <= 64,
    );
    return { components: COMPONENTS, callsEach: CALLS_EACH, rssBeforeMiB: before, rssDuringMiB: during, rssAfterMiB: after, burstMs };
  } finally {
    await runtime.close();
  }
}
