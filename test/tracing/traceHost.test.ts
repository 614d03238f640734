import { SpanStatusCode } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { HostFault } from '../../src/errors/HostFault.ts';
import { HostLimitError } from '../../src/errors/HostLimitError.ts';
import { ATTR, SPAN } from '../../src/tracing/attributes.ts';
import { InvocationTrace, parseTraceparent, traceHost, valueBytes } from '../../src/tracing/Tracing.ts';

function invocation() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const trace = new InvocationTrace({ tracer: provider.getTracer('test'), hostCalls: true });
  trace.begin(SPAN.step, {});
  trace.invoking();
  return { trace, spans: () => exporter.getFinishedSpans() };
}

describe('traceHost', () => {
  it('default: a synchronous host function stays synchronous; its span has interface, function, bytes and outcome', () => {
    const { trace, spans } = invocation();
    const host = traceHost(trace, 'store', { get: (key: Uint8Array) => new Uint8Array(key.byteLength * 2) });
    const value = host.get(new Uint8Array(3));
    expect(value).toBeInstanceOf(Uint8Array);
    expect(spans().map((s) => s.attributes)).toEqual([{ [ATTR.hostInterface]: 'store', [ATTR.hostFunction]: 'get', [ATTR.hostBytesIn]: 3, [ATTR.hostBytesOut]: 6, [ATTR.hostOutcome]: 'ok' }]);
  });

  it('behavior: an async one ends its span when it settles; a fault is an answer (no error status), a tripped cap and a throw are errors', async () => {
    const { trace, spans } = invocation();
    const host = traceHost(trace, 'chain', {
      request: async (method: string) => `${method}-answer`,
      refused: async () => {
        throw new HostFault({ tag: 'denied', val: 'no' });
      },
      capped: () => {
        throw new HostLimitError('chainRequests', 1, 2);
      },
      broken: () => {
        throw new Error('boom');
      },
    });
    expect(await host.request('eth_call')).toBe('eth_call-answer');
    await expect(host.refused()).rejects.toBeInstanceOf(HostFault);
    expect(() => host.capped()).toThrow(HostLimitError);
    expect(() => host.broken()).toThrow('boom');
    expect(spans().map((s) => [s.attributes[ATTR.hostFunction], s.attributes[ATTR.hostOutcome], s.status.code])).toEqual([
      ['request', 'ok', SpanStatusCode.UNSET],
      ['refused', 'fault', SpanStatusCode.UNSET],
      ['capped', 'limit', SpanStatusCode.ERROR],
      ['broken', 'error', SpanStatusCode.ERROR],
    ]);
    expect(spans()[0]!.attributes[ATTR.hostBytesOut]).toBe('eth_call-answer'.length);
  });

  it('behavior: outside the guest call (no running corral.invoke) a host call makes no span', () => {
    const { trace, spans } = invocation();
    trace.invoked('ok', 1);
    const host = traceHost(trace, 'store', { get: () => undefined });
    host.get();
    expect(spans().map((s) => s.name)).toEqual([SPAN.invoke]);
  });
});

describe('parseTraceparent', () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const spanId = '00f067aa0ba902b7';
  it('default: a W3C traceparent becomes a remote span context with its sampled flag', () => {
    expect(parseTraceparent(`00-${traceId}-${spanId}-01`)).toEqual({ traceId, spanId, traceFlags: 1, isRemote: true });
    expect(parseTraceparent(`00-${traceId}-${spanId}-00`)).toMatchObject({ traceFlags: 0 });
    // A later version may add fields (forward compatibility).
    expect(parseTraceparent(`01-${traceId}-${spanId}-01-extra`)).toMatchObject({ traceId, spanId });
  });

  it('error: malformed ones say what is wrong', () => {
    for (const bad of ['', 'garbage', `00-${traceId}-${spanId}`, `00-${traceId}-${spanId}-01-extra`, `ff-${traceId}-${spanId}-01`, `00-${'0'.repeat(32)}-${spanId}-01`, `00-${traceId}-${'0'.repeat(16)}-01`, `00-${traceId.toUpperCase()}-${spanId}-01`]) {
      expect(typeof parseTraceparent(bad)).toBe('string');
    }
  });
});

describe('valueBytes', () => {
  it('default: UTF-8 strings, byte arrays, 8 per number, summed through lists and records', () => {
    expect(valueBytes(['é', new Uint8Array(4), 1n, 2, true, { a: 'xy', b: [undefined, null] }])).toBe(2 + 4 + 8 + 8 + 1 + 2);
  });
});
