import { randomUUID } from 'node:crypto';
import { pino, type Logger } from 'pino';
import type { ActorEvent, DeliveryExtras, DeliveryOutcome } from '../actor/Actor.ts';
import type { Clock } from '../clock/Clock.ts';
import { DEFAULT_HOST_CAPS, type HostCaps } from '../limits/hostCaps.ts';
import type { CallOutcome, Component } from '../runtime/Component.ts';
import type { HostImports } from '../runtime/hostBridge.ts';
import type { Runtime } from '../runtime/Runtime.ts';
import { InvocationScope } from '../host/InvocationScope.ts';
import { loggingHost } from '../host/logging.ts';
import { storeHost } from '../host/store.ts';
import { chainHost, Chains, type ChainConfig, type RpcStats } from '../host/chain.ts';
import { httpHost } from '../host/http.ts';
import { HostLimitExceeded } from '../signals/HostLimitExceeded.ts';
import { LevelBreakerStore } from '../store/LevelBreakerStore.ts';
import { StateStore, type ModuleState } from '../store/StateStore.ts';
import { Supervisor, type ActorSpec } from '../supervisor/Supervisor.ts';
import { checkCapabilities, MODULE_INTERFACES, parseManifest, type ModuleManifest, type ResolvedManifest } from './ModuleManifest.ts';

/** A WIT `event` as the guest receives it (jco's JS shape of the variant). */
export type ModuleEvent =
  | { tag: 'custom'; val: { topic: string; payload: string } }
  | { tag: 'block'; val: Record<string, unknown> }
  | { tag: 'log'; val: Record<string, unknown> };

export interface EngineOptions {
  runtime: Runtime;
  /** Directory of the LevelDB database holding every module's state. */
  stateDir: string;
  modules: ModuleManifest[];
  /** JSON-RPC endpoints by chain id (checked against `eth_chainId` at start). */
  chains?: Record<string, ChainConfig>;
  logger?: Logger;
  clock?: Clock;
  shutdownTimeoutMs?: number;
}

interface LoadedModule {
  manifest: ResolvedManifest;
  /** The component's import specifiers, by the corral interface they name. */
  specifiers: Partial<Record<keyof typeof MODULE_INTERFACES, string>>;
  component: Component;
  state: ModuleState;
  caps: HostCaps;
}

/** What one delivered event carries through the actor: the guest's event and the cursor it commits. */
interface Envelope {
  event: ModuleEvent;
  cursor: unknown;
}

/**
 * corral's engine: modules of corral's WIT world (`wit/module.wit`) as supervised actors, each with
 * its own state in LevelDB. For every event a module handles, its state writes go to an overlay and
 * are committed in one batch with the module's cursor when `on-event` returns `ok`; on `err` or any
 * signal they are dropped. Host calls reach the store, the logger, the configured chains and HTTP,
 * each only as far as the module's manifest grants.
 *
 * @example
 * const engine = await Engine.start({ runtime, stateDir: './state', modules: [{ name: 'counter',
 *   component: 'counter.wasm', grants: { store: true, logging: true }, topics: ['tick'] }] });
 * await engine.publish('tick', '{}');
 */
export class Engine {
  readonly supervisor: Supervisor;
  private readonly modules = new Map<string, LoadedModule>();
  private sequence = 0;

  private constructor(
    private readonly store: StateStore,
    private readonly logger: Logger,
    supervisor: Supervisor,
    private readonly chains: Chains,
  ) {
    this.supervisor = supervisor;
  }

