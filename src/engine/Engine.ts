import { EMPTY, type Observable } from 'rxjs';
import { EngineError } from '../errors/EngineError.ts';
import { isOwnedStore, type OwnedStore, type SqlClient } from '../store/OwnedStore.ts';
import type { EngineOptions } from './EngineOptions.ts';
import { openEngineParts, type EngineParts } from './EngineParts.ts';
import { parseManifest, type ModuleManifest, type ResolvedManifest } from '../config/ModuleManifestSchema.ts';
import { ModuleRuntime } from './ModuleRuntime.ts';
import { ModuleTable } from './ModuleTable.ts';
import { EngineView } from './EngineView.ts';
import { Placement, type OwnershipEvent, type PlacementOptions } from './Placement.ts';
import { Publisher, type ModuleEvent, type PublishOptions } from './Publisher.ts';
import { promoteCandidate } from './promote.ts';
import { HotSwaps, type ReplaceOptions, type Replacement } from './replaceModule.ts';

export type { OwnershipEvent } from './Placement.ts';
export type { ModuleEvent } from './Publisher.ts';
export type { EngineOptions } from './EngineOptions.ts';
export type { ChainPosition, ChainStep, InvocationRecord } from './records.ts';
export type { QueryResult } from './ModuleQuery.ts';
export type { CapabilityDiff, ProbationEnd, ReplaceOptions, Replacement } from './replaceModule.ts';

/**
 * corral's engine: modules of corral's WIT world (`wit/module.wit`) as supervised actors, fed by the
 * bus (chain blocks and logs from each module's cursor, and embedder events), each with its own
 * state. This file only wires: the store (src/store), the bus (src/bus, src/chain), the supervisor
 * (src/supervisor), the jobs (src/jobs/Jobs.ts) and one ModuleRuntime per loaded module, which owns
 * its components, state, host binding and feeds.
 *
 * @example
 * const engine = await Engine.start({ runtime, stateDir: './state', chains: { 1: { rpcUrl: 'wss://…' } },
 *   modules: [{ name: 'watch', component: 'watch.wasm', grants: { store: true },
 *     triggers: [{ kind: 'log', chain: 1, address: '0x…', topics: ['0x…'] }] }] });
 * await engine.publish('tick', '{}');
 */
export class Engine extends EngineView {
  /** On a store shared by replicas: what decides which modules this replica runs. */
  private placement: Placement | undefined;
  private unwake: (() => void) | undefined;
  private readonly swaps: HotSwaps;
  private readonly publisher: Publisher;

  private constructor(parts: EngineParts) {
    super(parts, new ModuleTable());
    this.publisher = new Publisher(parts, this.modules, () => this.swaps.held());
    this.swaps = new HotSwaps({ parts, find: (n) => this.modules.find(n), manifests: () => this.modules.all().map((m) => m.manifest), load: (m) => this.loadResolved(m), unload: (n) => this.unloadHere(n, { handover: true }) });
  }

  static async start(options: EngineOptions): Promise<Engine> {
    const { parts, placement } = await openEngineParts(options);
    const store = parts.store;
    let engine: Engine | undefined;
    try {
      engine = new Engine(parts);
      const manifests = options.modules.map((raw, index) => parseManifest(raw, `modules[${index}]`));
      engine.modules.checkGrants(manifests);
      for (const manifest of manifests) parts.messages.declare(manifest);
      if (isOwnedStore(store)) {
        await engine.startOwned(store, manifests, placement);
        return engine;
      }
      const modules = await engine.modules.admitAll(manifests, (m) => ModuleRuntime.load(engine!.parts, m));
      for (const module of modules) await engine.swaps.loaded(module);
      await engine.parts.bus.start();
      engine.parts.supervisor.start(modules.map((m) => m.actorSpec()));
      // A restarted engine numbers custom events above the highest any module committed.
      engine.publisher.resumeAfter(await engine.modules.customSequence(modules));
      for (const module of modules) await module.startMessages();
      for (const module of modules) module.startFeeds();
      for (const module of modules) await engine.parts.jobs.startTimers(module.name);
      await engine.parts.jobs.skipAbsent(store);
      for (const module of modules) await engine.parts.jobs.startJobs(module.name);
    } catch (error) {
      if (engine) {
        engine.unwake?.();
        await engine.placement?.stop();
        engine.parts.jobs.stopSchedules();
        await engine.parts.jobs.stopRunner();
        await engine.parts.bus.stop();
        await engine.parts.supervisor.stop();
      }
      await store.close();
      throw error;
    }
    return engine;
  }

