import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { ChainConfig } from '../bus/Bus.ts';
import { startAnvil, type Anvil } from '../chain/embeddedAnvil.ts';
import { Engine } from '../engine/Engine.ts';
import { EngineMetrics, serveMetrics, type MetricsServer } from '../metrics/EngineMetrics.ts';
import { Runtime } from '../runtime/Runtime.ts';
import { deadLettersOf, jobLimitsOf, storeOf, type ResolvedEngineConfig } from '../config/EngineConfig.ts';
import type { Recorder } from '../replay/Recorder.ts';

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
export async function startConfigured(config: ResolvedEngineConfig, options: { logger?: Logger; record?: Recorder } = {}): Promise<ConfiguredEngine> {
  const logger = options.logger ?? pino({ name: 'corral', level: config.engine.logLevel });
  const anvils: Record<string, Anvil> = {};
  let runtime: Runtime | undefined;
  try {
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
    const engine = await Engine.start({ runtime, stateDir: config.engine.stateDir, ...(store ? { store } : {}), logger, chains, modules: config.modules, shutdownTimeoutMs: config.engine.shutdownTimeoutMs, jobLimits: jobLimitsOf(config.engine.jobs), deadLetters: deadLettersOf(config.engine.jobs), rpcCache: config.engine.rpcCache, ...(options.record ? { record: options.record } : {}) });
    let metrics: { collector: EngineMetrics; server: MetricsServer } | undefined;
    if (config.engine.metrics) {
      const collector = new EngineMetrics(engine);
      try {
        metrics = { collector, server: await serveMetrics(collector, config.engine.metrics) };
      } catch (error) {
        collector.close();
        await engine.stop();
        throw error;
      }
      logger.info({ url: metrics.server.url }, 'metrics served at /metrics, /healthz, /readyz');
    }
    const started = runtime;
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
            await metrics?.server.close();
            metrics?.collector.close();
            await started.close();
            await Promise.all(Object.values(anvils).map((a) => a.stop()));
          }
        })()),
    };
  } catch (error) {
    await runtime?.close();
    await Promise.all(Object.values(anvils).map((a) => a.stop()));
    throw error;
  }
}
