import { ROOT_CONTEXT, SpanStatusCode, trace, type Attributes, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import { ATTR, SPAN, type HostOutcome, type Outcome, type QueryOutcome } from './attributes.ts';

/**
 * Where an engine's spans go: a Tracer (the OTLP exporter's from engine.toml, or an embedder's own)
 * and whether host calls get spans of their own (a TWAP step makes ~1,000 `eth_call`s). An engine
 * without one holds `undefined`: every traced site is one `undefined` check, and no OpenTelemetry
 * call (not even the no-op API) is made.
 */
export interface Tracing {
  readonly tracer: Tracer;
  readonly hostCalls: boolean;
}

/**
 * Parents are passed explicitly, never through a global context manager: cheaper (no async hooks),
 * and a test sees exactly the parent it set.
 */
function start(tracing: Tracing, name: string, attributes: Attributes, parent: Span | SpanContext | undefined): Span {
  if (parent === undefined) return tracing.tracer.startSpan(name, { attributes, root: true }, ROOT_CONTEXT);
  const context = 'spanContext' in parent ? trace.setSpan(ROOT_CONTEXT, parent) : trace.setSpanContext(ROOT_CONTEXT, parent);
  return tracing.tracer.startSpan(name, { attributes }, context);
}

/**
 * The spans of one invocation: its root (`corral.step`, `corral.job`, `corral.timer`,
 * `corral.schedule`), the `corral.invoke` under it while the guest runs, and the host calls under
 * that (see `traceHost`). It is what `InvocationScope.trace` holds.
 */
export class InvocationTrace {
  private root: Span | undefined;
  /** The running `corral.invoke`: the parent of host calls (none outside the call). */
  invoke: Span | undefined;

  constructor(readonly tracing: Tracing) {}

  /** Starts the root; `parent` is a publisher's span context (a custom event's `traceparent`). */
  begin(name: string, attributes: Attributes, parent?: SpanContext): void {
    this.root = start(this.tracing, name, attributes, parent);
  }

  /** The guest is about to run. */
  invoking(attributes: Attributes = {}): void {
    if (this.root) this.invoke = start(this.tracing, SPAN.invoke, attributes, this.root);
  }

  /** The guest ran: its fuel and how it ended; a signal marks the span as an error. */
  invoked(outcome: Outcome, fuel: number, signal?: { name: string; message: string }): void {
    const span = this.invoke;
    if (!span) return;
    this.invoke = undefined;
    span.setAttribute(ATTR.fuel, fuel);
    span.setAttribute(ATTR.outcome, outcome);
    if (signal) {
      span.setAttribute(ATTR.signal, signal.name);
      span.setStatus({ code: SpanStatusCode.ERROR, message: `${signal.name}: ${signal.message}` });
    }
    span.end();
  }

  /** Ends the root (and an invoke still open: the call never reported) with the step's outcome. */
  end(outcome: Outcome): void {
    if (this.invoke) this.invoked('error', 0);
    const span = this.root;
    if (!span) return;
    this.root = undefined;
    span.setAttribute(ATTR.outcome, outcome);
    if (outcome === 'signal' || outcome === 'error') span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  }
}

/**
 * A `corral.query` span (a root: a query answers whoever asked, and belongs to no step), ended by the
 * function it returns with the query's outcome, its fuel when the guest ran, and its signal's name.
 */
export function traceQuery(tracing: Tracing, module: string, path: string): (outcome: QueryOutcome, fuel: number | undefined, signal?: string) => void {
  const span = start(tracing, SPAN.query, { [ATTR.module]: module, [ATTR.queryPath]: path }, undefined);
  return (outcome, fuel, signal) => {
    span.setAttribute(ATTR.outcome, outcome);
    if (fuel !== undefined) span.setAttribute(ATTR.fuel, fuel);
    if (signal !== undefined) span.setAttribute(ATTR.signal, signal);
    if (outcome === 'signal' || outcome === 'error') span.setStatus({ code: SpanStatusCode.ERROR, ...(signal === undefined ? {} : { message: signal }) });
    span.end();
  };
}

type HostFunctions = Record<string, (...args: any[]) => unknown>;

/**
 * Host functions of one interface with a `corral.host` span per call, under the invocation's running
 * `corral.invoke`: interface, function, bytes of the arguments and of the answer, and how it ended.
 * A synchronous function stays synchronous (the guest's call does not become a promise).
 */
export function traceHost<T extends object>(invocation: InvocationTrace, iface: string, host: T): T {
  const traced: HostFunctions = {};
  for (const [name, fn] of Object.entries(host as HostFunctions)) {
    traced[name] = (...args: unknown[]) => {
      const parent = invocation.invoke;
      if (!parent) return fn(...args);
      const span = start(invocation.tracing, SPAN.host, { [ATTR.hostInterface]: iface, [ATTR.hostFunction]: name, [ATTR.hostBytesIn]: valueBytes(args) }, parent);
      let result: unknown;
      try {
        result = fn(...args);
      } catch (error) {
        endHost(span, undefined, error);
        throw error;
      }
      if (result instanceof Promise) {
        return result.then(
          (value) => (endHost(span, value), value),
          (error: unknown) => {
            endHost(span, undefined, error);
            throw error;
          },
        );
      }
      endHost(span, result);
      return result;
    };
  }
  return traced as T;
}

function endHost(span: Span, value: unknown, error?: unknown): void {
  if (error === undefined) {
    span.setAttribute(ATTR.hostBytesOut, valueBytes(value));
    span.setAttribute(ATTR.hostOutcome, 'ok' satisfies HostOutcome);
  } else {
    // By name: the error classes live above this layer (src/errors).
    const name = (error as { name?: unknown } | null)?.name;
    const outcome: HostOutcome = name === 'HostFault' ? 'fault' : name === 'HostLimitExceeded' ? 'limit' : 'error';
    span.setAttribute(ATTR.hostOutcome, outcome);
    // A fault is the import's `err`: an answer the guest handles, not a failure of the host.
    if (outcome !== 'fault') span.setStatus({ code: SpanStatusCode.ERROR, message: String((error as { message?: unknown } | null)?.message ?? error) });
  }
  span.end();
}

/** Bytes of a guest value as it crosses the boundary, near enough: UTF-8 strings, byte arrays, 8 per number. */
export function valueBytes(value: unknown): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (value instanceof Uint8Array) return value.byteLength;
  if (typeof value === 'number' || typeof value === 'bigint') return 8;
  if (typeof value === 'boolean') return 1;
  if (Array.isArray(value)) return value.reduce((sum: number, v) => sum + valueBytes(v), 0);
  if (typeof value === 'object') return Object.values(value).reduce((sum: number, v) => sum + valueBytes(v), 0);
  return 0;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * A W3C `traceparent` (https://www.w3.org/TR/trace-context/#traceparent-header) as a remote span
 * context, or what is wrong with it. Version 00 must have exactly four fields; a later version may
 * add fields after them (the spec's forward compatibility); `ff`, all-zero ids and upper case are invalid.
 */
export function parseTraceparent(value: string): SpanContext | string {
  const match = TRACEPARENT.exec(value);
  if (!match) return 'not `version-traceid-spanid-flags` in lower-case hex (2-32-16-2 digits)';
  const [, version, traceId, spanId, flags, rest] = match as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff') return 'version ff is invalid';
  if (version === '00' && rest !== undefined) return 'version 00 has exactly four fields';
  if (/^0+$/.test(traceId)) return 'the trace id is all zeros';
  if (/^0+$/.test(spanId)) return 'the span id is all zeros';
  return { traceId, spanId, traceFlags: parseInt(flags, 16) & 1, isRemote: true };
}
