import { appendFileSync, copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineError, type Runtime } from '../../src/index.ts';
import type { JobRecord } from '../../src/jobs/JobRunner.ts';
import { deadJobs } from '../../src/jobs/deadLetters.ts';
import { JOB_RETRY } from '../../src/limits/defaults.ts';
import { fixture, newRuntime } from '../helpers.ts';
import { backends, readStore } from '../store/backends.ts';
import { heldServer, inspectModule, jobEngine, jobProbe } from './jobHarness.ts';

// Jobs blocked in an HTTP call each hold a worker thread: four at once, and events beside them.
const runtime: Runtime = newRuntime({ threads: 6 });
afterAll(() => runtime.close());

/**
 * For a module whose event the test holds in an HTTP call while it does something else: the default
 * 250 ms deadline is real time, and under load the event would end in ExecutionTimeout before the test
 * releases it (a job whose commit must conflict with it then commits instead). The tests are about
 * conflicts and order, not deadlines.
 */
const HELD_EVENT_LIMITS = { timeoutMs: 60_000 };

const task = (payload: object, n = 1, opts: object = {}, type = 'work') => ({ op: 'enqueue', type, payload, n, opts });

/** A copy of the job-probe component with a custom section appended: the same module, another build (another sha256). */
function rebuilt(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'corral-v2-')), 'job-probe.wasm');
  copyFileSync(fixture('job-probe'), path);
  const name = Buffer.from('corral-test-build');
  const body = Buffer.concat([Buffer.from([name.length]), name, Buffer.from('v2')]);
  appendFileSync(path, Buffer.concat([Buffer.from([0, body.length]), body]));
  return path;
}

