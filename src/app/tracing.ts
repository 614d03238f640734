import type { Tracer } from '@opentelemetry/api';
import { ConfigError } from '../errors/ConfigError.ts';
import type { ResolvedEngineConfig } from '../config/EngineConfig.ts';

/** The engine's tracer from `[engine.tracing]`, and how to flush and stop its exporter. */
export interface ConfiguredTracing {
  tracer: Tracer;
  hostCalls: boolean;
  /** Exports what is still buffered, then stops the exporter (after the engine stopped: its last spans go too). */
  shutdown(): Promise<void>;
}

/**
 * `[engine.tracing]` as an OTLP/HTTP (JSON) exporter behind a batch processor, sampling by trace id
 * (parent-based: a step whose publisher sent a sampled `traceparent` is kept). Undefined when tracing
 * is off: the SDK and exporter are then not even imported (they are loaded here, on demand).
 * `env` is where `headers_env` is looked up.
 */
export async function startTracing(config: ResolvedEngineConfig['engine']['tracing'], env: NodeJS.ProcessEnv = process.env): Promise<ConfiguredTracing | undefined> {
  if (!config.enabled) return undefined;
  const headers = config.headersEnv === undefined ? {} : parseHeaders(config.headersEnv, env[config.headersEnv]);
  const [{ BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler }, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  const timeout = config.exportTimeoutMs;
  const exporter = new OTLPTraceExporter({ url: config.endpoint, headers, timeoutMillis: timeout });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor(exporter, { exportTimeoutMillis: timeout })],
  });
  return { tracer: provider.getTracer('corral'), hostCalls: config.hostCalls, shutdown: () => bounded(provider.shutdown(), timeout) };
}

/**
 * `shutdown` within `ms`: the SDK's own timeouts bound each export, yet its shutdown also waits for the
 * exporter's sends in flight, so the stop does not lean on every one of them. Past `ms` it rejects
 * (the caller logs that spans were dropped); the provider finishes, or not, on its own.
 */
function bounded(shutdown: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the trace exporter did not flush within ${ms} ms (export_timeout_ms): its unsent spans are dropped`)), ms);
    timer.unref();
  });
  shutdown.catch(() => {});
  return Promise.race([shutdown, late]).finally(() => clearTimeout(timer));
}

/** `key=value,…` from the variable `name` (values may contain `=`); a missing variable or a malformed pair is a ConfigError naming it. */
export function parseHeaders(name: string, raw: string | undefined): Record<string, string> {
  const problem = (expected: string, got?: string) => new ConfigError([{ code: raw === undefined ? 'unset-env' : 'invalid-value', file: 'engine.toml', path: 'engine.tracing.headers_env', expected, ...(got === undefined ? {} : { got }) }]);
  if (raw === undefined) throw problem(`the environment variable ${name} to be set (it holds the exporter's headers)`);
  const headers: Record<string, string> = {};
  for (const pair of raw.split(',')) {
    if (pair.trim() === '') continue;
    const at = pair.indexOf('=');
    const key = at > 0 ? pair.slice(0, at).trim() : '';
    // The value is not shown: it is usually a secret.
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) throw problem(`${name} to hold key=value pairs separated by commas, with header names as keys`, `a pair with key ${JSON.stringify(key)}`);
    headers[key] = pair.slice(at + 1).trim();
  }
  return headers;
}
