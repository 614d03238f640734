/**
 * The read API's read thread (src/metrics/api/ReadThread.ts): on a LevelDB store, requests are read,
 * decoded and encoded as JSON on their own thread, which opens the engine's database beside it. The
 * engine here is the read API's view of one over a real LevelDB (one module, idle), so each answer can
 * be compared with the main thread's reading of the same snapshot.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EngineError } from '../../src/errors/EngineError.ts';
import { encodeJob, type Job } from '../../src/jobs/Job.ts';
import { timerValue } from '../../src/jobs/timerWrites.ts';
import type { ReadRequest } from '../../src/metrics/api/readRequest.ts';
import { ReadThread, ReadThreadError } from '../../src/metrics/api/ReadThread.ts';
import { readApiHandler, readerOf, type ReadApiEngine, type ReadApiOptions } from '../../src/metrics/api/routes.ts';
import { ApiErrorSchema, JobsPageSchema, TimersPageSchema } from '../../src/metrics/api/shapes.ts';
import { inlineReader, ReadTimeout } from '../../src/metrics/api/StateReader.ts';
import { type EngineMetrics, type MetricsServer, serveMetrics } from '../../src/metrics/EngineMetrics.ts';
import type { ReadView } from '../../src/store/EngineStore.ts';
import { LevelReadView } from '../../src/store/LevelReadView.ts';
import { LevelStore } from '../../src/store/LevelStore.ts';
import { jobKey, timerKey, TIMER_COUNT_KEY } from '../../src/store/reservedKeys.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const auth = { authorization: 'Bearer t' };
const options: ReadApiOptions = { token: 't', allowRemote: false, pageLimit: 100, maxPageLimit: 1000, maxPageBytes: 1024, maxConcurrent: 2, retryAfterS: 3 };
const job = (id: string, payload = 'p'): Job => ({ id, module: 'm', type: 'module:m:work', version: 'v1', payload, enqueuedBy: { event: 'custom' }, enqueuedAt: 1, runAt: 2, attempts: 0, maxRetry: 3 });

describe('read API: the read thread', () => {
  let store: LevelStore;
  let running: string[] = [];
  const engine: ReadApiEngine = {
    readView: () => store.readView(),
    actors: () => [{ name: 'm', state: 'running', breaker: 'closed', mailboxDepth: 0, restarts: 0, invocations: 0, lastSignal: null }] as never,
    chainPositions: () => [],
    allJobStats: () => ({ m: { running: running.length } }) as never,
    runningJobIds: () => running,
    query: async () => ({ kind: 'no-query', module: 'm' }),
  };
  let thread: ReadThread;
  const servers: MetricsServer[] = [];
  let onThread: string;
  let onMain: string;
  const serve = async (reader: Parameters<typeof readApiHandler>[2]) => {
    const server = await serveMetrics({} as EngineMetrics, '127.0.0.1:0', readApiHandler(engine, options, reader)); // only /v1 is asked: no collector
    servers.push(server);
    return server.url;
  };

  beforeAll(async () => {
    store = await LevelStore.open(mkdtempSync(join(tmpdir(), 'corral-read-thread-')));
    const m = await store.module('m');
    const writes = [
      ...['a', 'b', 'c'].map((k) => ({ key: enc(`k/${k}`), value: enc(JSON.stringify({ k })) })),
      ...['j1', 'j2', 'j3'].map((id) => ({ key: jobKey(id), value: encodeJob(job(id)) })),
      // Each alone larger than a page of 1,024 bytes: a task or timer is shown decoded, never cut.
      { key: jobKey('j9-big'), value: encodeJob(job('j9-big', 'x'.repeat(2_000))) },
      { key: timerKey('t1'), value: timerValue({ at: 5 }) },
      { key: timerKey('t9-big'), value: enc(JSON.stringify({ at: 6, pad: 'x'.repeat(2_000) })) },
      { key: TIMER_COUNT_KEY, value: enc('2') },
    ];
    await m.commit({ writes, sizeDelta: writes.reduce((n, w) => n + w.key.byteLength + w.value.byteLength, 0) });
    const probe = await store.readView();
    thread = new ReadThread((probe as LevelReadView).location);
    await probe.close();
    onThread = await serve(thread);
    onMain = await serve(inlineReader(() => store.readView()));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await thread?.close();
    await store?.close();
  });

  it('error: a second LevelStore on a directory this process has open is refused (the read thread may share the database, a second writer may not); after a close it opens', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'corral-read-thread-twice-'));
    const first = await LevelStore.open(directory);
    const second = await LevelStore.open(join(directory, '.')).catch((error: unknown) => error);
    expect(second).toBeInstanceOf(EngineError);
    expect(second).toMatchObject({ code: 'invalid-option' });
    await first.close();
    await (await LevelStore.open(directory)).close();
  });

  it('default: a LevelDB store is read on a read thread; any other on the main thread', async () => {
    expect(await readerOf(engine)).toBeInstanceOf(ReadThread);
    const other: ReadView = { module: async () => undefined, close: async () => {} };
    expect(await readerOf({ ...engine, readView: async () => other })).not.toBeInstanceOf(ReadThread);
  });

  it("behavior: every route's answer from the read thread (at the lowest priority) is the main thread's, byte for byte", async () => {
    running = ['j2'];
    const routes = ['/v1/modules', '/v1/modules/m', '/v1/modules/m/keys?limit=2', '/v1/modules/m/keys?prefix=k/&cursor=ay9h', '/v1/modules/m/jobs', '/v1/modules/m/jobs?state=dead', '/v1/modules/m/jobs?state=running', '/v1/modules/m/timers'];
    for (const route of routes) {
      const [a, b] = await Promise.all([fetch(onThread + route, { headers: auth }), fetch(onMain + route, { headers: auth })]);
      expect([a.status, route]).toEqual([200, route]);
      expect(await a.text()).toBe(await b.text());
    }
    expect(thread.started).toBe(1);
    // On Linux the thread runs at nice 19, the lowest priority: on busy cores, reads get what the engine leaves.
    expect(thread.nice).toBe(process.platform === 'linux' ? 19 : null);
  });

  it('args: jobs?state=running lists the running ids the snapshot holds, in id order, a page at a time', async () => {
    running = ['j3', 'gone', 'j1']; // `gone` committed its run meanwhile: not in the snapshot, not listed
    const first = JobsPageSchema.parse(await (await fetch(`${onThread}/v1/modules/m/jobs?state=running&limit=1`, { headers: auth })).json());
    expect(first).toMatchObject({ module: 'm', state: 'running', jobs: [{ id: 'j1', type: 'module:m:work' }] });
    const second = JobsPageSchema.parse(await (await fetch(`${onThread}/v1/modules/m/jobs?state=running&limit=1&cursor=${first.next}`, { headers: auth })).json());
    expect(second.jobs.map((j) => j.id)).toEqual(['j3']);
    expect(second.next).toBeNull();
  });

  it('behavior: a task or a timer larger than max_page_bytes gets a page of its own that names it in tooLarge with its size, not an empty last page', async () => {
    const get = async (route: string) => (await fetch(onThread + route, { headers: auth })).json();
    const jobs = JobsPageSchema.parse(await get('/v1/modules/m/jobs'));
    expect(jobs.jobs.map((j) => j.id)).toEqual(['j1', 'j2', 'j3']);
    expect(jobs.tooLarge).toBeUndefined();
    const big = JobsPageSchema.parse(await get(`/v1/modules/m/jobs?cursor=${jobs.next}`));
    expect(big).toMatchObject({ jobs: [], tooLarge: [{ key: 'j9-big' }], next: null });
    expect(big.tooLarge![0]!.bytes).toBeGreaterThan(options.maxPageBytes);
    const timers = TimersPageSchema.parse(await get('/v1/modules/m/timers'));
    expect(timers.timers.map((t) => t.tag)).toEqual(['t1']);
    const bigTimer = TimersPageSchema.parse(await get(`/v1/modules/m/timers?cursor=${timers.next}`));
    expect(bigTimer).toMatchObject({ timers: [], tooLarge: [{ key: 't9-big' }], next: null });
  });

  it('error: a read past its deadline is refused with ReadTimeout and its thread replaced; the next read is answered', async () => {
    const fresh = new ReadThread((await store.readView().then(async (v) => (await v.close(), v as LevelReadView))).location);
    const request: ReadRequest = { kind: 'keys', module: 'm', prefix: enc('k/'), bounds: { limit: 10, maxBytes: 1024 } };
    try {
      // A deadline of 0 ms passes before the started thread can answer: with no answer since, it is ended.
      await expect(fresh.read(request, 0)).rejects.toBeInstanceOf(ReadTimeout);
      const json = JSON.parse(new TextDecoder().decode(await fresh.read(request, 10_000)));
      expect(json.entries).toHaveLength(3);
      expect(fresh.started).toBe(2);
    } finally {
      await fresh.close();
    }
  });

  it("behavior: a read's deadline runs from its thread's start: a start (and database open) longer than the deadline does not fail the read", async () => {
    const fresh = new ReadThread((await store.readView().then(async (v) => (await v.close(), v as LevelReadView))).location);
    const request: ReadRequest = { kind: 'keys', module: 'm', prefix: enc('k/'), bounds: { limit: 10, maxBytes: 1024 } };
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const answer = fresh.read(request, 1_000);
      // The whole deadline passes before the thread has started.
      vi.advanceTimersByTime(1_000);
      const json = JSON.parse(new TextDecoder().decode(await answer));
      expect(json.entries).toHaveLength(3);
      expect(fresh.started).toBe(1);
    } finally {
      vi.useRealTimers();
      await fresh.close();
    }
  });

  it('error: past the deadline the client is answered 503 `timeout` with Retry-After, and the slot is free again', async () => {
    let release = () => {};
    const stuck = inlineReader(() => new Promise<ReadView>((resolve) => (release = () => resolve(store.readView() as never))));
    const server = await serveMetrics({} as EngineMetrics, '127.0.0.1:0', readApiHandler(engine, { ...options, maxConcurrent: 1, deadlineMs: 50 }, stuck));
    servers.push(server);
    const res = await fetch(`${server.url}/v1/modules/m/keys`, { headers: auth });
    expect(res.status).toBe(503);
    expect(ApiErrorSchema.parse(await res.json()).error.code).toBe('timeout');
    expect(res.headers.get('retry-after')).toBe('3');
    release();
    expect((await fetch(`${onThread}/v1/modules/m`, { headers: auth })).status).toBe(200);
  });

  it('error: a read thread that cannot open the database fails each read with ReadThreadError (answered 500)', async () => {
    const lost = new ReadThread(join(tmpdir(), 'corral-read-thread-missing', String(process.pid)));
    try {
      await expect(lost.read({ kind: 'timers', module: 'm', bounds: { limit: 1, maxBytes: 1 } }, 10_000)).rejects.toBeInstanceOf(ReadThreadError);
    } finally {
      await lost.close();
    }
  });
});
