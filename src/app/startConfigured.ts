import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { ChainConfig } from '../bus/Bus.ts';
import { startAnvil, type Anvil } from '../chain/embeddedAnvil.ts';
import { Engine } from '../engine/Engine.ts';
import { ConfigError } from '../errors/ConfigError.ts';
import { DEFAULT_API } from '../limits/defaults.ts';
import { readApiHandler, type ReadApiHandler } from '../metrics/api/routes.ts';
import { EngineMetrics, serveMetrics, type MetricsServer } from '../metrics/EngineMetrics.ts';
import { Runtime } from '../runtime/Runtime.ts';
import { deadLettersOf, jobLimitsOf, storeOf, type ResolvedEngineConfig } from '../config/EngineConfig.ts';
import type { Recorder } from '../replay/Recorder.ts';
import { startTracing, type ConfiguredTracing } from './tracing.ts';

/** An engine started from a configuration, with what it brought up for itself. */
export interface ConfiguredEngine {
  engine: Engine;
  runtime: Runtime;
  logger: Logger;
  /** Embedded dev chains (`rpc_url = "anvil"`) by chain id. */
  anvils: Record<string, Anvil>;
  /** The /metrics, /healthz and /readyz endpoint, when `engine.metrics` is set. */
  metrics: MetricsServer | undefined;
  /** Stops the engine (gracefully, within the shutdown timeout), then the runtime, then embedded chains. */
  stop(): Promise<void>;
}

/**
 * Starts what a configuration describes: embedded anvil chains first (on free loopback ports, with
 * the configured chain id), then the runtime's workers, then the engine. Anything started is stopped
 * again if a later part fails.
 */
export async function startConfigured(config: ResolvedEngineConfig, options: { logger?: Logger; record?: Recorder; env?: NodeJS.ProcessEnv } = {}): Promise<ConfiguredEngine> {
  const apiToken = apiTokenOf(config, options.env ?? process.env);
  const logger = options.logger ?? pino({ name: 'corral', level: config.engine.logLevel });
  const anvils: Record<string, Anvil> = {};
  let runtime: Runtime | undefined;
  let tracing: ConfiguredTracing | undefined;
  try {
    tracing = await startTracing(config.engine.tracing);
    const chains: Record<string, ChainConfig> = {};
    for (const [id, chain] of Object.entries(config.chains)) {
      let rpcUrl = chain.rpcUrl;
      if (rpcUrl === 'anvil') {
        // Its chain lives in the state directory (written when it stops), so a restarted engine finds
        // the chain its cursors point into.
        await mkdir(config.engine.stateDir, { recursive: true });
        const anvil = (anvils[id] = await startAnvil({ chainId: Number(id), detached: true, args: ['--state', join(config.engine.stateDir, `anvil-${id}.json`), ...(chain.blockTimeS ? ['--block-time', String(chain.blockTimeS)] : [])] }));
        logger.info({ chainId: id, url: anvil.url }, 'embedded anvil chain started');
        rpcUrl = anvil.wsUrl;
      }
      chains[id] = { ...(chain.rpcUrls ? { rpcUrls: chain.rpcUrls } : { rpcUrl }), pool: chain.pool, pollIntervalMs: chain.pollIntervalMs, maxLogRange: chain.maxLogRange, reorgWindow: chain.reorgWindow, confirmations: chain.confirmations, reconnect: chain.reconnect, ...(chain.fallbackRpcUrl ? { fallbackRpcUrl: chain.fallbackRpcUrl } : {}), ...(chain.orderbookUrl ? { orderbookUrl: chain.orderbookUrl } : {}) };
    }
    const { threads, graceMs, hostCallBufferBytes, cacheDir, pool, idleInstances } = config.engine;
    runtime = new Runtime({ graceMs, hostCallBufferBytes, pool, idleInstances, ...(threads ? { threads } : {}), ...(cacheDir ? { cacheDir } : {}) });
    const store = storeOf(config.store);
    const engine = await Engine.start({ runtime, stateDir: config.engine.stateDir, ...(store ? { store } : {}), logger, chains, modules: config.modules, shutdownTimeoutMs: config.engine.shutdownTimeoutMs, jobLimits: jobLimitsOf(config.engine.jobs), deadLetters: deadLettersOf(config.engine.jobs), rpcCache: config.engine.rpcCache, query: { ...config.engine.query, ...(cacheDir ? { cacheDir } : {}) }, ...(options.record ? { record: options.record } : {}), ...(tracing ? { tracer: tracing.tracer, traceHostCalls: tracing.hostCalls } : {}) });
    let metrics: { collector: EngineMetrics; server: MetricsServer; api?: ReadApiHandler | undefined } | undefined;
    if (config.engine.metrics) {
      const collector = new EngineMetrics(engine, { readiness: config.engine.readiness });
      try {
        const api: ReadApiHandler | undefined = apiToken === undefined ? undefined : readApiHandler(engine, { ...config.engine.api, token: apiToken, retryAfterS: DEFAULT_API.retryAfterS });
        metrics = { collector, server: await serveMetrics(collector, config.engine.metrics, api), api };
      } catch (error) {
        collector.close();
        await engine.stop();
        throw error;
      }
      logger.info({ url: metrics.server.url, api: apiToken !== undefined }, `metrics served at /metrics, /healthz, /readyz${apiToken !== undefined ? ', the read API at /v1' : ''}`);
    }
    const started = runtime;
    const traced = tracing;
    let stopping: Promise<void> | undefined;
    return {
      engine,
      runtime: started,
      logger,
      anvils,
      metrics: metrics?.server,
      // The engine first (metrics stay up while it drains), and whatever fails, the rest still stops.
      stop: () =>
        (stopping ??= (async () => {
          try {
            await engine.stop();
          } finally {
            // After the engine: the spans of its last steps are exported too.
            await traced?.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'the trace exporter did not flush'));
            await metrics?.server.close();
            await metrics?.api?.close();
            metrics?.collector.close();
            await started.close();
            await Promise.all(Object.values(anvils).map((a) => a.stop()));
          }
        })()),
    };
  } catch (error) {
    await tracing?.shutdown().catch(() => {});
    await runtime?.close();
    await Promise.all(Object.values(anvils).map((a) => a.stop()));
    throw error;
  }
}

/**
 * The read API's bearer token, from the environment variable `[engine.api] token_env` names; undefined
 * while the API is off. Checked before anything starts: an enabled API without a token would refuse
 * every request, or worse, accept an empty one.
 */
function apiTokenOf(config: ResolvedEngineConfig, env: NodeJS.ProcessEnv): string | undefined {
  const { api } = config.engine;
  if (!api.enabled) return undefined;
  const token = env[api.tokenEnv];
  if (!token) throw new ConfigError([{ code: 'unset-env', file: 'options', path: 'engine.api.token_env', expected: `the read API's bearer token in the environment variable ${api.tokenEnv}`, got: token === undefined ? 'unset' : 'empty' }]);
  return token;
}
