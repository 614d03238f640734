import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ModuleManifest } from '../../src/index.ts';
import { ManualClock } from '../../src/clock/Clock.ts';
import { EngineConfigSchema } from '../../src/config/EngineConfig.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { startConfigured } from '../../src/app/startConfigured.ts';
import { ATTR, SPAN } from '../../src/tracing/attributes.ts';
import { startAnvil, type Anvil } from '../anvil.ts';
import { captureLogger, fixture, newRuntime } from '../helpers.ts';
import { jobProbe } from '../jobs/jobHarness.ts';

const runtime = newRuntime();
let anvil: Anvil;
beforeAll(async () => {
  anvil = await startAnvil();
});
afterAll(async () => {
  await runtime.close();
  await anvil?.stop();
});

/** A tracer whose spans land in memory as each ends. */
function memoryTracer() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { tracer: provider.getTracer('test'), spans: () => exporter.getFinishedSpans(), shutdown: () => provider.shutdown() };
}

const stateDir = () => mkdtempSync(join(tmpdir(), 'corral-tracing-'));
const watcher = (extra: Partial<ModuleManifest> = {}): ModuleManifest => ({ name: 'watcher', component: fixture('watcher'), grants: { store: true, logging: true }, limits: { fuel: 1e10, timeoutMs: 5_000 }, topics: ['cmd'], ...extra });
const named = (spans: readonly ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const childrenOf = (spans: readonly ReadableSpan[], parent: ReadableSpan) => spans.filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);
const one = <T>(items: readonly T[]): T => {
  expect(items).toHaveLength(1);
  return items[0]!;
};

