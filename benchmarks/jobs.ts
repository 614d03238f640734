/**
 * Jobs: how soon a task starts after the invocation that enqueued it commits (one JavaScript module,
 * one task at a time), and how many trivial tasks the runner completes per second across ten modules
 * (hand-written WAT jobs that store one key: the runner, the worker round trip and the commit, without
 * an interpreter in the guest).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { type Runtime } from '../src/index.ts';
import { Engine } from '../src/engine/Engine.ts';
import type { JobRecord } from '../src/jobs/JobRunner.ts';
import { DEFAULT_JOB_LIMITS } from '../src/limits/defaults.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;
const SAMPLES = 200;
const MODULES = 10;
const TASKS_PER_MODULE = 2_000;

const now = () => performance.timeOrigin + performance.now();

/**
 * CPU time of the main thread so far, in µs (Linux: /proc, 10 ms ticks; undefined elsewhere). Per job
 * it shows what the engine's side costs beside the call itself, whatever else the machine runs (the
 * rates move with the load; CPU per job much less).
 */
function mainThreadCpuUs(): number | undefined {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return undefined;
  }
}
const cpuPerJob = (before: number | undefined, jobs: number) => {
  const after = mainThreadCpuUs();
  return before === undefined || after === undefined ? undefined : (after - before) / jobs;
};

/**
 * Enqueue → start: from the `enqueue` host call (the task's `enqueuedAt`) to its `run-job` starting in
 * a worker, one task at a time: the rest of the enqueuing event, its commit, and the dispatch.
 */
async function enqueueToStart(runtime: Runtime, fixture: (name: string) => string): Promise<ReturnType<typeof summarize>> {
  const engine = await Engine.start({
    runtime,
    stateDir: mkdtempSync(join(tmpdir(), 'corral-bench-jobs-')),
    logger: pino({ level: 'silent' }),
    modules: [{ name: 'j', component: fixture('job-probe'), grants: { store: true, queue: true, http: { hosts: [] } }, topics: ['cmd'], jobs: { ratePerMinute: 1_000_000 } }],
  });
  try {
    await engine.jobsSettled('j');
    const latencies: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const started = new Promise<number>((resolve) => {
        const subscription = engine.jobs$.subscribe((r: JobRecord) => {
          if (r.outcome !== 'done' || r.startedAt === undefined) return;
          subscription.unsubscribe();
          resolve(r.startedAt - r.enqueuedAt);
        });
      });
      await engine.deliver('j', { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify({ op: 'enqueue', type: 'work', payload: { op: 'bump', key: 'k' }, n: 1, record: false }) } }, { seq: i + 1 });
      latencies.push(await started);
    }
    return summarize(latencies);
  } finally {
    await engine.stop();
  }
}

/**
 * Trivial tasks completed per second, ten modules at once (each at its default concurrency of 2): each
 * stores one key (`withWrite`), or does nothing at all (no host call; its commit only deletes the task).
 */
async function throughput(runtime: Runtime, fixture: (name: string) => string, withWrite: boolean): Promise<{ perSecond: number; tasks: number; ms: number; enqueueMs: number; mainCpuUsPerJob: number | undefined }> {
  const modules = Array.from({ length: MODULES }, (_, i) => ({ name: `m${i}`, component: fixture('job-nop'), grants: { store: true } }));
  const engine = await Engine.start({ runtime, stateDir: mkdtempSync(join(tmpdir(), 'corral-bench-jobs-')), logger: pino({ level: 'silent' }), modules });
  try {
    await engine.jobsSettled();
    // Warm each module's job instances first.
    await Promise.all(modules.map((m) => engine.enqueue(m.name, 'warm', ['w0', 'w1'])));
    await engine.jobsSettled();
    const total = MODULES * TASKS_PER_MODULE;
    let done = 0;
    const finished = new Promise<void>((resolve) => {
      engine.jobs$.subscribe((r) => {
        if (r.outcome === 'done' && ++done === total) resolve();
      });
    });
    const t0 = now();
    const cpu0 = mainThreadCpuUs();
    await Promise.all(modules.map((m) => engine.enqueue(m.name, 'nop', Array.from({ length: TASKS_PER_MODULE }, (_, i) => (withWrite ? `k${i}` : '')))));
    const enqueueMs = now() - t0;
    await finished;
    const ms = now() - t0;
    return { perSecond: (total / ms) * 1000, tasks: total, ms, enqueueMs, mainCpuUsPerJob: cpuPerJob(cpu0, total) };
  } finally {
    await engine.stop();
  }
}

