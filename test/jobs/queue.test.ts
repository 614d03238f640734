import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LoadError, type Runtime } from '../../src/index.ts';
import { ManualClock } from '../../src/clock/Clock.ts';
import { checkCapabilities } from '../../src/engine/ModuleManifest.ts';
import { parseManifest } from '../../src/config/ModuleManifestSchema.ts';
import { InvocationScope } from '../../src/host/InvocationScope.ts';
import { queueHost } from '../../src/host/queue.ts';
import { RateLimiter } from '../../src/jobs/RateLimiter.ts';
import { decodeJob } from '../../src/jobs/Job.ts';
import { DEDUPE_PREFIX, suffixOf } from '../../src/store/reservedKeys.ts';
import { DEDUPE_SWEEP_MS, IDEMPOTENCY_WINDOW_MS } from '../../src/limits/defaults.ts';
import { DEFAULT_HOST_CAPS } from '../../src/limits/hostCaps.ts';
import { HostFault } from '../../src/errors/HostFault.ts';
import { LevelStore } from '../../src/store/LevelStore.ts';
import { StateTransaction } from '../../src/store/StateTransaction.ts';
import { captureLogger, newRuntime } from '../helpers.ts';
import { jobEngine, jobProbe } from './jobHarness.ts';

const runtime: Runtime = newRuntime();
afterAll(() => runtime.close());

const work = (n = 1, opts: object = {}, type = 'work') => ({ op: 'enqueue', type, payload: { op: 'count' }, n, opts });

