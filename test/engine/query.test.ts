import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExecutionTimeout, OutOfFuel, type ModuleManifest, type Runtime } from '../../src/index.ts';
import { Engine, type EngineOptions, type QueryResult } from '../../src/engine/Engine.ts';
import { EngineConfigSchema } from '../../src/config/EngineConfig.ts';
import { parseManifest } from '../../src/config/ModuleManifestSchema.ts';
import { DEFAULT_QUERY } from '../../src/limits/defaults.ts';
import { EngineMetrics, serveMetrics } from '../../src/metrics/EngineMetrics.ts';
import { readApiHandler } from '../../src/metrics/api/routes.ts';
import { captureLogger, fixture, newRuntime } from '../helpers.ts';

// Events run on one thread: a query that held it would hold every event (see the ordering test).
const runtime: Runtime = newRuntime({ threads: 1 });
afterAll(() => runtime.close());

const probe = (m: Partial<ModuleManifest> = {}): ModuleManifest => ({
  name: 'probe',
  component: fixture('query-probe'),
  grants: { store: true, logging: true, chain: { chains: [1] } },
  topics: ['count', 'name'],
  ...m,
});

async function engineWith(modules: ModuleManifest[], options: Partial<EngineOptions> = {}) {
  const capture = captureLogger();
  // The query runtime the engine makes shares the test run's artifact cache, as the events' runtime does.
  const query = { ...(process.env.CORRAL_TEST_CACHE_DIR ? { cacheDir: process.env.CORRAL_TEST_CACHE_DIR } : {}), ...options.query };
  const engine = await Engine.start({ runtime, stateDir: mkdtempSync(join(tmpdir(), 'corral-query-')), logger: capture.logger, modules, ...options, query });
  return { engine, ...capture };
}

function expectKind<K extends QueryResult['kind']>(result: QueryResult, kind: K): Extract<QueryResult, { kind: K }> {
  expect(result.kind, JSON.stringify(result)).toBe(kind);
  return result as Extract<QueryResult, { kind: K }>;
}