/**
 * The same guest's `run-job` called straight through the runtime, 20 in flight (as ten modules at a
 * concurrency of 2), with a `store.set` that does nothing: the ceiling the runner and its commits sit
 * on, measured in the same run (the machine's speed moves between runs).
 */
async function bareCalls(runtime: Runtime, fixture: (name: string) => string, withWrite: boolean): Promise<{ perSecond: number; mainCpuUsPerJob: number | undefined }> {
  const imports = { 'corral:module/store': { set: () => {} } };
  const component = await runtime.load(fixture('job-nop'), { name: 'bare-job-nop', imports });
  const total = MODULES * TASKS_PER_MODULE;
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      // The limits the runner gives a job: under load the 250 ms call default can pass while a
      // thread waits for a core, which would end the bench instead of slowing one call.
      await component.call('run-job', ['nop', withWrite ? `k${i}` : ''], DEFAULT_JOB_LIMITS);
    }
  };
  await Promise.all(Array.from({ length: 20 }, worker)); // warm
  next = 0;
  const t0 = now();
  const cpu0 = mainThreadCpuUs();
  await Promise.all(Array.from({ length: 20 }, worker));
  const perSecond = (total / (now() - t0)) * 1000;
  const mainCpuUsPerJob = cpuPerJob(cpu0, total);
  component.close();
  return { perSecond, mainCpuUsPerJob };
}

export async function benchJobs(runtime: Runtime, fixture: (name: string) => string, row: Row): Promise<Record<string, unknown>> {
  const latency = await enqueueToStart(runtime, fixture);
  row('job start after its enqueue call (event end + commit + dispatch), p50 / p99', `${latency.p50.toFixed(2)} ms / ${latency.p99.toFixed(2)} ms`);
  const rate = await throughput(runtime, fixture, true);
  const bare = await bareCalls(runtime, fixture, true);
  const k = (n: number) => `${Math.round(n).toLocaleString('en')}/s`;
  const cpu = (engine: number | undefined, bareCpu: number | undefined) => (engine === undefined || bareCpu === undefined ? '' : `; main-thread CPU per job ${Math.round(engine)} µs vs bare ${Math.round(bareCpu)} µs`);
  row(`trivial jobs (one store.set) across ${MODULES} modules (${rate.tasks.toLocaleString('en')} tasks)`, `${k(rate.perSecond)}, enqueueing included (${Math.round(rate.enqueueMs)} ms of ${Math.round(rate.ms)}); the same run-job called bare, 20 in flight: ${k(bare.perSecond)}, ${Math.round((rate.perSecond / bare.perSecond) * 100)} % of it${cpu(rate.mainCpuUsPerJob, bare.mainCpuUsPerJob)}`, '≥ 10,000/s', rate.perSecond >= 10_000);
  const empty = await throughput(runtime, fixture, false);
  const bareEmpty = await bareCalls(runtime, fixture, false);
  row(`  empty jobs (no host call)`, `${k(empty.perSecond)} (bare: ${k(bareEmpty.perSecond)}; ${Math.round((empty.perSecond / bareEmpty.perSecond) * 100)} %${cpu(empty.mainCpuUsPerJob, bareEmpty.mainCpuUsPerJob)})`, '≥ 10,000/s', empty.perSecond >= 10_000);
  return { enqueueToStartMs: latency, throughput: rate, throughputEmpty: empty, bareCallsPerSecond: { withWrite: bare.perSecond, empty: bareEmpty.perSecond }, bareMainCpuUsPerJob: { withWrite: bare.mainCpuUsPerJob, empty: bareEmpty.mainCpuUsPerJob } };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { newRuntime, fixture } = await import('../test/helpers.ts');
  const runtime = newRuntime();
  console.log(JSON.stringify(await benchJobs(runtime, fixture as (name: string) => string, (name, value, target) => console.log(`  ${name}: ${value} ${target ?? ''}`))));
  await runtime.close();
}