describe('queue', () => {
  it('default: an enqueued task runs once through run-job, and its writes commit with its completion', async () => {
    const { engine, run, read } = await jobEngine(runtime);
    expect(await run(work())).toMatchObject({ ok: true });
    await engine.jobsSettled('j');
    expect(await read('count')).toBe(1);
    expect(await read('done/0')).toBe(1);
    expect(await read('last')).toBe('work:0'); // run-job sees the module's own type, not the host's name for it
    const [id] = (await read('enqueued')) as string[];
    expect(id).toMatch(/^[0-9a-z]{9}-[0-9a-f]{14}$/);
    expect(await engine.pendingJobs('j')).toEqual([]);
    expect(engine.jobStats('j')).toMatchObject({ done: 2, pending: 0, running: 0 }); // module-activated, then the task
    await engine.stop();
  });

  it('behavior: the stored size counts a task from its enqueue to its completion: after the tasks ran it is the bytes of the keys left', async () => {
    const { engine, run } = await jobEngine(runtime);
    const bytesLeft = async () => (await engine.entries('j')).reduce((sum, [key, value]) => sum + key.byteLength + value.byteLength, 0);
    expect(await run(work(5, { delayMs: 60_000 }))).toMatchObject({ ok: true });
    expect(engine.storedBytes().j).toBe(await bytesLeft()); // five task records, not yet run
    await engine.enqueue('j', 'work', ['{"op":"count"}', '{"op":"count"}']);
    await engine.jobsSettled('j');
    expect(await engine.pendingJobs('j')).toHaveLength(5);
    expect(engine.storedBytes().j).toBe(await bytesLeft()); // two ran: their records' bytes went with them
    await engine.stop();
  });

  it('error: a module importing queue without the grant is refused at load, naming the interface', async () => {
    const error = await jobEngine(runtime, [jobProbe('j', { grants: { queue: false } })]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoadError);
    expect(error).toMatchObject({ code: 'capability-not-granted', details: { module: 'j', interface: 'queue' } });
  });

  it('error: a component importing queue without exporting run-job is refused at load', () => {
    const manifest = parseManifest({ name: 'q', component: 'q.wasm', grants: { queue: true } });
    expect(() => checkCapabilities(manifest, { 'corral:module/queue@0.1.0': ['enqueue'] }, ['onEvent'])).toThrow(LoadError);
    expect(() => checkCapabilities(manifest, { 'corral:module/queue@0.1.0': ['enqueue'] }, ['onEvent', 'runJob'])).not.toThrow();
  });

  it('error: a call that reaches the queue host without the grant answers `denied` (the import is refused at load; this is the host behind it)', async () => {
    const store = await LevelStore.open(mkdtempSync(join(tmpdir(), 'corral-queue-')));
    const state = await store.module('q');
    const clock = new ManualClock(0);
    const scope = new InvocationScope('q', state, new StateTransaction(state), DEFAULT_HOST_CAPS, captureLogger().logger);
    const host = queueHost(scope, { granted: false, version: 'v', now: () => clock.now(), rate: new RateLimiter(60, clock), retry: 3, maxRetry: 25, enqueuedBy: { event: 'custom' }, rateLimited: () => {} });
    let thrown: unknown;
    try {
      host.enqueue('work', '{}', { delayMs: 0n, uniqueForMs: 0n });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(HostFault);
    expect((thrown as HostFault).payload).toEqual({ tag: 'denied', val: 'q has no queue grant' });
    expect(scope.transaction.size).toBe(0);
    await store.close();
  });

  it('behavior: the rate limit (60 a minute by default): the 60th enqueue succeeds, the 61st answers limit("rate") and is counted; a second later one more goes through', async () => {
    // 61 enqueues from QuickJS in one event: past the 250 ms default deadline on a loaded machine.
    const { engine, run, read, advance } = await jobEngine(runtime, [jobProbe('j', { limits: { timeoutMs: 10_000 } })]);
    await run(work(61));
    const answers = (await read('enqueued')) as unknown[];
    expect(answers.slice(0, 60).every((a) => typeof a === 'string')).toBe(true);
    expect(answers[60]).toEqual({ fault: 'limit', val: 'rate' });
    expect(engine.jobStats('j').rateLimited).toBe(1);
    await run(work(1, {}, 'again'));
    expect(((await read('enqueued')) as unknown[])[61]).toEqual({ fault: 'limit', val: 'rate' }); // no time has passed
    await advance(1_000); // a token every 60 s / 60
    await run(work(1, {}, 'again'));
    expect(((await read('enqueued')) as unknown[])[62]).toMatch(/^[0-9a-z]{9}-/);
    await engine.jobsSettled('j');
    expect(await read('count')).toBe(61);
    expect(engine.jobStats('j').rateLimited).toBe(2);
    await engine.stop();
  });

  it('behavior: the rate is configurable per module', async () => {
    const { engine, run, read } = await jobEngine(runtime, [jobProbe('j', { jobs: { ratePerMinute: 3 } })]);
    await run(work(4));
    expect(((await read('enqueued')) as unknown[]).map((a) => typeof a)).toEqual(['string', 'string', 'string', 'object']);
    await engine.stop();
  });

  it('args: the host stores the type as module:<name>:<type>; a type with a colon (another module\'s), a lifecycle type, a bad name are invalid-input', async () => {
    const { engine, run, read } = await jobEngine(runtime, [jobProbe('j', { jobs: { retry: 2, maxRetry: 5 } })]);
    await run(work(1, { delayMs: 60_000 }, 'later'));
    await run(work(1, { delayMs: 60_000, maxRetry: 1_000, queue: 'critical', type: 'module:other:steal' }, 'greedy')); // fields the record does not have are not seen
    for (const type of ['module:other:work', 'module-activated', 'Work', '', 'x'.repeat(65)]) await run(work(1, {}, type));
    const answers = (await read('enqueued')) as unknown[];
    expect(answers.slice(2)).toEqual(Array(5).fill(expect.objectContaining({ fault: 'invalid-input' })));
    const pending = await engine.pendingJobs('j');
    expect(pending.map((j) => [j.type, j.maxRetry, j.module])).toEqual(
      expect.arrayContaining([
        ['module:j:later', 2, 'j'], // the module's default retries
        ['module:j:greedy', 5, 'j'], // cut to its ceiling
      ]),
    );
    expect(pending).toHaveLength(2);
    for (const job of pending) expect(Object.keys(job).sort()).toEqual(['attempts', 'enqueuedAt', 'enqueuedBy', 'id', 'maxRetry', 'module', 'payload', 'runAt', 'type', 'version']);
    const [task] = pending.filter((j) => j.type === 'module:j:later');
    expect(task).toMatchObject({ enqueuedBy: { event: 'custom', cursor: { seq: 1 } }, enqueuedAt: 1_000_000, runAt: 1_060_000, attempts: 0, payload: '{"op":"count","i":0}' });
    expect(task!.version).toMatch(/^[0-9a-f]{64}$/);
    await engine.stop();
  });

  it('behavior: a task waits for its delay (ManualClock)', async () => {
    const { engine, run, read, advance } = await jobEngine(runtime);
    await run(work(1, { delayMs: 5_000 }));
    await advance(4_999);
    expect(await read('count')).toBeUndefined();
    await advance(1);
    expect(await read('count')).toBe(1);
    await engine.stop();
  });

  it('behavior: unique-for and an idempotency key answer the first task\'s id within their window and enqueue nothing', async () => {
    const { engine, run, read, advance } = await jobEngine(runtime);
    await run(work(1, { uniqueForMs: 10_000, delayMs: 60_000 }));
    await run(work(1, { uniqueForMs: 10_000, delayMs: 60_000 }));
    await run({ ...work(1, { uniqueForMs: 10_000, delayMs: 60_000 }), from: 7 }); // another payload: another task
    await run(work(1, { idempotencyKey: 'order-1', delayMs: 60_000 }, 'other'));
    await run(work(1, { idempotencyKey: 'order-1', delayMs: 60_000 }, 'different-type-same-key'));
    let answers = (await read('enqueued')) as string[];
    expect(answers[1]).toBe(answers[0]);
    expect(answers[2]).not.toBe(answers[0]);
    expect(answers[4]).toBe(answers[3]);
    expect(await engine.pendingJobs('j')).toHaveLength(3);
    await advance(10_001);
    await run(work(1, { uniqueForMs: 10_000, delayMs: 60_000 }));
    answers = (await read('enqueued')) as string[];
    expect(answers[5]).not.toBe(answers[0]); // the window has passed
    expect(await engine.pendingJobs('j')).toHaveLength(4);
    await engine.stop();
  });

  it('behavior: expired deduplication records are swept (they count toward storedBytes), at start and hourly', async () => {
    const { engine, run, advance } = await jobEngine(runtime);
    const dedupeRecords = async () => (await engine.entries('j')).filter(([key]) => suffixOf(key, DEDUPE_PREFIX) !== undefined).length;
    await run(work(1, { uniqueForMs: 10_000 }));
    await run(work(1, { idempotencyKey: 'once' }, 'other'));
    await engine.jobsSettled('j');
    expect(await dedupeRecords()).toBe(2);
    await advance(DEDUPE_SWEEP_MS); // the unique-for window (10 s) has passed, the idempotency key's (24 h) has not
    expect(await dedupeRecords()).toBe(1);
    await advance(IDEMPOTENCY_WINDOW_MS);
    await advance(DEDUPE_SWEEP_MS); // swept at the first sweep after it expired
    expect(await dedupeRecords()).toBe(0);
    await engine.stop();
  });

  it('error: a stored task record that is not one (a NaN runAt, another module\'s type, a missing field) is not taken', () => {
    const good = { id: 'x', module: 'j', type: 'module:j:work', version: 'v', payload: '', enqueuedBy: { engine: 'test' }, enqueuedAt: 1, runAt: 2, attempts: 0, maxRetry: 3 };
    const bytes = (o: object | string) => new TextEncoder().encode(typeof o === 'string' ? o : JSON.stringify(o));
    expect(decodeJob(bytes(good))).toEqual(good);
    for (const bad of [{ ...good, runAt: null }, { ...good, type: 'module:other:work' }, { ...good, attempts: -1 }, { ...good, payload: undefined }, 'not json', 'null']) {
      expect(decodeJob(bytes(bad))).toBeUndefined();
    }
  });

  it('behavior: an event that enqueues and then fails enqueues nothing', async () => {
    const { engine, run } = await jobEngine(runtime);
    const outcome = await run({ op: 'enqueue-then-fail', type: 'work' });
    expect(outcome).toMatchObject({ ok: true, value: { tag: 'err' } });
    await engine.jobsSettled('j'); // module-activated has run
    expect(await engine.pendingJobs('j')).toEqual([]);
    expect(engine.jobStats('j')).toMatchObject({ pending: 0, done: 1 }); // only module-activated ran
    await engine.stop();
  });
});
