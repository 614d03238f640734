/**
 * The table bomb (issue 19): on main, a guest under a 4 MiB cap grew a funcref table by 10M entries for
 * 3 fuel (+240–550 MiB of host RSS, kept by the idle pooled instance), and a heap filled inside
 * table.grow aborted the whole process. Now table entries count against the cap (TABLE_ENTRY_BYTES
 * each): 100 instances each asking for 9M entries (V8's own limit is 10M per table, and the fixture's
 * tables start with one entry each) should leave RSS where it was, and 100 instances
 * each growing their tables to the cap should stay within 100 × the cap.
 */
import { Runtime } from '../src/index.ts';
import { TABLE_ENTRY_BYTES } from '../src/limits/defaults.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;
const INSTANCES = 100;
const CAP = 4 * 1024 * 1024;
const MiB = 2 ** 20;

export async function benchTableBomb(cacheDir: string, fixture: (name: string) => string, row: Row): Promise<Record<string, unknown>> {
  // One thread: each component's calls meet the one instance the previous call left.
  const runtime = new Runtime({ threads: 1, cacheDir });
  try {
    // One component per instance: each keeps its one instance, and what it grew, in its pool.
    const started = performance.now();
    const bombs = [];
    for (let i = 0; i < INSTANCES; i++) bombs.push(await runtime.load(fixture('table-bomb'), { name: `table-bomb-${i}`, limits: { memoryBytes: CAP } }));
    await Promise.all(bombs.map((b) => b.call('size', [])));
    const rss = () => process.memoryUsage().rss / MiB;
    const before = rss();
    const refused = await Promise.all(bombs.map((b) => b.call('grow', [9_000_000])));
    const afterRefused = rss();
    // Then as much as the cap allows (the two entries the tables start with included).
    const toCap = await Promise.all(bombs.map((b) => b.call('grow', [CAP / TABLE_ENTRY_BYTES - 2])));
    const afterCap = rss();
    const overCap = await Promise.all(bombs.map((b) => b.call('grow', [1])));
    const allowedMiB = (INSTANCES * CAP) / MiB;
    const grownRefused = afterRefused - before;
    const grownToCap = afterCap - before;
    const held = refused.every((r) => r.value === -1) && toCap.every((r) => r.value === 1) && overCap.every((r) => r.value === -1);
    const loadMs = performance.now() - started;
    row(`RSS after ${INSTANCES} instances (4 MiB cap) each asked for 9M table entries`, `${grownRefused >= 0 ? '+' : ''}${grownRefused.toFixed(0)} MiB`, '+0 MiB', held && grownRefused < 16);
    row(
      `  then each grew its tables to the cap and was refused one more`,
      `+${grownToCap.toFixed(0)} MiB over the baseline (the caps allow ${allowedMiB} MiB)`,
      `≤ ${allowedMiB} MiB`,
      held && grownToCap <= allowedMiB,
    );
    return { loadMs, instances: INSTANCES, capBytes: CAP, baselineMiB: before, grownRefusedMiB: grownRefused, grownToCapMiB: grownToCap, allowedMiB, held };
  } finally {
    await runtime.close();
  }
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const t = performance.now();
  const result = await benchTableBomb(mkdtempSync(join(tmpdir(), 'corral-bench-cache-')), (name) => join(import.meta.dirname, '..', 'fixtures', 'build', `${name}.wasm`), (name, value, target) =>
    console.log(`  ${name}: ${value}${target ? ` (target ${target})` : ''}`),
  );
  console.log(JSON.stringify(result), `${((performance.now() - t) / 1000).toFixed(1)} s`);
}