describe('spans', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it('default: a chain step: corral.step (module, chain, block, events) → corral.invoke (fuel, outcome) → corral.host per host call', async () => {
    const memory = memoryTracer();
    const start = Number(await anvil.rpc<string>('eth_blockNumber')) + 1;
    const engine = await Engine.start({ runtime, stateDir: stateDir(), logger: captureLogger().logger, chains: { 31337: { rpcUrl: anvil.url, pollIntervalMs: 20 } }, modules: [watcher({ startBlock: start, triggers: [{ kind: 'block', chain: 31337 }] })], tracer: memory.tracer });
    cleanups.push(() => engine.stop());
    await anvil.rpc('anvil_mine', ['0x2']);
    await engine.reached('watcher', 31337, start + 1);
    await engine.settled('watcher');
    const spans = memory.spans();
    const block = await anvil.rpc<{ hash: string }>('eth_getBlockByNumber', [`0x${(start + 1).toString(16)}`, false]);
    const step = one(named(spans, SPAN.step).filter((s) => s.attributes[ATTR.blockNumber] === start + 1));
    expect(step.parentSpanContext).toBeUndefined();
    expect(step.attributes).toMatchObject({ [ATTR.module]: 'watcher', [ATTR.event]: 'chain', [ATTR.chainId]: 31337, [ATTR.blockHash]: block.hash, [ATTR.events]: 1, [ATTR.outcome]: 'ok' });
    const invoke = one(childrenOf(spans, step));
    expect(invoke.name).toBe(SPAN.invoke);
    expect(invoke.attributes[ATTR.outcome]).toBe('ok');
    expect(invoke.attributes[ATTR.fuel]).toBeGreaterThan(0);
    expect(invoke.spanContext().traceId).toBe(step.spanContext().traceId);
    // The watcher reads `n`, then writes `n` and `ev/<n>`: three store calls, in that order.
    const host = childrenOf(spans, invoke);
    expect(host.map((s) => [s.name, s.attributes[ATTR.hostInterface], s.attributes[ATTR.hostFunction], s.attributes[ATTR.hostOutcome]])).toEqual([
      [SPAN.host, 'store', 'get', 'ok'],
      [SPAN.host, 'store', 'set', 'ok'],
      [SPAN.host, 'store', 'set', 'ok'],
    ]);
    expect(host[0]!.attributes[ATTR.hostBytesIn]).toBe(1); // the key `n`
    expect(host[0]!.attributes[ATTR.hostBytesOut]).toBeGreaterThan(0); // `n` was written by the block before
    const record = `block:${start + 1}:-:${block.hash.slice(2, 10)}`;
    expect(host[2]!.attributes[ATTR.hostBytesIn]).toBe('ev/000002'.length + record.length);
    // Each span ends within its parent.
    for (const [child, parent] of [[invoke, step], [host[2]!, invoke]] as const) {
      expect(hr(child.startTime)).toBeGreaterThanOrEqual(hr(parent.startTime));
      expect(hr(child.endTime)).toBeLessThanOrEqual(hr(parent.endTime));
    }
  });

  it('args: host_calls off: steps and invocations, no corral.host', async () => {
    const memory = memoryTracer();
    const engine = await Engine.start({ runtime, stateDir: stateDir(), logger: captureLogger().logger, modules: [watcher()], tracer: memory.tracer, traceHostCalls: false });
    cleanups.push(() => engine.stop());
    await engine.publish('cmd', '{}');
    await engine.settled('watcher');
    const step = one(named(memory.spans(), SPAN.step));
    expect(step.attributes).toMatchObject({ [ATTR.event]: 'custom', [ATTR.topic]: 'cmd', [ATTR.outcome]: 'ok' });
    expect(one(childrenOf(memory.spans(), step)).name).toBe(SPAN.invoke);
    expect(named(memory.spans(), SPAN.host)).toEqual([]);
  });

  it("behavior: a publisher's traceparent becomes the parent of the step; a malformed one is refused naming it, and nothing is published", async () => {
    const memory = memoryTracer();
    const engine = await Engine.start({ runtime, stateDir: stateDir(), logger: captureLogger().logger, modules: [watcher()], tracer: memory.tracer });
    cleanups.push(() => engine.stop());
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const spanId = '00f067aa0ba902b7';
    await engine.publish('cmd', '{}', { traceparent: `00-${traceId}-${spanId}-01` });
    await engine.settled('watcher');
    const step = one(named(memory.spans(), SPAN.step));
    expect(step.spanContext().traceId).toBe(traceId);
    expect(step.parentSpanContext).toMatchObject({ traceId, spanId, isRemote: true });
    expect(childrenOf(memory.spans(), step).map((s) => s.spanContext().traceId)).toEqual([traceId]);

    for (const bad of ['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7', `00-${'0'.repeat(32)}-${spanId}-01`, `00-${traceId.toUpperCase()}-${spanId}-01`, `ff-${traceId}-${spanId}-01`]) {
      await expect(engine.publish('cmd', '{}', { traceparent: bad })).rejects.toMatchObject({ name: 'EngineError', code: 'invalid-option', details: { option: 'traceparent', traceparent: bad } });
    }
    await engine.settled('watcher');
    expect(named(memory.spans(), SPAN.step)).toHaveLength(1);
    expect(await engine.read('watcher', new TextEncoder().encode('n'))).toEqual(new TextEncoder().encode('1'));
  });

  it('behavior: a signal shows on the invoke span (OutOfFuel), and the step ends as a signal', async () => {
    const memory = memoryTracer();
    // One unit of fuel: the event runs out at once.
    const engine = await Engine.start({ runtime, stateDir: stateDir(), logger: captureLogger().logger, modules: [watcher({ limits: { fuel: 1, timeoutMs: 5_000 } })], tracer: memory.tracer });
    cleanups.push(() => engine.stop());
    const outcome = await engine.deliver('watcher', { tag: 'custom', val: { topic: 'cmd', payload: '{}' } }, { seq: 1 });
    expect(outcome).toMatchObject({ ok: false, signal: { name: 'OutOfFuel' } });
    await engine.settled('watcher');
    const step = one(named(memory.spans(), SPAN.step));
    expect(step.attributes[ATTR.outcome]).toBe('signal');
    const invoke = one(childrenOf(memory.spans(), step));
    expect(invoke.attributes).toMatchObject({ [ATTR.outcome]: 'signal', [ATTR.signal]: 'OutOfFuel' });
    expect(invoke.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('behavior: timers, cron ticks and jobs are roots: corral.timer, corral.schedule, corral.job, each with its invocation', async () => {
    const memory = memoryTracer();
    const clock = new ManualClock(1_000_000);
    const engine = await Engine.start({
      runtime,
      stateDir: stateDir(),
      logger: captureLogger().logger,
      clock,
      tracer: memory.tracer,
      modules: [
        { name: 't', component: fixture('timer-probe'), grants: { store: true, timers: true }, topics: ['cmd'], triggers: [{ kind: 'cron', schedule: '* * * * *', name: 'minutely' }] },
        jobProbe('j'),
      ],
    });
    cleanups.push(() => engine.stop());
    await engine.jobsSettled();
    expect(await engine.deliver('t', { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify({ op: 'at', at: 1_000_500, tag: 'a' }) } }, { seq: 1 })).toMatchObject({ ok: true });
    expect(await engine.deliver('j', { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify({ op: 'enqueue', type: 'work', payload: { op: 'count' }, n: 1 }) } }, { seq: 1 })).toMatchObject({ ok: true });
    clock.advance(60_000);
    await engine.settled('t');
    await engine.jobsSettled();
    const spans = memory.spans();

    const timer = one(named(spans, SPAN.timer));
    expect(timer.parentSpanContext).toBeUndefined();
    expect(timer.attributes).toMatchObject({ [ATTR.module]: 't', [ATTR.timerTag]: 'a', [ATTR.outcome]: 'ok' });
    expect(one(childrenOf(spans, timer)).name).toBe(SPAN.invoke);

    const tick = one(named(spans, SPAN.schedule));
    expect(tick.parentSpanContext).toBeUndefined();
    expect(tick.attributes).toMatchObject({ [ATTR.module]: 't', [ATTR.cronName]: 'minutely', [ATTR.outcome]: 'ok' });
    expect(one(childrenOf(spans, tick)).name).toBe(SPAN.invoke);

    const job = one(named(spans, SPAN.job).filter((s) => s.attributes[ATTR.jobType] === 'work'));
    expect(job.parentSpanContext).toBeUndefined();
    expect(job.attributes).toMatchObject({ [ATTR.module]: 'j', [ATTR.jobAttempt]: 1, [ATTR.outcome]: 'ok' });
    expect(job.attributes[ATTR.jobId]).toEqual(expect.any(String));
    const invoke = one(childrenOf(spans, job));
    expect(invoke.attributes[ATTR.fuel]).toBeGreaterThan(0);
    // count: reads and writes `count`, `done/0`, `last`.
    expect(childrenOf(spans, invoke).map((s) => `${s.attributes[ATTR.hostInterface]}.${s.attributes[ATTR.hostFunction]}`)).toEqual(['store.get', 'store.set', 'store.get', 'store.set', 'store.set']);
  });

  it('default: off, no OpenTelemetry API is called at all (and the same run traced does call it)', async () => {
    const calls = [vi.spyOn(trace, 'getTracer'), vi.spyOn(trace, 'setSpan'), vi.spyOn(trace, 'setSpanContext'), vi.spyOn(trace, 'getSpan'), vi.spyOn(context, 'active')];
    const counted = () => calls.reduce((sum, spy) => sum + spy.mock.calls.length, 0);
    // A global provider that counts: a site falling back on the global API would reach it.
    const global = memoryTracer();
    trace.setGlobalTracerProvider({ getTracer: () => global.tracer });
    cleanups.push(async () => {
      for (const spy of calls) spy.mockRestore();
      trace.disable();
    });
    const run = async (tracer?: ReturnType<typeof memoryTracer>['tracer']) => {
      const engine = await Engine.start({ runtime, stateDir: stateDir(), logger: captureLogger().logger, modules: [watcher()], ...(tracer ? { tracer } : {}) });
      for (let i = 0; i < 5; i++) await engine.publish('cmd', '{}');
      await engine.settled('watcher');
      await engine.stop();
    };
    const before = counted();
    await run();
    expect(counted() - before).toBe(0);
    expect(global.spans()).toEqual([]);
    await run(memoryTracer().tracer);
    expect(counted() - before).toBeGreaterThan(0);
    expect(global.spans()).toEqual([]);
  });
});