describe('jobs', () => {
  it('behavior: at most `concurrency` jobs of one module run at once, while another module\'s jobs run beside them', async () => {
    const server = await heldServer();
    const grants = { http: { hosts: [server.host] } };
    const { engine, run, read } = await jobEngine(runtime, [jobProbe('a', { grants }), jobProbe('b', { grants })]);
    await engine.jobsSettled();
    await run(task({ op: 'fetch', url: `${server.url}/a` }, 5), 'a');
    await run(task({ op: 'fetch', url: `${server.url}/b` }, 5), 'b');
    await Promise.all([server.held(2, 'a'), server.held(2, 'b')]); // both modules at their limit at once
    expect(engine.jobStats('a').running).toBe(2);
    expect(engine.jobStats('b').running).toBe(2);
    expect(server.inFlight('a')).toBe(2);
    server.releaseAll();
    await Promise.all([server.held(2, 'a'), server.held(2, 'b')]); // the next two of each, as slots free up
    server.releaseAll();
    await Promise.all([server.held(1, 'a'), server.held(1, 'b')]); // the last of each
    server.releaseAll();
    await engine.jobsSettled();
    for (const module of ['a', 'b']) for (let i = 0; i < 5; i++) expect(await read(`done/${i}`, module)).toBe(1);
    expect(server.max()).toEqual({ a: 2, b: 2, total: 4 });
    await engine.stop();
    await server.close();
  });

  describe.each(backends)('on $name', (backend) => {
    it('behavior: a task of another version of the module is skipped, not retried, and counted', async () => {
      const store = await backend.options();
      const first = await jobEngine(runtime, [jobProbe()], { store });
      await first.run(task({ op: 'count' }, 2, { delayMs: 60_000 }));
      await first.engine.stop();

      const second = await jobEngine(runtime, [jobProbe('j', { component: rebuilt() })], { store, start: 2_000_000 });
      // Both tasks were skipped while the engine started (jobEngine waits for that).
      expect((second.records as { msg?: string; reason?: string; type?: string }[]).filter((r) => r.reason === 'version-mismatch').map((r) => r.type)).toEqual(['module:j:work', 'module:j:work']);
      expect(second.engine.jobStats('j')).toMatchObject({ skipped: { 'version-mismatch': 2 }, pending: 0, retried: 0 });
      expect(await second.read('count')).toBeUndefined();
      await second.advance(120_000);
      expect(await second.read('count')).toBeUndefined();
      await second.engine.stop();
    });
  });

  it('behavior: tasks of a module that is not loaded when the engine starts are skipped (module-gone), not retried, and counted', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-jobs-'));
    const first = await jobEngine(runtime, [jobProbe('gone'), jobProbe('stays')], { stateDir });
    await first.run(task({ op: 'count' }, 2, { delayMs: 60_000 }), 'gone');
    await first.engine.stop();

    const second = await jobEngine(runtime, [jobProbe('stays')], { stateDir });
    await second.engine.jobsSettled();
    expect(second.engine.jobStats('stays').skipped).toEqual({});
    await second.engine.stop();
    expect((await inspectModule(stateDir, 'gone')).jobs).toEqual({ pending: [], dead: [] });

    const third = await jobEngine(runtime, [jobProbe('gone')], { stateDir });
    await third.advance(120_000);
    expect(await third.read('count', 'gone')).toBeUndefined(); // skipped for good, not waiting for the module's return
    await third.engine.stop();
  });

  it('behavior: tasks of a module whose actor is stopped (a temporary one after its failure) are skipped (module-stopped), not retried, and counted', async () => {
    const { engine, run, read, advance } = await jobEngine(runtime, [jobProbe('j', { restart: 'temporary', limits: { fuel: 5_000_000 } })]);
    await run(task({ op: 'count' }, 1, { delayMs: 1_000 }));
    expect(await run({ op: 'spin' })).toMatchObject({ ok: false, signal: { name: 'OutOfFuel' } });
    expect(engine.actors().find((a) => a.name === 'j')?.state).toBe('stopped');
    await advance(1_000);
    expect(engine.jobStats('j')).toMatchObject({ skipped: { 'module-stopped': 1 }, pending: 0, retried: 0 });
    expect(await read('count')).toBeUndefined();
    await engine.stop();
  });

  describe.each(backends)('on $name', (backend) => {
    it('behavior: a failing task is retried with backoff, dead-lettered after max-retry, and a manual retry succeeds', async () => {
      const { engine, run, advance, store } = await jobEngine(runtime, undefined, { store: await backend.options() });
      await engine.jobsSettled('j');
      const records: JobRecord[] = [];
      engine.jobs$.subscribe((r) => records.push(r));
      await run(task({ op: 'needs', key: 'allow' }, 1, { maxRetry: 2 }));
      await engine.jobsSettled('j');
      expect(records.map((r) => r.outcome)).toEqual(['retry']);
      await advance(JOB_RETRY.initialMs - 1);
      expect(records).toHaveLength(1); // not before its backoff
      await advance(1);
      await advance(2 * JOB_RETRY.initialMs); // the second retry waits twice as long
      expect(records.map((r) => [r.outcome, r.attempts])).toEqual([
        ['retry', 1],
        ['retry', 2],
        ['dead', 3],
      ]);
      await advance(3_600_000);
      expect(records).toHaveLength(3); // dead: never again by itself
      const [dead] = await engine.deadJobs('j');
      expect(dead).toMatchObject({ type: 'module:j:work', attempts: 3, lastError: 'allow is not set', deadAt: expect.any(Number) });
      expect(engine.jobStats('j')).toMatchObject({ retried: 2, dead: 1, pending: 0 });
      await engine.stop();
      expect(await readStore(store, async (s) => deadJobs(await s.module('j')))).toEqual([expect.objectContaining({ id: dead!.id, attempts: 3, lastError: 'allow is not set' })]);
    });
  });

  it('behavior: a dead-lettered task retried by hand runs again with its full retries', async () => {
    const { engine, run, read, advance } = await jobEngine(runtime);
    await run(task({ op: 'needs', key: 'allow' }, 1, { maxRetry: 0 }));
    await engine.jobsSettled('j');
    const [dead] = await engine.deadJobs('j');
    expect(dead).toBeDefined();
    await run({ op: 'set', key: 'allow', value: true });
    await expect(engine.retryJob('j', 'no-such-job')).rejects.toMatchObject({ code: 'unknown-job' });
    const retried = await engine.retryJob('j', dead!.id);
    expect(retried).toMatchObject({ id: dead!.id, attempts: 0 });
    await advance(0);
    expect(await read('count')).toBe(1);
    expect(await engine.deadJobs('j')).toEqual([]);
    expect(await engine.pendingJobs('j')).toEqual([]);
    await engine.stop();
  });

  it('behavior: a job whose writes conflict with an event in flight (it read the key) waits and runs again; no update is lost', async () => {
    const server = await heldServer();
    const { engine, run, read, clock } = await jobEngine(runtime, [jobProbe('j', { grants: { http: { hosts: [server.host] } }, limits: HELD_EVENT_LIMITS })]);
    await engine.jobsSettled('j');
    // A job due in a second adds one to k; the event reads k, then waits in an HTTP call; the job falls due meanwhile.
    await run(task({ op: 'bump', key: 'k' }, 1, { delayMs: 1_000 }));
    const event = run({ op: 'bump-after-fetch', key: 'k', url: `${server.url}/event` });
    await server.held(1, 'event');
    const conflicted = new Promise((resolve) => engine.jobs$.subscribe((r) => r.outcome === 'conflict' && resolve(r)));
    clock.advance(1_000);
    expect(await conflicted).toMatchObject({ type: 'module:j:work' }); // the job's commit was refused while the event had read k
    expect(await read('k')).toBeUndefined(); // and nothing of it committed
    server.releaseAll();
    await event;
    await engine.jobsSettled('j');
    expect(await read('k')).toBe(2);
    await engine.stop();
    await server.close();
  });

  it('behavior: an event that commits a key a running job has read makes the job run again; no update is lost', async () => {
    const server = await heldServer();
    const { engine, run, read } = await jobEngine(runtime, [jobProbe('j', { grants: { http: { hosts: [server.host] } } })]);
    await engine.jobsSettled('j');
    await run(task({ op: 'bump-after-fetch', key: 'k', url: `${server.url}/job` }));
    await server.held(1, 'job'); // the job has read k and waits
    await run({ op: 'bump', key: 'k' }); // the event commits k = 1
    server.releaseAll(); // the job commits k = 1 too? Refused: it read k before the event's commit
    await server.held(1, 'job'); // so it runs again, from k = 1
    server.releaseAll();
    await engine.jobsSettled('j');
    expect(await read('k')).toBe(2);
    expect(engine.jobStats('j')).toMatchObject({ conflicts: 1, done: 2 });
    await engine.stop();
    await server.close();
  });

  it('behavior: two jobs refused while the event in flight has read both their keys take turns after it; neither waits for the other for ever', async () => {
    const server = await heldServer();
    const { engine, run, read, clock } = await jobEngine(runtime, [jobProbe('j', { grants: { http: { hosts: [server.host] } }, limits: HELD_EVENT_LIMITS })]);
    await run(task({ op: 'bump', key: 'k1' }, 1, { delayMs: 1_000 }, 'one'));
    await run(task({ op: 'bump', key: 'k2' }, 1, { delayMs: 1_000 }, 'two'));
    const event = run({ op: 'read-then-fetch', keys: ['k1', 'k2'], url: `${server.url}/event` });
    await server.held(1, 'event');
    let refused = 0;
    const bothRefused = new Promise<void>((resolve) => engine.jobs$.subscribe((r) => r.outcome === 'conflict' && ++refused === 2 && resolve()));
    clock.advance(1_000);
    await bothRefused;
    server.releaseAll();
    await event;
    await engine.jobsSettled('j');
    expect([await read('k1'), await read('k2')]).toEqual([1, 1]);
    expect(engine.jobStats('j')).toMatchObject({ pending: 0, running: 0, retried: 0, dead: 0 });
    await engine.stop();
    await server.close();
  });

  it('behavior: unloading a module while its jobs run lets them finish and leaves the tasks not yet started pending for its next load (none is skipped)', async () => {
    const server = await heldServer();
    const grants = { http: { hosts: [server.host] } };
    const { engine, run, read } = await jobEngine(runtime, [jobProbe('j', { grants })]);
    await run(task({ op: 'fetch', url: `${server.url}/a` }, 5));
    await server.held(2, 'a');
    const unloaded = engine.unload('j');
    server.answerAll();
    await unloaded;
    await engine.load(jobProbe('j', { grants }));
    await engine.jobsSettled('j');
    for (let i = 0; i < 5; i++) expect(await read(`done/${i}`)).toBe(1);
    expect(engine.jobStats('j').skipped).toEqual({});
    await engine.stop();
    await server.close();
  });

  it('behavior: a quarantined module\'s tasks wait; stopping the engine then does not hang and leaves them pending', async () => {
    const { engine, run, clock, stateDir } = await jobEngine(runtime, [jobProbe('j', { limits: { fuel: 5_000_000 }, supervision: { intensity: 1, backoffInitialMs: 0, breakerCooldownMs: 3_600_000 } })]);
    await run(task({ op: 'count' }, 1, { delayMs: 1_000 }));
    await run({ op: 'spin' });
    clock.advance(0); // its backoff (0 ms) on the engine's clock
    await run({ op: 'spin' }); // past its intensity: the circuit opens
    expect(engine.actors().find((a) => a.name === 'j')?.state).toBe('quarantined');
    clock.advance(1_000); // the task falls due and is taken at once (synchronously), then waits for the circuit
    expect(engine.jobStats('j')).toMatchObject({ running: 1, done: 1 }); // done: module-activated only
    await engine.stop();
    expect((await inspectModule(stateDir, 'j')).jobs.pending.map((j) => j.type)).toEqual(['module:j:work']);
  });

  it('behavior: lifecycle tasks: module-activated at load, module-deactivated at stop and unload, module-uninstalled (which may clean the module\'s state) only when asked', async () => {
    const { engine, read, stateDir } = await jobEngine(runtime);
    await engine.jobsSettled('j');
    expect(await read('lifecycle')).toEqual(['module-activated']);
    await engine.unload('j');
    await engine.load(jobProbe());
    await engine.jobsSettled('j');
    expect(await read('lifecycle')).toEqual(['module-activated', 'module-deactivated', 'module-activated']);
    await engine.unload('j', { uninstall: true });
    await engine.stop();
    expect((await inspectModule(stateDir, 'j')).entries).toEqual([]); // its module-uninstalled task deleted every key
  });

  it('behavior: a module loaded again while its earlier instance drains waits for it: each lifecycle task runs once, in order', async () => {
    const server = await heldServer();
    const grants = { http: { hosts: [server.host] } };
    const { engine, read, logged } = await jobEngine(runtime, [jobProbe('j', { grants, limits: HELD_EVENT_LIMITS })]);
    await engine.jobsSettled('j');
    const runs: string[] = [];
    engine.jobs$.subscribe((r: JobRecord) => runs.push(`${r.type.split(':')[2]}:${r.outcome}`));
    const fetch = { op: 'read-then-fetch', keys: [], url: `${server.url}/held` };
    const event = engine.deliver('j', { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify(fetch) } }, { seq: 1 });
    await server.held(1, 'held');
    const unloaded = engine.unload('j'); // drains the held event, then runs module-deactivated
    const loaded = engine.load(jobProbe('j', { grants, limits: HELD_EVENT_LIMITS })); // shares j's state: must wait for that
    const settled: string[] = [];
    void unloaded.then(() => settled.push('unloaded'));
    void loaded.then(() => settled.push('loaded'));
    // The held event is answered once the load has either finished (it did not wait: the bug) or said it waits.
    await Promise.race([loaded, logged((r) => r.msg === 'module waits for its earlier instance to drain')]);
    server.releaseAll();
    await Promise.all([event, unloaded, loaded]);
    expect(settled).toEqual(['unloaded', 'loaded']);
    await engine.jobsSettled('j');
    expect(runs).toEqual(['module-deactivated:done', 'module-activated:done']);
    expect(await read('lifecycle')).toEqual(['module-activated', 'module-deactivated', 'module-activated']);
    await engine.stop();
    await server.close();
  });

  it('behavior: jobs have their own limits; high_resource_jobs lifts them to the engine\'s job ceiling', async () => {
    const jobLimits = { standard: { fuel: 200_000, timeoutMs: 30_000, memoryBytes: 64 * 1024 * 1024 }, highResource: { fuel: 50_000_000, timeoutMs: 30_000, memoryBytes: 64 * 1024 * 1024 } };
    const { engine, run, read } = await jobEngine(runtime, [jobProbe('small'), jobProbe('large', { grants: { highResourceJobs: true } })], { jobLimits });
    const records: JobRecord[] = [];
    engine.jobs$.subscribe((r) => records.push(r));
    await run(task({ op: 'count' }, 1, { maxRetry: 0 }), 'small');
    await run(task({ op: 'count' }, 1, { maxRetry: 0 }), 'large');
    await engine.jobsSettled();
    expect(records.find((r) => r.module === 'small' && r.type === 'module:small:work')).toMatchObject({ outcome: 'dead', signal: 'OutOfFuel' });
    expect(records.find((r) => r.module === 'large' && r.type === 'module:large:work')).toMatchObject({ outcome: 'done' });
    expect(await read('count', 'large')).toBe(1);
    expect(await read('count', 'small')).toBeUndefined();
    await run({ op: 'bump', key: 'e' }, 'small'); // the module's events keep their own (default) limits
    expect(await read('e', 'small')).toBe(1);
    await engine.stop();
  });

  it('behavior: a job may enqueue further tasks; each task records what enqueued it', async () => {
    const { engine, run, read } = await jobEngine(runtime);
    await run(task({ op: 'chain', i: 1 }));
    await engine.jobsSettled('j');
    expect(await read('count')).toBe(1);
    expect(await read('last')).toBe('follow-up:1000');
    await engine.stop();
  });

  it('error: an unknown module is an EngineError', async () => {
    const { engine } = await jobEngine(runtime);
    expect(() => engine.jobStats('nope')).toThrow(EngineError);
    await engine.stop();
  });
});
