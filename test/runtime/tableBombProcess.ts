/**
 * The table bomb, in a process of its own: on main a guest's `table.grow` or its declared tables could
 * fill the worker's heap, and V8 then aborts the whole process (`FATAL ERROR … WasmTableObject::Grow`,
 * exit 134), which no test in the runner's own process could survive. Run as
 * `node --import tsx tableBombProcess.ts`; prints one JSON line counting the outcomes by
 * `<signal>:<resource>` (or `ok:<value>`), closes its runtime and exits 0 by itself.
 */
import { join } from 'node:path';
import { MemoryLimitExceeded, Runtime, type CallOutcome } from '../../src/index.ts';

const built = (name: string) => join(import.meta.dirname, '..', '..', 'fixtures', 'build', `${name}.wasm`);
const runtime = new Runtime({ threads: 2, ...(process.env.CORRAL_TEST_CACHE_DIR ? { cacheDir: process.env.CORRAL_TEST_CACHE_DIR } : {}) });
const counts: Record<string, number> = {};
const count = (outcome: CallOutcome) => {
  const key = outcome.ok
    ? `ok:${JSON.stringify(outcome.value)}`
    : `${outcome.signal.name}:${outcome.signal instanceof MemoryLimitExceeded ? outcome.signal.resource : '-'}`;
  counts[key] = (counts[key] ?? 0) + 1;
};

const bomb = await runtime.load(built('table-bomb'), { limits: { memoryBytes: 4 * 1024 * 1024 } });
const declared = await runtime.load(built('table-declared'), { limits: { memoryBytes: 64 * 1024 } });
// 100 instances at once each ask for 9M entries (~410 MB of host memory each on main; V8's own limit is
// 10M per table) and trap when refused; then forty 1M-entry grows on one instance; then six 10M-entry
// tables declared, ten times.
(await Promise.all(Array.from({ length: 100 }, () => bomb.invoke('grow-or-trap', [9_000_000])))).forEach(count);
const each = await bomb.invokeEach('grow', Array.from({ length: 40 }, () => [1_000_000]));
if (each.ok) (each.value as number[]).forEach((value) => count({ ...each, value }));
else count(each);
for (let i = 0; i < 10; i++) count(await declared.invoke('size', []));
count(await bomb.invoke('size', []));
await runtime.close();
process.stdout.write(`${JSON.stringify(counts)}\n`);