  /** Adds a module while the engine runs, from its cursor (kept from an earlier run under its name) or its `startBlock`; the others are not touched. */
  async load(raw: ModuleManifest): Promise<void> {
    if (this.stopping) throw new EngineError('stopped', 'the engine is stopping', {});
    const manifest = parseManifest(raw, `module ${(raw as { name?: unknown }).name ?? ''}`);
    this.parts.messages.declare(manifest);
    // On a shared store the module is declared and placed: it runs here only if placement gives it here.
    if (this.placement) return this.placement.add(manifest);
    this.modules.checkGrants([manifest]);
    return this.loadResolved(manifest);
  }

  /** Loads a validated module (placement's acquire lands here, after the lease is taken). */
  private async loadResolved(manifest: ResolvedManifest): Promise<void> {
    if (this.stopping) throw new EngineError('stopped', 'the engine is stopping', {});
    this.modules.reserve(manifest.name);
    try {
      await this.modules.departed(manifest.name, this.parts.logger);
      const module = await this.modules.admit(manifest, (m) => ModuleRuntime.load(this.parts, m));
      // At once, while the file most likely still holds the build the runtime read: a rollback to it needs its bytes.
      await this.swaps.loaded(module);
      try {
        if (this.stopping) throw new EngineError('stopped', 'the engine stopped while the module loaded', { module: manifest.name });
        this.parts.supervisor.start([module.actorSpec()]);
      } catch (error) {
        this.modules.drop(manifest.name);
        module.abandon();
        throw error;
      }
      try {
        await module.serve();
        const store = this.parts.store;
        if (isOwnedStore(store)) await module.startCustom(store);
      } catch (error) {
        // Half served: its actor, feeds, timers or jobs may run already. Taken down whole (as a handover
        // would: no lifecycle tasks), so nothing of it runs on without its lease and a retry finds the
        // name free; left in the table it refused every later load as a duplicate.
        await this.modules.remove(manifest.name, (m) => m.unload(false, true)).catch((cleanup: unknown) => this.parts.logger.warn({ module: manifest.name, err: cleanup }, 'a module whose load failed did not stop cleanly'));
        throw error;
      }
    } finally {
      this.modules.arrived(manifest.name);
    }
    this.parts.logger.info({ module: manifest.name }, 'module loaded');
  }

  /**
   * Removes a module while the engine runs: its feeds stop, its queued events finish (within the shutdown
   * timeout), its state and cursors stay in the store for a later `load`. The others are not touched.
   */
  async unload(name: string, options: { uninstall?: boolean } = {}): Promise<void> {
    if (!this.placement) return this.unloadHere(name, options).finally(() => this.swaps.forget(name));
    // On a shared store this replica stops running it here (and gives its lease up).
    this.modules.get(name);
    return this.placement.forget(name, () => this.unloadHere(name, options));
  }

  /** Takes a module out of this engine; `handover`: it goes on elsewhere, so no lifecycle task runs. */
  private async unloadHere(name: string, options: { uninstall?: boolean; handover?: boolean }): Promise<void> {
    // Gone from routing at once (a second unload of the name fails); then its feeds and actor drain.
    await this.modules.remove(name, (module) => module.unload(options.uninstall === true, options.handover === true));
    const how = options.handover ? 'module handed over' : options.uninstall ? 'module uninstalled' : 'module unloaded';
    this.parts.logger.info({ module: name, ...(options.uninstall ? { uninstalled: true } : {}) }, how);
  }

  /** Swaps a running module for a new build of it, keeping its state and cursors; a signal in its first events swaps back (replaceModule.ts). */
  replace(raw: ModuleManifest, options: ReplaceOptions = {}): Promise<Replacement> {
    return this.swaps.replace(raw, options);
  }

  /**
   * Changes of what this replica owns on a store shared by replicas (acquired with a new epoch,
   * released after a handover or at stop, lost with the lease or to a fenced commit); nothing on LevelDB.
   */
  get ownership$(): Observable<OwnershipEvent> {
    return this.placement?.ownership$.asObservable() ?? EMPTY;
  }

  /**
   * Publishes an embedder event to every module with a `custom` trigger on `topic`; resolves once all
   * have queued it. `traceparent` (W3C trace context: the publisher's span) parents the steps that
   * handle it when the engine traces (docs/tracing.md); a malformed one is refused with an error naming
   * it, and nothing is published.
   */
  publish(topic: string, payload: string, options: PublishOptions = {}): Promise<void> {
    return this.publisher.publish(topic, payload, options);
  }

  /**
   * On PostgreSQL: publishes inside the embedder's own open transaction on `client` (a `pg` client), so
   * the event exists only if that transaction commits. Publishers wait for each other until commit (the
   * sequence must follow commit order): keep the transaction short.
   */
  publishIn(client: SqlClient, topic: string, payload: string, options: PublishOptions = {}): Promise<void> {
    return this.publisher.publishIn(client, topic, payload, options);
  }

