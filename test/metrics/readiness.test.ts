import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActorInfo } from '../../src/actor/Actor.ts';
import { EngineMetrics, serveMetrics, type MetricsServer } from '../../src/metrics/EngineMetrics.ts';
import { readinessOf, type Readiness } from '../../src/metrics/readiness.ts';
import type { Supervisor } from '../../src/supervisor/Supervisor.ts';
import { newRuntime } from '../helpers.ts';
import { jobEngine, jobProbe } from '../jobs/jobHarness.ts';

const runtime = newRuntime();
afterAll(() => runtime.close());

const readyz = async (url: string): Promise<{ status: number; body: Readiness }> => {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: (await response.json()) as Readiness };
};

/** One series of the Prometheus text, or undefined. */
const series = async (url: string, name: string): Promise<number | undefined> => {
  const line = (await (await fetch(`${url}/metrics`)).text()).split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
};

describe('an engine without chain, served', () => {
  let harness: Awaited<ReturnType<typeof jobEngine>>;
  let metrics: EngineMetrics;
  let server: MetricsServer;
  beforeAll(async () => {
    // b's deadline is generous: on a loaded machine its commands must not fail.
    harness = await jobEngine(runtime, [jobProbe('a', { limits: { fuel: 20_000_000 }, supervision: { intensity: 1, backoffJitter: 0 } }), jobProbe('b', { limits: { timeoutMs: 10_000 } })]);
    metrics = new EngineMetrics(harness.engine);
    server = await serveMetrics(metrics, '127.0.0.1:0');
  });
  afterAll(async () => {
    await server.close();
    metrics.close();
    await harness.engine.stop();
  });

  it('behavior: /readyz is ready while every module serves; not ready while one is quarantined or halted, and ready again once it serves', async () => {
    const { engine, clock, run } = harness;
    expect(await readyz(server.url)).toEqual({ status: 200, body: { ready: true, notReady: [] } });

    // Two failures within the period, intensity 1: the circuit opens.
    expect(await run({ op: 'spin' }, 'a')).toMatchObject({ ok: false });
    clock.advance(100); // the backoff
    expect(await run({ op: 'spin' }, 'a')).toMatchObject({ ok: false });
    expect(engine.actors().find((x) => x.name === 'a')!.breaker).toBe('open');
    expect(await readyz(server.url)).toEqual({ status: 503, body: { ready: false, notReady: [{ module: 'a', reason: 'breaker-open' }] } });
    expect(await series(server.url, 'corral_ready')).toBe(0);
    expect(await series(server.url, 'corral_module_not_ready{module="a",reason="breaker-open"}')).toBe(1);

    engine.reset('a');
    expect(await readyz(server.url)).toEqual({ status: 200, body: { ready: true, notReady: [] } });

    // Halting is the engine's own answer to a reorg deeper than a module's window (driven on a real chain
    // in test/integration/chainReorg.test.ts); here b is halted on the supervisor the engine keeps private.
    (engine as unknown as { parts: { supervisor: Pick<Supervisor, 'halt'> } }).parts.supervisor.halt('b', { type: 'ReorgBeyondWindow', actor: 'b', at: clock.now(), chainId: '1', cursor: { number: '5', hash: '0x05' }, windowBlocks: 64 });
    expect(await readyz(server.url)).toEqual({ status: 503, body: { ready: false, notReady: [{ module: 'b', reason: 'halted' }] } });
    expect(await series(server.url, 'corral_module_not_ready{module="b",reason="halted"}')).toBe(1);

    engine.restart('b');
    expect(await readyz(server.url)).toEqual({ status: 200, body: { ready: true, notReady: [] } });
    expect(await series(server.url, 'corral_ready')).toBe(1);
  });

  it('behavior: /metrics has the jobs pool of each module with run-job beside its events pool, with checkout errors by reason and the wait histogram', async () => {
    const { engine, run } = harness;
    const enqueued = await run({ op: 'enqueue', type: 'work', payload: { op: 'count' }, n: 1, opts: { maxRetry: 0 } }, 'b');
    expect(enqueued).toMatchObject({ ok: true });
    await engine.jobsSettled();
    const stats = engine.poolStats();
    expect(Object.keys(stats).sort()).toEqual(['a', 'a/jobs', 'b', 'b/jobs']);
    const jobs = stats['b/jobs']!;
    expect(jobs.checkouts).toBeGreaterThan(0);
    for (const [pool, p] of [['events', stats.b!], ['jobs', jobs]] as const) {
      const labels = `module="b",pool="${pool}"`;
      expect(await series(server.url, `corral_pool_checkouts_total{${labels}}`)).toBe(p.checkouts);
      expect(await series(server.url, `corral_pool_checkout_wait_seconds_count{${labels}}`)).toBe(p.checkouts);
      expect(await series(server.url, `corral_pool_checkout_wait_seconds_bucket{${labels},le="+Inf"}`)).toBe(p.checkouts);
      expect(await series(server.url, `corral_pool_checkout_wait_seconds_bucket{${labels},le="0"}`)).toBe(p.checkoutWaitBuckets[0]);
      for (const reason of ['timeout', 'deadline', 'aborted', 'closed'] as const) {
        expect(await series(server.url, `corral_pool_checkout_errors_total{${labels},reason="${reason}"}`)).toBe(p.checkoutErrors[reason]);
      }
    }
  });
});