describe('engine.query', () => {
  it('default: answers from committed state, with the request\'s parameters', async () => {
    const { engine } = await engineWith([probe()]);
    try {
      await engine.publish('count', '42');
      await engine.settled('probe');
      expect(expectKind(await engine.query('probe', '/get', [['key', 'count']]), 'answer').answer).toBe('42');
      expect(expectKind(await engine.query('probe', '/get', [['key', 'name']]), 'fault').fault).toEqual({ tag: 'not-found', val: 'no such key' });
      expect(expectKind(await engine.query('probe', '/get', []), 'fault').fault.tag).toBe('invalid-input');
      // A later commit shows in the next query: each query reads a view opened for it.
      await engine.publish('count', '43');
      await engine.settled('probe');
      expect(expectKind(await engine.query('probe', 'get', [['key', 'count']]), 'answer').answer).toBe('43');
    } finally {
      await engine.stop();
    }
  });

  it('error: a query that writes gets `denied` (read-only), and nothing is written', async () => {
    const { engine } = await engineWith([probe()]);
    try {
      const fault = expectKind(await engine.query('probe', '/set'), 'fault').fault;
      expect(fault.tag).toBe('denied');
      expect(fault.val).toMatch(/read-only/);
      expect(await engine.entries('probe')).toEqual([]);
    } finally {
      await engine.stop();
    }
  });

  it('error: a query that calls the chain gets `denied`, though the module is granted the chain', async () => {
    const { engine } = await engineWith([probe()]);
    try {
      expect(expectKind(await engine.query('probe', '/chain'), 'fault').fault.tag).toBe('denied');
    } finally {
      await engine.stop();
    }
  });

  it('error: a query that loops forever is stopped with its signal (OutOfFuel or ExecutionTimeout, whichever trips first)', async () => {
    const { engine } = await engineWith([probe()]);
    try {
      const { signal } = expectKind(await engine.query('probe', '/loop'), 'signal');
      expect(signal instanceof OutOfFuel || signal instanceof ExecutionTimeout).toBe(true);
      expect(signal.component).toBe('probe-query');
      // The module goes on answering: the stopped instance was discarded, not the component.
      expect(expectKind(await engine.query('probe', '/nothing'), 'fault').fault.tag).toBe('not-found');
    } finally {
      await engine.stop();
    }
  });

  it("behavior: a looping query does not delay the module's events (the event commits before the query's signal)", async () => {
    // Fuel far beyond what the deadline lets it burn: the deadline stops it, long after the event.
    const { engine, logged } = await engineWith([probe({ query: { timeoutMs: 5_000 } })], { query: { fuel: 1e15, timeoutMs: 5_000 } });
    try {
      const order: string[] = [];
      const query = engine.query('probe', '/loop').then((result) => {
        order.push('query ended');
        return result;
      });
      // The guest logs before it spins: from here on it holds a thread until its deadline.
      await logged((r) => r.msg === 'looping' && r.query === '/loop');
      await engine.publish('count', '7');
      await engine.settled('probe');
      order.push('event committed');
      expect(await engine.cursor('probe')).toEqual({ seq: 1 });
      const { signal } = expectKind(await query, 'signal');
      expect(signal).toBeInstanceOf(ExecutionTimeout);
      expect(order).toEqual(['event committed', 'query ended']);
    } finally {
      await engine.stop();
    }
  });

  it('behavior: `[modules.query]` limits apply, each capped by `[engine.query]`', async () => {
    const { engine } = await engineWith(
      [probe({ name: 'narrow', query: { fuel: 50_000 } }), probe({ name: 'wide', query: { fuel: 1e12, timeoutMs: 60_000 } })],
      { query: { fuel: 2_000_000, timeoutMs: 60_000 } },
    );
    try {
      const narrow = expectKind(await engine.query('narrow', '/loop'), 'signal').signal;
      expect(narrow).toBeInstanceOf(OutOfFuel);
      expect((narrow as OutOfFuel).fuelLimit).toBe(50_000);
      const wide = expectKind(await engine.query('wide', '/loop'), 'signal').signal;
      expect(wide).toBeInstanceOf(OutOfFuel);
      expect((wide as OutOfFuel).fuelLimit).toBe(2_000_000);
    } finally {
      await engine.stop();
    }
  });

  it('error: past `max_concurrent` queries a query waits `checkout_timeout_ms`, then is refused `busy`; the slot serves the next once free', async () => {
    const { engine, logged } = await engineWith([probe()], { query: { maxConcurrent: 1, checkoutTimeoutMs: 0, fuel: 1e15, timeoutMs: 2_000 } });
    try {
      const spinning = engine.query('probe', '/loop');
      await logged((r) => r.msg === 'looping');
      expect(expectKind(await engine.query('probe', '/nothing'), 'busy').module).toBe('probe');
      expect(expectKind(await spinning, 'signal').signal).toBeInstanceOf(ExecutionTimeout);
      expect(expectKind(await engine.query('probe', '/nothing'), 'fault').fault.tag).toBe('not-found');
    } finally {
      await engine.stop();
    }
  });

  it('error: an answer longer than `max_result_bytes` is refused `too-large`', async () => {
    const { engine } = await engineWith([probe()], { query: { maxResultBytes: 1 } });
    try {
      await engine.publish('count', '42');
      await engine.settled('probe');
      expect(await engine.query('probe', '/get', [['key', 'count']])).toEqual({ kind: 'too-large', module: 'probe', bytes: 2, max: 1 });
    } finally {
      await engine.stop();
    }
  });

  it('error: a module without the `query` export answers `no-query`; an unknown module `unknown-module`', async () => {
    const { engine } = await engineWith([{ name: 'counter', component: fixture('counter'), grants: { store: true, logging: true }, topics: ['cmd'] }]);
    try {
      expect(await engine.query('counter', '/anything')).toEqual({ kind: 'no-query', module: 'counter' });
      expect(await engine.query('nobody', '/anything')).toEqual({ kind: 'unknown-module', module: 'nobody' });
    } finally {
      await engine.stop();
    }
  });

  it('args: `[engine.query]` fills its defaults and refuses what is out of range, naming the key; `[modules.query]` takes fuel, timeout_ms, memory_bytes only', () => {
    expect(EngineConfigSchema.parse({}).engine.query).toEqual(DEFAULT_QUERY);
    const bad = EngineConfigSchema.safeParse({ engine: { query: { maxConcurrent: 0, threads: 65 } } });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => i.path.join('.')).sort()).toEqual(['engine.query.maxConcurrent', 'engine.query.threads']);
    expect(parseManifest(probe({ query: { fuel: 10, timeoutMs: 5 } })).query).toEqual({ fuel: 10, timeoutMs: 5 });
    expect(() => parseManifest(probe({ query: { threads: 2 } as never }))).toThrow(expect.objectContaining({ code: 'invalid-manifest' }));
  });
});

describe('GET /v1/modules/<m>/query/<path> (the read API)', () => {
  it('behavior: the module\'s answer with its content type; its faults and signals as HTTP statuses; the API\'s access rules first', async () => {
    const { engine } = await engineWith([probe(), { name: 'plain', component: fixture('store-probe'), grants: { store: true } }], { query: { timeoutMs: 200 } });
    const token = 'query-route-token';
    const server = await serveMetrics(new EngineMetrics(engine), '127.0.0.1:0', readApiHandler(engine, { token, allowRemote: false, pageLimit: 10, maxPageLimit: 10, maxPageBytes: 1024, maxConcurrent: 2, retryAfterS: 1 }));
    const get = (path: string, headers: Record<string, string> = { authorization: `Bearer ${token}` }) => fetch(`${server.url}/v1/modules/${path}`, { headers });
    try {
      await engine.publish('count', '42');
      await engine.settled('probe');
      const answer = await get('probe/query/get?key=count');
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/); // "42" parses as JSON
      expect(await answer.text()).toBe('42');
      expect((await get('probe/query/get?key=name')).status).toBe(404); // the module's own not-found fault
      expect((await get('probe/query/get')).status).toBe(400); // invalid-input
      expect((await get('probe/query/set')).status).toBe(403); // denied: read-only
      const loop = await get('probe/query/loop');
      expect([503, 504]).toContain(loop.status); // OutOfFuel 503, ExecutionTimeout 504
      expect(await loop.json()).toMatchObject({ error: { code: 'query-signal', module: 'probe', signal: expect.objectContaining({ signal: expect.stringMatching(/^(OutOfFuel|ExecutionTimeout)$/) }) } });
      expect((await get('plain/query/anything')).status).toBe(404); // no query export
      expect((await get('nobody/query/get?key=count')).status).toBe(404);
      expect((await get('probe/query/get?key=count', {})).status).toBe(401); // no token: refused before the module runs
    } finally {
      await server.close();
      await engine.stop();
    }
  });
});
