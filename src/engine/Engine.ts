import { pino } from 'pino';
import { EMPTY, type Observable } from 'rxjs';
import type { GuestEvent } from '../bus/guestEvents.ts';
import { systemClock } from '../clock/Clock.ts';
import { EngineError } from '../errors/EngineError.ts';
import { openStore } from '../store/openStore.ts';
import { isOwnedStore, type OwnedStore, type SqlClient } from '../store/OwnedStore.ts';
import type { EngineOptions } from './EngineOptions.ts';
import { engineParts, type EngineParts } from './EngineParts.ts';
import { parseManifest, type ModuleManifest, type ResolvedManifest } from '../config/ModuleManifestSchema.ts';
import { ModuleRuntime } from './ModuleRuntime.ts';
import { ModuleTable } from './ModuleTable.ts';
import { mapConcurrently } from './mapConcurrently.ts';
import { MODULE_LOAD_CONCURRENCY } from '../limits/defaults.ts';
import { Placement, type OwnershipEvent, type PlacementOptions } from './Placement.ts';
import type { ChainStep, InvocationRecord } from './records.ts';
import type { ReadView } from '../store/EngineStore.ts';
import { parseTraceparent } from '../tracing/Tracing.ts';
import type { QueryResult } from './ModuleQuery.ts';
import { checkMessageGrants } from './messageGrants.ts';

export type { OwnershipEvent } from './Placement.ts';
export type { GuestEvent as ModuleEvent } from '../bus/guestEvents.ts';
export type { EngineOptions } from './EngineOptions.ts';
export type { ChainPosition, ChainStep, InvocationRecord } from './records.ts';
export type { QueryResult } from './ModuleQuery.ts';

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
export class Engine {
  private readonly modules = new ModuleTable();
  private sequence = 0;
  private stopping: Promise<void> | null = null;
  /** On a store shared by replicas: what decides which modules this replica runs. */
  private placement: Placement | undefined;
  private unwake: (() => void) | undefined;

  /** Every invocation that ran (a chain step of several events is one), as it ends. */
  readonly invocations$: Observable<InvocationRecord>;
  /** Every committed chain step, as it commits. */
  readonly steps$: Observable<ChainStep>;
  /** Every run of a task (and every task skipped), as it ends. */
  readonly jobs$: EngineParts['jobs']['jobs$'];
  /** Every supervisor signal (failures, backoffs, restarts, quarantines, halts), as it happens. */
  readonly signals$: EngineParts['supervisor']['signals$'];

  private constructor(private readonly parts: EngineParts) {
    this.invocations$ = parts.invocations.asObservable();
    this.steps$ = parts.steps.asObservable();
    this.jobs$ = parts.jobs.jobs$;
    this.signals$ = parts.supervisor.signals$;
  }

