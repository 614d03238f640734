import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanStatusCode } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModuleManifest } from '../../src/index.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { EngineMetrics } from '../../src/metrics/EngineMetrics.ts';
import { ATTR, SPAN } from '../../src/tracing/attributes.ts';
import { captureLogger, fixture, newRuntime } from '../helpers.ts';

const runtime = newRuntime({ threads: 1 });
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const probe: ModuleManifest = { name: 'probe', component: fixture('query-probe'), grants: { store: true, logging: true, chain: { chains: [1] } }, topics: ['count', 'name'], query: { fuel: 50_000 } };
let engine: Engine;
let metrics: EngineMetrics;

beforeAll(async () => {
  const query = process.env.CORRAL_TEST_CACHE_DIR ? { cacheDir: process.env.CORRAL_TEST_CACHE_DIR } : {};
  engine = await Engine.start({ runtime, stateDir: mkdtempSync(join(tmpdir(), 'corral-query-trace-')), logger: captureLogger().logger, modules: [probe], tracer: provider.getTracer('test'), query });
  metrics = new EngineMetrics(engine);
  await engine.publish('count', '42');
  await engine.settled('probe');
});
afterAll(async () => {
  metrics?.close();
  await engine?.stop();
  await runtime.close();
  await provider.shutdown();
});

describe('module queries, traced and counted', () => {
  it('behavior: each query is a corral.query root span with module, path, outcome and fuel, and counts in corral_query_total{module,outcome}', async () => {
    exporter.reset();
    expect((await engine.query('probe', '/get', [['key', 'count']])).kind).toBe('answer');
    expect((await engine.query('probe', '/get', [['key', 'nothing']])).kind).toBe('fault');
    expect((await engine.query('probe', '/loop')).kind).toBe('signal');
    const spans = exporter.getFinishedSpans().filter((s) => s.name === SPAN.query);
    expect(spans.map((s) => [s.attributes[ATTR.module], s.attributes[ATTR.queryPath], s.attributes[ATTR.outcome], s.parentSpanContext])).toEqual([
      ['probe', '/get', 'answer', undefined],
      ['probe', '/get', 'fault', undefined],
      ['probe', '/loop', 'signal', undefined],
    ]);
    expect(spans[0]!.attributes[ATTR.fuel]).toBeGreaterThan(0);
    expect(spans[1]!.attributes[ATTR.fuel]).toBeGreaterThan(0);
    // The loop ran out of its 50,000 units.
    expect(spans[2]!.attributes).toMatchObject({ [ATTR.signal]: 'OutOfFuel' });
    expect(spans[2]!.attributes[ATTR.fuel]).toBeGreaterThanOrEqual(50_000);
    expect(spans[2]!.status.code).toBe(SpanStatusCode.ERROR);
    // The parameters are anyone's input: not on the span.
    expect(JSON.stringify(spans[0]!.attributes)).not.toContain('count');

    const text = await metrics.text();
    const counted = text.split('\n').filter((l) => l.startsWith('corral_query_total{')).sort();
    expect(counted).toEqual(['corral_query_total{module="probe",outcome="answer"} 1', 'corral_query_total{module="probe",outcome="fault"} 1', 'corral_query_total{module="probe",outcome="signal"} 1']);
  });

  it('behavior: a query of a module that is not loaded is neither traced nor counted (a name anyone may ask for never becomes a label)', async () => {
    exporter.reset();
    expect((await engine.query('nobody', '/get')).kind).toBe('unknown-module');
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(await metrics.text()).not.toContain('module="nobody"');
  });
});
