import type { Logger } from 'pino';
import { Subject, type Observable, type Subscription } from 'rxjs';
import type { ActorInfo } from '../actor/Actor.ts';
import type { Engine } from '../engine/Engine.ts';
import type { ModuleManifest } from '../config/ModuleManifestSchema.ts';
import { EngineError } from '../errors/EngineError.ts';
import type { SupervisorSignal } from '../supervisor/SupervisorSignal.ts';
import type { EngineConfig } from '../config/EngineConfig.ts';
import type { ResolvedEngineConfig } from '../config/EngineConfig.ts';
import { resolveConfig, resolveModule } from '../config/loadConfig.ts';
import { startConfigured, type ConfiguredEngine } from './startConfigured.ts';

/** corral as an embedded engine: the handle `createEngine` returns. */
export interface CorralEngine {
  /** Validates the options (a ConfigError lists every problem), starts embedded chains, the workers and the engine. */
  start(): Promise<void>;
  /** Graceful: intake stops, in-flight events finish or are cancelled within the shutdown timeout, the database closes. */
  stop(): Promise<void>;
  /** An event for every module with a `custom` trigger on `topic`. */
  publish(topic: string, payload: string): Promise<void>;
  /** Every supervisor signal (subscribe before `start` to miss none). */
  readonly signals$: Observable<SupervisorSignal>;
  /** Each module's actor: state, breaker, mailbox, invocations, failures by signal. */
  actors(): ActorInfo[];
  /** Adds a module at run time (the others are not touched). */
  load(manifest: ModuleManifest): Promise<void>;
  /** Removes a module at run time; its state and cursors stay for a later `load`. */
  unload(name: string): Promise<void>;
  /** The running engine, for everything else (`reached`, `cursor`, `read`, `rpcStats`, `steps$`, …). */
  readonly engine: Engine;
  /** `http://host:port` of /metrics, /healthz, /readyz when `engine.metrics` is set. */
  readonly metricsUrl: string | undefined;
  /** Embedded anvil chains (`rpcUrl: 'anvil'`) by chain id: their URLs for a dev setup. */
  readonly anvilUrls: Record<string, string>;
}

/**
 * The embedding entry point. `options` is engine.toml's content in camelCase, validated by the same
 * schema (src/config/EngineConfig.ts); relative paths are resolved from `baseDir` (default: the
 * current directory).
 *
 * @example
 * const corral = createEngine({ chains: { 1: { rpcUrl: 'wss://…' } },
 *   modules: [{ name: 'twap', component: 'twap.wasm', grants: { store: true }, triggers: [{ kind: 'block', chain: 1 }] }] });
 * corral.signals$.subscribe((s) => console.log(s.type, s.actor));
 * await corral.start();
 */
export function createEngine(options: EngineConfig, settings: { baseDir?: string; logger?: Logger } = {}): CorralEngine {
  const signals = new Subject<SupervisorSignal>();
  let running: ConfiguredEngine | undefined;
  let resolved: ResolvedEngineConfig | undefined;
  const where = { file: 'options', dir: settings.baseDir ?? process.cwd(), keys: 'camelCase' as const };
  let forwarding: Subscription | undefined;
  const current = (): ConfiguredEngine => {
    if (!running) throw new EngineError('stopped', 'the engine is not running: call start() first', {});
    return running;
  };
  return {
    async start() {
      if (running) throw new EngineError('invalid-option', 'the engine is already running', {});
      resolved = await resolveConfig(options, where);
      running = await startConfigured(resolved, settings.logger ? { logger: settings.logger } : {});
      forwarding = running.engine.signals$.subscribe((s) => signals.next(s));
    },
    async stop() {
      if (!running) return;
      await running.stop();
      forwarding?.unsubscribe();
      running = undefined;
    },
    publish: (topic, payload) => current().engine.publish(topic, payload),
    signals$: signals.asObservable(),
    actors: () => current().engine.actors(),
    // The engine's limits and grants hold for a module added later just as for the configured ones.
    load: async (manifest) => current().engine.load(await resolveModule(manifest, resolved!, where)),
    unload: (name) => current().engine.unload(name),
    get engine() {
      return current().engine;
    },
    get metricsUrl() {
      return running?.metrics?.url;
    },
    get anvilUrls() {
      return Object.fromEntries(Object.entries(running?.anvils ?? {}).map(([id, a]) => [id, a.url]));
    },
  };
}