  static async start(options: EngineOptions): Promise<Engine> {
    const logger = options.logger ?? pino({ name: 'corral' });
    const store = await StateStore.open(options.stateDir);
    const breakerStore = new LevelBreakerStore(store.db, (error) => logger.error({ err: error }, 'could not save a circuit breaker'));
    const supervisor = new Supervisor({
      logger,
      breakerStore,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.shutdownTimeoutMs ? { shutdownTimeoutMs: options.shutdownTimeoutMs } : {}),
    });
    let engine: Engine;
    try {
      const chains = new Chains(options.chains ?? {});
      engine = new Engine(store, logger, supervisor, chains);
      await chains.verify();
      const specs: ActorSpec[] = [];
      for (const [index, raw] of options.modules.entries()) {
        specs.push(await engine.loadModule(options.runtime, parseManifest(raw, `modules[${index}]`)));
      }
      supervisor.start(specs);
    } catch (error) {
      await store.close();
      throw error;
    }
    return engine;
  }

  /** Publishes an embedder event to every module subscribed to `topic`; resolves once all have queued it. */
  async publish(topic: string, payload: string): Promise<void> {
    const cursor = { kind: 'custom', seq: ++this.sequence };
    const event: ModuleEvent = { tag: 'custom', val: { topic, payload } };
    await Promise.all(
      [...this.modules.values()]
        .filter((m) => m.manifest.topics.includes(topic))
        .map((m) => this.supervisor.send(m.manifest.name, { kind: 'custom', payload: { event, cursor } satisfies Envelope })),
    );
  }

  /** Delivers one event to one module and resolves with its outcome (after the commit, if any). */
  deliver(module: string, event: ModuleEvent, cursor: unknown): Promise<DeliveryOutcome> {
    const kind = event.tag === 'custom' ? 'custom' : event.tag;
    return this.supervisor.request(module, { kind, payload: { event, cursor } satisfies Envelope });
  }

  /** JSON-RPC calls and response bytes per module and method, since the engine started. */
  rpcStats(): RpcStats {
    return structuredClone(this.chains.stats);
  }

  /** The cursor committed with the module's last successful event. */
  cursor(module: string): Promise<unknown> {
    return this.lookup(module).state.cursor();
  }

  /** A module's committed state, for inspection (not its in-flight overlay). */
  async read(module: string, key: Uint8Array): Promise<Uint8Array | undefined> {
    const value = await this.lookup(module).state.data.get(key);
    return value === undefined ? undefined : Uint8Array.from(value);
  }

  async stop(): Promise<void> {
    await this.supervisor.stop();
    await this.store.close(); // level lets pending breaker writes finish before it closes
  }

  private lookup(module: string): LoadedModule {
    const loaded = this.modules.get(module);
    if (!loaded) throw new RangeError(`no module named ${module}`);
    return loaded;
  }

  private async loadModule(runtime: Runtime, manifest: ResolvedManifest): Promise<ActorSpec> {
    if (this.modules.has(manifest.name)) throw new RangeError(`two modules are named ${manifest.name}`);
    const meta = await runtime.inspect(manifest.component, manifest.name);
    checkCapabilities(manifest, meta.imports, meta.exports.map(([n]) => n));
    const component = await runtime.load(manifest.component, {
      name: manifest.name,
      imports: outsideInvocation(meta.imports),
      limits: manifest.limits,
      initializer: { export: 'configure', args: [manifest.config] },
    });
    const state = await this.store.module(manifest.name);
    const specifiers: LoadedModule['specifiers'] = {};
    for (const specifier of Object.keys(meta.imports)) {
      const bare = specifier.replace(/@[^/]*$/, '');
      const name = (Object.keys(MODULE_INTERFACES) as (keyof typeof MODULE_INTERFACES)[]).find((n) => MODULE_INTERFACES[n] === bare);
      if (name) specifiers[name] = specifier;
    }
    const loaded: LoadedModule = { manifest, specifiers, component, state, caps: { ...DEFAULT_HOST_CAPS, ...manifest.caps } };
    this.modules.set(manifest.name, loaded);
    return {
      name: manifest.name,
      component,
      handler: {
        export: 'on-event',
        args: (e: ActorEvent) => [(e.payload as Envelope).event],
        extras: (e: ActorEvent) => this.bind(loaded, e.payload as Envelope),
      },
    };
  }

  /** The imports and the commit of one invocation, bound to its own overlay. */
  private bind(module: LoadedModule, envelope: Envelope): DeliveryExtras {
    const invocationId = randomUUID();
    const scope = new InvocationScope(
      module.manifest.name,
      module.state,
      module.state.begin(),
      module.caps,
      this.logger.child({ module: module.manifest.name, event: envelope.event.tag, cursor: envelope.cursor, invocationId }),
    );
    const imports: HostImports = {};
    const { store, logging, chain, http } = module.specifiers;
    const { grants } = module.manifest;
    if (store) imports[store] = storeHost(scope);
    if (logging) imports[logging] = loggingHost(scope);
    if (chain) imports[chain] = chainHost(scope, this.chains, grants.chain?.chains ?? []);
    if (http) imports[http] = httpHost(scope, grants.http?.hosts ?? []);
    return {
      options: { imports, invocationId },
      complete: async (outcome: CallOutcome): Promise<DeliveryOutcome> => {
        if (!outcome.ok) return outcome; // a signal: the overlay is dropped
        const tripped = scope.limitError;
        if (tripped) {
          // A cap tripped but the guest carried on (it caught the host's exception): the cap still wins.
          const { limit, max, observed } = tripped;
          const signal = new HostLimitExceeded({ component: module.manifest.name, exportName: 'on-event', invocationId, limit, max, observed });
          return { ok: false, signal, durationMs: outcome.durationMs, invocationId };
        }
        const result = outcome.value as { tag?: string; val?: unknown } | undefined;
        if (result && result.tag === 'err') {
          scope.logger.warn({ error: result.val, invocationId: outcome.invocationId }, 'on-event returned an error; its state writes are dropped');
          return outcome;
        }
        await module.state.commit(scope.transaction, envelope.cursor);
        return outcome;
      },
    };
  }
}

/** Placeholders the runtime checks at load; every real call brings its own bound imports. */
function outsideInvocation(imports: Record<string, string[]>): HostImports {
  const stubs: HostImports = {};
  for (const [specifier, functions] of Object.entries(imports)) {
    stubs[specifier] = Object.fromEntries(
      functions.map((fn) => [
        fn,
        () => {
          throw new Error(`${specifier}#${fn} called outside an invocation`);
        },
      ]),
    );
  }
  return stubs;
}
