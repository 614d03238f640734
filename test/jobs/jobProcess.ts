/**
 * An engine with one job-probe module in a process of its own, so a test can SIGKILL it while jobs
 * run. Run as `node --import tsx jobProcess.ts <stateDir> <tasks>`: enqueues `tasks` counting tasks
 * (in events of 50, all due 1.5 s after the start), prints `enqueued` once all are committed and
 * `done <n>` after each job's commit. Its events get a 20 s deadline: an enqueueing event past the 250 ms
 * default on a loaded machine would end the test before any job ran (it is a crash test, not a timing one).
 */
import { pino } from 'pino';
import { Runtime } from '../../src/index.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { jobProbe } from './jobHarness.ts';

const [stateDir, tasks] = [process.argv[2]!, Number(process.argv[3])];
const runtime = new Runtime({ threads: 2, ...(process.env.CORRAL_TEST_CACHE_DIR ? { cacheDir: process.env.CORRAL_TEST_CACHE_DIR } : {}) });
// A generous deadline: each enqueue event (50 tasks, ~2.3M fuel) took past the default 250 ms on a loaded
// machine, its tasks were dropped with it, and this process exited 2 after 0 jobs (as the cluster test's probes).
const limits = { timeoutMs: 20_000 };
const engine = await Engine.start({ runtime, stateDir, logger: pino({ level: 'warn' }, pino.destination(2)), modules: [jobProbe('j', { jobs: { ratePerMinute: 100_000 }, limits })] });
let done = 0;
engine.jobs$.subscribe((r) => {
  if (r.outcome === 'done' && r.type === 'module:j:work') process.stdout.write(`done ${++done}\n`);
});
// Every task falls due at the same moment, after all are enqueued (enqueuing takes well under a second).
const due = Date.now() + 1_500;
for (let from = 0; from < tasks; from += 50) {
  const opts = { delayMs: Math.max(0, Math.round(due - Date.now())) };
  const outcome = await engine.deliver('j', { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify({ op: 'enqueue', type: 'work', payload: { op: 'count' }, n: Math.min(50, tasks - from), from, opts, record: false }) } }, { seq: from + 1 });
  if (!outcome.ok || (outcome.value as { tag?: string } | undefined)?.tag === 'err') {
    process.stderr.write(`enqueueing failed: ${JSON.stringify(outcome, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}\n`);
    process.exit(2);
  }
}
process.stdout.write('enqueued\n');
