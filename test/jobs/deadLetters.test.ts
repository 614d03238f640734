import { afterAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/index.ts';
import { purgeDeadLetters } from '../../src/cli/deadLetters.ts';
import { deadJobs } from '../../src/jobs/deadLetters.ts';
import { DEDUPE_SWEEP_MS } from '../../src/limits/defaults.ts';
import { DEFAULT_JOB_ERROR_BYTES, DEFAULT_JOB_LIMITS, HIGH_RESOURCE_JOB_LIMITS } from '../../src/limits/defaults.ts';
import { EngineMetrics } from '../../src/metrics/EngineMetrics.ts';
import { newRuntime } from '../helpers.ts';
import { backends, readStore } from '../store/backends.ts';
import { inspectModule, jobEngine, jobProbe } from './jobHarness.ts';

const runtime: Runtime = newRuntime();
afterAll(() => runtime.close());

/** Enqueues `n` tasks that fail (their error names `key`, which is never set) and are dead-lettered at once. */
const failing = (key: string, n = 1) => ({ op: 'enqueue', type: 'work', payload: { op: 'needs', key }, n, opts: { maxRetry: 0 }, record: false });
const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
/** Fuel enough for the guest to build a long error (QuickJS spends fuel on every character). */
const jobLimits = { standard: { ...DEFAULT_JOB_LIMITS, fuel: 2_000_000_000 }, highResource: { ...HIGH_RESOURCE_JOB_LIMITS } };

describe('dead letters', () => {
  it("error: a failing job's error text is bounded where it is stored and where it is logged", async () => {
    const { engine, run, stateDir, records } = await jobEngine(runtime, [jobProbe()], { jobLimits });
    await run(failing('x'.repeat(10_000))); // the guest's error repeats the 10 kB key
    await engine.jobsSettled('j');
    const [dead] = await engine.deadJobs('j');
    expect(bytes(dead!.lastError!)).toBeLessThanOrEqual(DEFAULT_JOB_ERROR_BYTES);
    expect(bytes(dead!.lastError!)).toBeGreaterThan(DEFAULT_JOB_ERROR_BYTES - 64); // the guest's own text, cut
    const logged = records.filter((r) => r.job === dead!.id && 'error' in r);
    expect(logged).toHaveLength(1);
    expect(bytes(String(logged[0]!.error))).toBeLessThanOrEqual(DEFAULT_JOB_ERROR_BYTES);
    await engine.stop();
    expect(bytes((await inspectModule(stateDir, 'j')).jobs.dead[0]!.lastError!)).toBeLessThanOrEqual(DEFAULT_JOB_ERROR_BYTES);
  });

  describe.each(backends)('on $name', (backend) => {
    it('behavior: a module keeps its newest dead letters up to the count, and the metric says how many', async () => {
      const { engine, run, store } = await jobEngine(runtime, [jobProbe()], { store: await backend.options(), deadLetters: { maxCount: 3, maxAgeMs: 24 * 60 * 60 * 1000 } });
      for (let i = 0; i < 5; i++) {
        await run(failing(`k${i}`));
        await engine.jobsSettled('j');
      }
      await expect.poll(() => engine.jobStats('j').deadLetters).toBe(3);
      const metrics = new EngineMetrics(engine);
      expect(await metrics.text()).toMatch(/^corral_dead_letters\{module="j"\} 3$/m);
      metrics.close();
      expect((await engine.deadJobs('j')).map((job) => job.lastError)).toEqual(['k2 is not set', 'k3 is not set', 'k4 is not set']);
      await engine.stop();
      expect((await readStore(store, async (s) => deadJobs(await s.module('j')))).map((job) => job.lastError)).toEqual(['k2 is not set', 'k3 is not set', 'k4 is not set']);
    });
  });

  it('behavior: dead letters older than their age are deleted by the hourly sweep (ManualClock)', async () => {
    const { engine, run, advance } = await jobEngine(runtime, [jobProbe()], { deadLetters: { maxCount: 100, maxAgeMs: 60_000 } });
    await run(failing('old', 2));
    await engine.jobsSettled('j');
    await advance(DEDUPE_SWEEP_MS / 2);
    await run(failing('young'));
    await engine.jobsSettled('j');
    expect(engine.jobStats('j').deadLetters).toBe(3);
    await advance(DEDUPE_SWEEP_MS / 2); // the sweep: 'old' died an hour ago, 'young' half an hour ago, both past 60 s
    await expect.poll(() => engine.jobStats('j').deadLetters).toBe(0);
    expect(await engine.deadJobs('j')).toEqual([]);
    await engine.stop();
  });

  it('behavior: dead letters filling the quota refuse writes until `corral dead-letters purge` frees it', async () => {
    // Four dead letters of ~9.5 kB (a 5 kB payload, a 4 kB error) take 37,941 bytes; a fourth enqueue (~5 kB over three) still fits.
    const small = jobProbe('j', { caps: { storedBytes: 37_500 } });
    const first = await jobEngine(runtime, [small], { jobLimits });
    for (let i = 0; i < 4; i++) {
      await first.run(failing(`${i}${'x'.repeat(5_000)}`)); // ~9 kB each: its payload and its (bounded) error
      await first.engine.jobsSettled('j');
    }
    expect(await first.engine.deadJobs('j')).toHaveLength(4);
    expect(await first.run({ op: 'set', key: 'small', value: 'v'.repeat(500) })).toMatchObject({ ok: false, signal: { name: 'HostLimitExceeded', limit: 'storedBytes' } });
    await first.engine.stop();

    // Four, and any lifecycle task the full quota failed meanwhile (module-deactivated at the stop).
    expect((await purgeDeadLetters(first.stateDir, { module: 'j' })).j).toBeGreaterThanOrEqual(4);
    expect((await inspectModule(first.stateDir, 'j')).jobs.dead).toEqual([]);
    await expect(purgeDeadLetters(first.stateDir, { module: 'nobody' })).rejects.toMatchObject({ code: 'unknown-module' });
    const second = await jobEngine(runtime, [small], { stateDir: first.stateDir, jobLimits });
    expect(await second.run({ op: 'set', key: 'small', value: 'v'.repeat(500) })).toMatchObject({ ok: true });
    expect(second.engine.jobStats('j').deadLetters).toBe(0);
    await second.engine.stop();
  });
});