describe('readinessOf', () => {
  type ActorState = Parameters<typeof readinessOf>[0][number];
  const actor = (name: string, state: ActorInfo['state'], stopReason: ActorState['stopReason'] = state === 'stopped' ? 'temporary' : null): ActorState => ({
    name,
    state,
    breaker: state === 'quarantined' ? 'open' : state === 'halfOpen' || state === 'probing' ? 'half-open' : 'closed',
    stopReason,
  });
  const position = (module: string, chainId: string, caughtUp: boolean, block = 100n, head = 100n, confirmations = 0) => ({ module, chainId, caughtUp, block, head, confirmations });
  const bounds = { maxLagBlocks: 16, maxHeadAgeMs: 120_000 };

  it('behavior: a module behind on a chain whose circuit is open reads as breaker-open, not catching-up; a caught-up module that stops is not ready', () => {
    const readiness = readinessOf(
      [actor('open', 'quarantined'), actor('probing', 'halfOpen'), actor('behind', 'loaded'), actor('done', 'stopped', 'normal'), actor('fine', 'backoff')],
      [position('open', '1', false), position('behind', '1', true), position('behind', '5', false, 10n, 40n), position('done', '1', true), position('fine', '1', true)],
    );
    expect(readiness).toEqual({
      ready: false,
      notReady: [
        { module: 'open', reason: 'breaker-open' },
        { module: 'probing', reason: 'breaker-open' },
        { module: 'behind', chain: '5', reason: 'catching-up', lagBlocks: 30 },
        { module: 'done', reason: 'stopped' },
      ],
    });
  });

  it('behavior: a module that caught up is lagging once it is more than max_lag_blocks behind the head less its confirmations, and ready within the bound', () => {
    const chains = [{ chainId: '1', head: 200n, headAgeMs: 0 }];
    const at = (block: bigint, confirmations = 0) => readinessOf([actor('a', 'running')], [position('a', '1', true, block, 200n, confirmations)], chains, bounds);
    expect(at(184n)).toEqual({ ready: true, notReady: [] }); // 16 behind: the bound itself
    expect(at(183n)).toEqual({ ready: false, notReady: [{ module: 'a', chain: '1', reason: 'lagging', lagBlocks: 17, maxLagBlocks: 16 }] });
    expect(at(174n, 10)).toEqual({ ready: true, notReady: [] }); // 26 behind, 10 of them its confirmations
  });

  it('behavior: a configured chain with no head is no-head and one whose heads stopped is chain-stalled, followed by a module or not; its modules are not named for it', () => {
    const chains = [
      { chainId: '1', head: undefined, headAgeMs: undefined },
      { chainId: '5', head: 40n, headAgeMs: 120_001 },
      { chainId: '10', head: 7n, headAgeMs: 120_000 },
    ];
    expect(readinessOf([actor('a', 'running')], [{ ...position('a', '1', false), head: undefined, block: undefined }], chains, bounds)).toEqual({
      ready: false,
      notReady: [
        { chain: '1', reason: 'no-head' },
        { chain: '5', reason: 'chain-stalled', headAgeMs: 120_001 },
      ],
    });
  });

  it('behavior: a pool with no healthy endpoint is chain-stalled at once, with a fresh head; one healthy endpoint is enough', () => {
    const chain = (healthy: number) => [{ chainId: '1', head: 100n, headAgeMs: 5, endpoints: { healthy, total: 2 } }];
    expect(readinessOf([actor('a', 'running')], [position('a', '1', true)], chain(0), bounds)).toEqual({
      ready: false,
      notReady: [{ chain: '1', reason: 'chain-stalled', headAgeMs: 5, endpointsHealthy: 0, endpoints: 2 }],
    });
    expect(readinessOf([actor('a', 'running')], [position('a', '1', true)], chain(1), bounds)).toEqual({ ready: true, notReady: [] });
  });

  it('behavior: with no modules and no chains, or every module serving and caught up on chains with fresh heads, it is ready', () => {
    expect(readinessOf([], [], [], bounds)).toEqual({ ready: true, notReady: [] });
    expect(readinessOf([actor('a', 'running')], [position('a', '1', true)], [{ chainId: '1', head: 100n, headAgeMs: 5 }], bounds)).toEqual({ ready: true, notReady: [] });
  });
});