describe('[engine.tracing]: the OTLP/HTTP exporter', () => {
  it('behavior: enabled, spans are posted as OTLP JSON to the endpoint, with the headers from headers_env, flushed when the engine stops', async () => {
    const posts: { url: string | undefined; headers: Record<string, unknown>; body: string }[] = [];
    const server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        posts.push({ url: request.url, headers: request.headers, body });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    process.env.CORRAL_TEST_OTLP_HEADERS = 'x-api-key=s3cret=, x-tenant = corral';
    try {
      const config = EngineConfigSchema.parse({
        engine: { stateDir: stateDir(), logLevel: 'silent', tracing: { enabled: true, endpoint: `http://127.0.0.1:${port}/v1/traces`, serviceName: 'tracing-test', headersEnv: 'CORRAL_TEST_OTLP_HEADERS' } },
        modules: [watcher()],
      });
      const configured = await startConfigured(config, { logger: captureLogger().logger });
      await configured.engine.publish('cmd', '{}');
      await configured.engine.settled('watcher');
      expect(posts).toEqual([]); // batched: nothing is sent before the flush at stop
      await configured.stop();
      expect(posts.length).toBeGreaterThan(0);
      expect(posts[0]!.url).toBe('/v1/traces');
      expect(posts[0]!.headers).toMatchObject({ 'content-type': 'application/json', 'x-api-key': 's3cret=', 'x-tenant': 'corral' });
      const sent = posts.flatMap((p) => JSON.parse(p.body).resourceSpans as { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: { name: string }[] }[] }[]);
      expect(sent.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((span) => span.name))).sort()).toEqual([SPAN.host, SPAN.host, SPAN.host, SPAN.invoke, SPAN.step]);
      expect(sent[0]!.resource.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'tracing-test' } });
    } finally {
      delete process.env.CORRAL_TEST_OTLP_HEADERS;
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('behavior: a collector that accepts and never answers holds the flush at stop (and so `corral run`\'s stop) no longer than export_timeout_ms', async () => {
    let received!: () => void;
    const posted = new Promise<void>((resolve) => (received = resolve));
    // Reads the export, then never answers: a hung collector.
    const server = createServer((request) => {
      request.resume();
      request.on('end', () => received());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const { startTracing } = await import('../../src/app/tracing.ts');
      const config = EngineConfigSchema.parse({ engine: { tracing: { enabled: true, endpoint: `http://127.0.0.1:${port}/v1/traces`, exportTimeoutMs: 300 } } }).engine.tracing;
      const tracing = (await startTracing(config))!;
      tracing.tracer.startSpan('corral.step').end();
      const started = performance.now();
      const shutdown = tracing.shutdown();
      await posted; // the flush reached the collector, which now holds it
      // startConfigured's stop logs this rejection (the spans were dropped) and goes on.
      await expect(shutdown).rejects.toBeInstanceOf(Error);
      // The SDK's own bounds are 10 s per export and 30 s per flush: far beyond this one.
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('error: headers_env naming an unset variable is a ConfigError naming it; off, nothing is loaded or sent', async () => {
    const { startTracing } = await import('../../src/app/tracing.ts');
    const config = EngineConfigSchema.parse({ engine: { tracing: { enabled: true, headersEnv: 'CORRAL_TEST_NO_SUCH_VARIABLE' } } }).engine.tracing;
    await expect(startTracing(config, {})).rejects.toMatchObject({ name: 'ConfigError', code: 'unset-env', details: { path: 'engine.tracing.headers_env' } });
    await expect(startTracing(config, { CORRAL_TEST_NO_SUCH_VARIABLE: 'novalue' })).rejects.toMatchObject({ code: 'invalid-value' });
    expect(await startTracing(EngineConfigSchema.parse({}).engine.tracing)).toBeUndefined();
    expect(() => EngineConfigSchema.parse({ engine: { tracing: { sampleRatio: 1.5 } } })).toThrow();
  });
});

const hr = ([s, ns]: readonly [number, number]) => s * 1e9 + ns;