  static async start(options: EngineOptions): Promise<Engine> {
    const logger = options.logger ?? pino({ name: 'corral' });
    const storeOptions = options.store ?? (options.stateDir === undefined ? undefined : { backend: 'level' as const, stateDir: options.stateDir });
    if (!storeOptions) throw new EngineError('invalid-option', 'the engine needs a store: `stateDir` (LevelDB) or `store`', { option: 'store' });
    const unawaited = storeOptions.backend === 'level' ? 'could not save a circuit breaker' : 'the store failed outside a commit (a circuit breaker save, an idle connection)';
    const store = await openStore(storeOptions, (error) => logger.error({ err: error }, unawaited));
    let engine: Engine | undefined;
    try {
      engine = new Engine(engineParts(options, store, logger));
      const manifests = options.modules.map((raw, index) => parseManifest(raw, `modules[${index}]`));
      checkMessageGrants(manifests, manifests);
      if (isOwnedStore(store)) {
        await engine.startOwned(store, manifests, storeOptions.backend === 'postgres' ? storeOptions.placement : undefined);
        return engine;
      }
      const modules = await engine.admitAll(manifests);
      await engine.parts.bus.start();
      engine.parts.supervisor.start(modules.map((m) => m.actorSpec()));
      // A restarted engine numbers custom events above the highest any module committed. Read side by
      // side: one after another, 10,000 reads took 0.5–3.6 s of the start.
      for (const read of await mapConcurrently(modules, MODULE_LOAD_CONCURRENCY, (m) => m.customSequence())) {
        if (read.status === 'rejected') throw read.reason;
        engine.sequence = Math.max(engine.sequence, read.value);
      }
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
    // On a shared store the module is declared and placed: it runs here only if placement gives it here.
    if (this.placement) return this.placement.add(manifest);
    checkMessageGrants([manifest], [...this.modules.all().map((m) => m.manifest), manifest]);
    return this.loadResolved(manifest);
  }

  /** Loads a validated module (placement's acquire lands here, after the lease is taken). */
  private async loadResolved(manifest: ResolvedManifest): Promise<void> {
    if (this.stopping) throw new EngineError('stopped', 'the engine is stopping', {});
    this.modules.reserve(manifest.name);
    try {
      await this.modules.departed(manifest.name, this.parts.logger);
      const module = await this.admit(manifest);
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
    if (!this.placement) return this.unloadHere(name, options);
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

  /**
   * Changes of what this replica owns on a store shared by replicas (acquired with a new epoch,
   * released after a handover or at stop, lost with the lease or to a fenced commit); nothing on LevelDB.
   */
  get ownership$(): Observable<OwnershipEvent> {
    return this.placement?.ownership$.asObservable() ?? EMPTY;
  }

  /** The modules this replica owns now, with their epochs (empty on LevelDB, where there are none). */
  owned(): ReadonlyMap<string, bigint> {
    const store = this.parts.store;
    return isOwnedStore(store) ? store.owned() : new Map();
  }

  /** This replica as a shared store knows it (its id and name); undefined on LevelDB. */
  replica(): { id: number; name: string } | undefined {
    const store = this.parts.store;
    return isOwnedStore(store) ? store.replica : undefined;
  }

  /** Every module's owner and epoch as the shared store has them (for `corral status`); empty on LevelDB. */
  async ownership(): Promise<{ module: string; epoch: bigint; owner?: { id: number; name: string } }[]> {
    const store = this.parts.store;
    if (!isOwnedStore(store)) return [];
    return (await store.ownership()).map((m) => ({ module: m.name, epoch: m.epoch, ...(m.owner ? { owner: m.owner } : {}) }));
  }

  /**
   * Publishes an embedder event to every module with a `custom` trigger on `topic`; resolves once all
   * have queued it. `traceparent` (W3C trace context: the publisher's span) parents the steps that
   * handle it when the engine traces (docs/tracing.md); a malformed one is refused with an error naming
   * it, and nothing is published.
   */
  async publish(topic: string, payload: string, options: { traceparent?: string } = {}): Promise<void> {
    const { traceparent } = options;
    if (traceparent !== undefined) checkTraceparent(traceparent);
    const store = this.parts.store;
    if (isOwnedStore(store)) {
      // Into the table first (durable, ordered); the owners, here or on other replicas, read it from there.
      // The statement also NOTIFYs the other replicas.
      await store.appendCustom(topic, payload, traceparent);
      this.parts.bus.custom$.next({ topic, payload });
      for (const module of this.modules.all()) module.wakeCustom();
      return;
    }
    this.parts.bus.custom$.next({ topic, payload });
    const cursor = { seq: ++this.sequence };
    const event: GuestEvent = { tag: 'custom', val: { topic, payload } };
    const receivers = this.modules.receivers(topic);
    const payloadOf = { kind: 'custom' as const, event, cursor, ...(traceparent === undefined ? {} : { traceparent }) };
    await Promise.all(receivers.map((m) => this.parts.supervisor.send(m.name, { kind: 'custom', payload: payloadOf })));
  }

  /**
   * On PostgreSQL: publishes inside the embedder's own open transaction on `client` (a `pg` client), so
   * the event exists only if that transaction commits. Publishers wait for each other until commit (the
   * sequence must follow commit order): keep the transaction short.
   */
  async publishIn(client: SqlClient, topic: string, payload: string, options: { traceparent?: string } = {}): Promise<void> {
    const store = this.parts.store;
    if (!isOwnedStore(store)) throw new EngineError('invalid-option', 'publishIn needs the PostgreSQL store ([store] backend = "postgres"); use publish', { option: 'store.backend' });
    if (options.traceparent !== undefined) checkTraceparent(options.traceparent);
    await store.publishIn(client, topic, payload, options.traceparent);
  }

  /** Delivers one custom event to one module and resolves with its outcome (after the commit, if any). */
  deliver(module: string, event: GuestEvent, cursor: unknown) {
    this.modules.get(module);
    return this.parts.supervisor.request(module, { kind: 'custom', payload: { kind: 'custom', event, cursor } });
  }

  /** Each module's messages sent, handled, retracted and refused at a full inbox, since the engine started. */
  messageStats() {
    return this.parts.messages.all();
  }

  /** Every module's actor: its state, breaker, mailbox, invocations and failures. */
  actors() {
    return this.parts.supervisor.actors();
  }

  /** Starts a stopped or halted module's actor again: an operator's call, nothing else restarts it. */
  restart(module: string): void {
    this.parts.supervisor.restart(module);
  }

  /** Closes a module's open circuit by hand: it serves again at once. */
  reset(module: string): void {
    this.parts.supervisor.reset(module);
  }

  /** Resolves once `module`'s mailbox is empty and nothing of it is running: how a test waits without polling. */
  settled(module: string): Promise<void> {
    return this.parts.supervisor.settled(module);
  }

  /** Canonical blocks of a chain as the engine follows it (after a reorg, the new branch). */
  blocks$(chainId: bigint | number) {
    return this.parts.bus.blocks$(chainId);
  }

  /** Reorgs of a chain: the blocks abandoned and those that replaced them. */
  reorgs$(chainId: bigint | number) {
    return this.parts.bus.reorgs$(chainId);
  }

  /** RPC calls, response bytes and failures by chain, purpose and method, and by module. */
  rpcStats() {
    return this.parts.bus.rpcStats();
  }

  /** Each chain's RPC endpoints (redacted): up or ejected, known head, smoothed latency, requests, failures, ejections. */
  endpointStats() {
    return this.parts.bus.endpointStats();
  }

  /** A module's queue: tasks pending and running, and what became of those that ran since the engine started. */
  jobStats(module: string) {
    return this.parts.jobs.stats(this.modules.get(module).name);
  }

  /** `jobStats` of every module that runs jobs (exports `run-job`). */
  allJobStats() {
    return Object.fromEntries(this.modules.all().filter((m) => this.parts.jobs.runsJobs(m.name)).map((m) => [m.name, this.parts.jobs.stats(m.name)]));
  }

  /** Hands a module tasks from the embedding application, in one batch (see `Jobs.enqueue`); resolves with their ids. */
  async enqueue(module: string, taskType: string, payloads: readonly string[], options: { delayMs?: number; maxRetry?: number } = {}): Promise<string[]> {
    const loaded = this.modules.find(module);
    if (!loaded) await this.refuseNotOwned(module);
    return this.parts.jobs.enqueue(loaded ?? this.modules.get(module), taskType, payloads, options);
  }

  /** A module's pending tasks, by id. */
  pendingJobs(module: string) {
    return this.parts.jobs.pending(this.modules.get(module));
  }

  /** A module's dead-lettered tasks (each with its last error), by id. */
  deadJobs(module: string) {
    return this.parts.jobs.dead(this.modules.get(module));
  }

  /** The ids of a module's tasks running now (live; their records stay pending until their runs commit). */
  runningJobIds(module: string): string[] {
    return this.parts.jobs.runningIds(this.modules.get(module).name);
  }

  /** Retries a dead-lettered task by hand: pending again, due now, its attempts reset. */
  retryJob(module: string, id: string) {
    return this.parts.jobs.retry(this.modules.get(module), id);
  }

  /** Resolves once no task of `module` (of any module, when absent) is running or due: how a test waits for jobs without polling. */
  jobsSettled(module?: string): Promise<void> {
    return this.parts.jobs.settled(module);
  }

  /** The cursor committed with the module's last event from `source` (`custom` or `chain:<id>`). */
  cursor(module: string, source = 'custom'): Promise<unknown> {
    return this.modules.get(module).store.cursor(source);
  }

  /** Resolves once `module` has handled chain `chainId` up to block `number` (its cursor there): a wait without polling. */
  reached(module: string, chainId: bigint | number, number: bigint | number, hash?: string): Promise<void> {
    const loaded = this.modules.find(module);
    if (!loaded) throw new EngineError('unknown-module', `module ${module} has no trigger on chain ${chainId}`, { module, chainId: String(chainId) });
    return loaded.reached(BigInt(chainId), BigInt(number), hash);
  }

  /** A module's committed state, for inspection (not its in-flight overlay). */
  read(module: string, key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.modules.get(module).store.get(key);
  }

  /** Every committed key of a module with its value, in byte order (for inspection and tests). */
  entries(module: string): Promise<[Uint8Array, Uint8Array][]> {
    return this.modules.get(module).entries();
  }

  /**
   * A view of every module's committed state as of now, each step whole or not at all, until closed
   * (see ReadView): for reads that must not see half a step or hold up the next (the read API, queries).
   */
  readView(): Promise<ReadView> {
    return this.parts.store.readView();
  }

  /**
   * Runs `module`'s `query` export (wit/module.wit, world `queryable-module`) on its committed state:
   * on the query runtime, under `[engine.query]` and its `[modules.query]` limits, with read-only store
   * access and nothing else; never on its events' instances or in their turn. Whatever the guest does,
   * the outcome is a QueryResult (src/metrics/api/queryAnswer.ts makes it an HTTP answer); it rejects
   * only when the engine is stopping or its store fails.
   *
   * @example
   * const result = await engine.query('twap', '/orders', [['limit', '50']]);
   * if (result.kind === 'answer') console.log(JSON.parse(result.answer));
   */
  query(module: string, path: string, params: readonly (readonly [string, string])[] = []): Promise<QueryResult> {
    if (this.stopping) return Promise.reject(new EngineError('stopped', 'the engine is stopping', { module }));
    const loaded = this.modules.find(module);
    if (!loaded) return Promise.resolve({ kind: 'unknown-module', module });
    return loaded.query(path.startsWith('/') ? path : `/${path}`, params);
  }

  /** Each module's instance pool counters: its events' pool under its name, its jobs' pool under `<name>/jobs`. */
  poolStats() {
    return this.modules.poolStats();
  }

  /** Each module's stored bytes (keys + values, as its storage cap counts them). */
  storedBytes() {
    return this.modules.storedBytes();
  }

  /** Where every module stands on every chain it follows. */
  chainPositions() {
    return this.modules.positions();
  }

  /** Each module's storage cap (key + value bytes it may keep): the quota of `storedBytes()`. */
  storeQuotas() {
    return this.modules.storeQuotas();
  }

  /** Every configured chain (id as a string) and its followed head, undefined until the first arrived: followed by a module or not. */
  chainHeads(): { chainId: string; head: bigint | undefined }[] {
    return this.parts.bus.chainIds().map((id) => ({ chainId: String(id), head: this.parts.bus.head(id) }));
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
      this.parts.steps.complete();
      this.parts.invocations.complete();
      await this.parts.store.close();
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
    this.unwake = store.onWake((channel) => {
      if (channel === 'custom') for (const module of this.modules.all()) module.wakeCustom();
    });
    // Placement's rounds run on real time, like the lease: a test's manual clock drives the modules' timers.
    this.placement = new Placement(store, { load: (m) => this.loadResolved(m), unload: (name, o) => this.unloadHere(name, o) }, manifests, placement ?? {}, systemClock, this.parts.logger);
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

  /**
   * The modules of a start, loaded `MODULE_LOAD_CONCURRENCY` at a time and taken into the table in their
   * order (children start in order). If one fails, the others finish loading and are abandoned.
   */
  private async admitAll(manifests: readonly ResolvedManifest[]): Promise<ModuleRuntime[]> {
    const names = new Set<string>();
    for (const m of manifests) {
      if (names.has(m.name) || this.modules.find(m.name)) throw new EngineError('duplicate-module', `two modules are named ${m.name}`, { module: m.name });
      names.add(m.name);
    }
    const settled = await mapConcurrently(manifests, MODULE_LOAD_CONCURRENCY, (m) => ModuleRuntime.load(this.parts, m));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      for (const r of settled) if (r.status === 'fulfilled') r.value.abandon();
      throw failed.reason;
    }
    const modules = settled.map((r) => (r as PromiseFulfilledResult<ModuleRuntime>).value);
    for (const module of modules) this.modules.add(module);
    return modules;
  }

  /** A module's runtime loaded and taken into the engine's table (its actor not started yet). */
  private async admit(manifest: ResolvedManifest): Promise<ModuleRuntime> {
    // Checked before the load too: a start listing one name twice loads nothing twice.
    if (this.modules.find(manifest.name)) throw new EngineError('duplicate-module', `two modules are named ${manifest.name}`, { module: manifest.name });
    const module = await ModuleRuntime.load(this.parts, manifest);
    this.modules.add(module);
    return module;
  }
}

/** Refuses a `traceparent` that is not W3C trace context, naming it and what is wrong. */
function checkTraceparent(traceparent: string): void {
  const parsed = typeof traceparent === 'string' ? parseTraceparent(traceparent) : 'not a string';
  if (typeof parsed === 'string') throw new EngineError('invalid-option', `traceparent ${JSON.stringify(traceparent)} is not W3C trace context: ${parsed}`, { option: 'traceparent', traceparent });
}