  /** Delivers one custom event to one module and resolves with its outcome (after the commit, if any). */
  deliver(module: string, event: ModuleEvent, cursor: unknown) {
    return this.publisher.deliver(module, event, cursor);
  }

  /** Starts a stopped or halted module's actor again: an operator's call, nothing else restarts it. */
  restart(module: string): void {
    this.parts.supervisor.restart(module);
  }

  /** Closes a module's open circuit by hand: it serves again at once. */
  reset(module: string): void {
    this.parts.supervisor.reset(module);
  }

  /** Hands a module tasks from the embedding application, in one batch (see `Jobs.enqueue`); resolves with their ids. */
  async enqueue(module: string, taskType: string, payloads: readonly string[], options: { delayMs?: number; maxRetry?: number } = {}): Promise<string[]> {
    const loaded = this.modules.find(module);
    if (!loaded) await this.refuseNotOwned(module);
    return this.parts.jobs.enqueue(loaded ?? this.modules.get(module), taskType, payloads, options);
  }

  /** Retries a dead-lettered task by hand: pending again, due now, its attempts reset. */
  retryJob(module: string, id: string) {
    return this.parts.jobs.retry(this.modules.get(module), id);
  }

  /** Makes `module`'s shadow candidate the module, after its `migrate` export when it has one (see promote.ts, docs/shadow.md). */
  promote(module: string): Promise<{ migrated: boolean }> {
    this.modules.get(module);
    // On a shared store placement alone loads and unloads modules; on LevelDB a promotion is a swap.
    if (this.placement) return promoteCandidate(this.parts, module, { find: (n) => this.modules.find(n), unload: (n) => this.unload(n), load: (m) => this.load(m) });
    return this.swaps.exclusive(module, (host) => promoteCandidate(this.parts, module, host));
  }

  /** Stops intake (heads, feeds), lets the actors drain within the shutdown timeout, then closes the database. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      // Placement first: it hands every module here over (drained, released) before anything stops.
      this.unwake?.();
      await this.placement?.stop();
      for (const module of this.modules.all()) module.stopDeliveries();
      this.parts.jobs.stopSchedules();
      const feedsDone = this.parts.bus.stop();
      await Promise.all([this.parts.supervisor.stop(), this.parts.jobs.stopRunner()]);
      await feedsDone;
      await this.parts.jobs.close();
      await this.parts.queries.close();
      await this.parts.shadows.close();
      this.parts.steps.complete();
      this.parts.invocations.complete();
      await this.parts.store.close();
      await this.swaps.close();
    })();
    return this.stopping;
  }

  /**
   * On a store shared by replicas: no module is loaded yet. The bus and the supervisor start empty, the
   * modules are declared, and placement acquires and loads those this replica should run; resolves
   * once its first round is done (a lone replica then runs every module, as on LevelDB).
   */
  private async startOwned(store: OwnedStore, manifests: readonly ResolvedManifest[], placement: PlacementOptions | undefined): Promise<void> {
    const names = new Set<string>();
    for (const m of manifests) {
      if (names.has(m.name)) throw new EngineError('duplicate-module', `two modules are named ${m.name}`, { module: m.name });
      names.add(m.name);
    }
    await this.parts.bus.start();
    this.parts.supervisor.start([]);
    this.parts.messages.replicate((from) => void store.notify('messages', from).catch(() => undefined));
    this.unwake = store.onWake((channel, payload) => {
      if (channel === 'custom') for (const module of this.modules.all()) module.wakeCustom();
      if (channel === 'messages' && payload) this.parts.messages.wakeFrom(payload);
    });
    // Placement's rounds run on real time, like the lease: a test's manual clock drives the modules' timers.
    this.placement = new Placement(store, { load: (m) => this.loadResolved(m), unload: (name, o) => this.unloadHere(name, o) }, manifests, placement ?? {}, this.parts.logger);
    await this.placement.start();
  }

  /** An embedder's call for a module this replica does not run: `module-held` naming its owner, else `unknown-module`. */
  private async refuseNotOwned(module: string): Promise<void> {
    const store = this.parts.store;
    if (!isOwnedStore(store)) return;
    const row = (await store.ownership()).find((m) => m.name === module);
    if (row?.owner && row.owner.id !== store.replica.id) {
      throw new EngineError('module-held', `module ${module} is owned by replica ${row.owner.name} (id ${row.owner.id}, epoch ${row.epoch})`, { module, owner: row.owner.name, epoch: String(row.epoch) });
    }
  }

}
