import { pino, type Logger } from 'pino';
import { Subject, type Observable } from 'rxjs';
import type { DeliveryOutcome } from '../actor/Actor.ts';
import { Bus, type ChainConfig } from '../bus/Bus.ts';
import type { GuestEvent } from '../bus/guestEvents.ts';
import { withoutEvents, type FeedDelivery, type FeedResult, type FeedTarget, type ModuleFeed } from '../bus/ModuleFeed.ts';
import { chainInterests, triggerChains, type CronTrigger } from '../bus/triggers.ts';
import type { RpcStats } from '../chain/RpcStats.ts';
import { systemClock, type Clock } from '../clock/Clock.ts';
import { EngineError } from '../errors/EngineError.ts';
import { DEFAULT_HOST_CAPS } from '../limits/hostCaps.ts';
import type { HostImports } from '../runtime/HostImports.ts';
import type { Component } from '../runtime/Component.ts';
import type { PoolStats } from '../runtime/InstancePool.ts';
import type { SignalName } from '../signals/signalFromData.ts';
import type { Runtime } from '../runtime/Runtime.ts';
import type { EngineStore } from '../store/EngineStore.ts';
import { LevelStore } from '../store/LevelStore.ts';
import { DEFAULT_SUPERVISION, Supervisor, type ActorSpec } from '../supervisor/Supervisor.ts';
import type { SupervisorSignal } from '../supervisor/SupervisorSignal.ts';
import { bindInvocation, RejectedEvents, runJob, type Envelope, type InvocationModule } from './invocation.ts';
import { ModuleTimers } from '../jobs/ModuleTimers.ts';
import type { Timer } from '../jobs/timerWrites.ts';
import { TimerScheduler } from '../jobs/TimerScheduler.ts';
import type { DeadLetterRetention } from '../jobs/deadLetters.ts';
import { CronScheduler, cronName } from '../jobs/CronScheduler.ts';
import { cronKey, isReserved, jobKey, RESERVED_PREFIX } from '../store/reservedKeys.ts';
import { ReorgMarks } from '../store/ReorgMarks.ts';
import { GuardedModuleStore } from '../store/GuardedModuleStore.ts';
import { DEFAULT_JOB_LIMITS, HIGH_RESOURCE_JOB_LIMITS } from '../limits/defaults.ts';
import type { Limits } from '../runtime/Component.ts';
import { encodeJob, newJobId, taskProblem, type Job, type LifecycleTask } from '../jobs/Job.ts';
import { JobRunner, type JobCounts, type JobModule, type JobRecord } from '../jobs/JobRunner.ts';
import { ModuleJobs } from '../jobs/ModuleJobs.ts';
import { RateLimiter } from '../jobs/RateLimiter.ts';
import { deadJobs, pendingJobs, retryDead } from '../jobs/deadLetters.ts';
import { checkCapabilities, MODULE_INTERFACES, parseManifest, type InterfaceName, type ModuleManifest, type ResolvedManifest } from './ModuleManifest.ts';
import type { Recorder } from '../replay/Recorder.ts';

export type { GuestEvent as ModuleEvent } from '../bus/guestEvents.ts';

/** One invocation of a module's handler that ran: what `engine.invocations$` tells. */
export interface InvocationRecord {
  module: string;
  /** `ok`; `rejected` when `on-event` returned `err` (its writes were dropped); or the signal that ended it. */
  outcome: 'ok' | 'rejected' | SignalName;
  durationMs: number;
  fuelUsed: number;
  /** When the guest started (epoch ms, sub-millisecond), when it did. */
  startedAt?: number;
}

/** Where a module stands on a chain: what metrics and readiness report. */
export interface ChainPosition {
  module: string;
  chainId: string;
  /** The chain's head as the engine follows it. */
  head: bigint | undefined;
  /** The module's cursor: the last block it fully handled. */
  block: bigint | undefined;
  /** It has reached the head (less its confirmations) at least once since the engine started. */
  caughtUp: boolean;
  /** Steps committed, and the events they carried, since the engine started. */
  steps: number;
  events: number;
  /** Keys of the module's that undone blocks had written and that kept a later write of another source. */
  keptOnUndo: number;
}

/** One committed chain step of one module: what `engine.steps$` tells, for metrics and latency. */
export interface ChainStep {
  module: string;
  chainId: string;
  /** The block the module's cursor moved to (a range's last block when catching up). */
  number: bigint;
  hash: string;
  /** Events the guest handled in this step (0: only the cursor moved). */
  events: number;
  /** When the block reached the engine, for a live step (epoch ms, sub-millisecond). */
  seenAt?: number;
  /** When the guest's handler started in its worker (absent when there were no events). */
  startedAt?: number;
  /** When the step's commit completed. */
  committedAt: number;
}

export interface EngineOptions {
  runtime: Runtime;
  /** Directory of the LevelDB database holding every module's state, cursors and journal. */
  stateDir: string;
  modules: ModuleManifest[];
  /** Chains by id (each endpoint is checked against `eth_chainId` at start). */
  chains?: Record<string, ChainConfig>;
  logger?: Logger;
  clock?: Clock;
  shutdownTimeoutMs?: number;
  /** Limits of every job, and of the jobs of modules granted `highResourceJobs`. Defaults: src/limits/defaults.ts. */
  jobLimits?: { standard: Limits; highResource: Limits };
  /** Dead letters each module keeps: the newest `maxCount`, none older than `maxAgeMs` (default `DEFAULT_DEAD_LETTERS`). */
  deadLetters?: DeadLetterRetention;
  /**
   * Records every invocation of every module (events and jobs: arguments, host calls with their
   * answers, outcome) for `corral replay`; `record.write(path)` saves it. Modules then run every
   * invocation on a fresh instance (see `LoadOptions.record`).
   */
  record?: Recorder;
}

/** A module's queue as the engine reports it. */
export interface JobStats extends JobCounts {
  /** Tasks waiting to run (due or not, retries included). */
  pending: number;
  running: number;
}

/**
 * corral's engine: modules of corral's WIT world (`wit/module.wit`) as supervised actors, fed by the
 * bus (chain blocks and logs from each module's cursor, and embedder events), each with its own
 * state. This file only wires: the store (src/store), the bus (src/bus, src/chain), the supervisor
 * (src/supervisor) and the invocation step (./invocation.ts) that binds host imports and commits.
 *
 * @example
 * const engine = await Engine.start({ runtime, stateDir: './state', chains: { 1: { rpcUrl: 'wss://…' } },
 *   modules: [{ name: 'watch', component: 'watch.wasm', grants: { store: true },
 *     triggers: [{ kind: 'log', chain: 1, address: '0x…', topics: ['0x…'] }] }] });
 * await engine.publish('tick', '{}');
 */
export class Engine {
  readonly supervisor: Supervisor<Envelope>;
  readonly bus: Bus;
  private readonly steps = new Subject<ChainStep>();
  private readonly timers: TimerScheduler;
  private readonly cron: CronScheduler;
  private readonly invocations = new Subject<InvocationRecord>();
  /** Every invocation that ran (a chain step of several events is one), as it ends. */
  readonly invocations$: Observable<InvocationRecord> = this.invocations.asObservable();
  private readonly components = new Map<string, Component>();
  /** Names being loaded right now (taken before the load's first await). */
  private readonly arriving = new Set<string>();
  /** Every committed chain step, as it commits. */
  readonly steps$: Observable<ChainStep> = this.steps.asObservable();
  private readonly modules = new Map<string, InvocationModule>();
  private readonly customRoutes = new Map<string, string[]>();
  private readonly feeds = new Map<string, ModuleFeed>();
  private readonly jobRunner: JobRunner;
  /** Each module's job side: its task index and the component its jobs run on. */
  private readonly jobModules = new Map<string, JobModule & { component: Component }>();
  /** Every run of a task (and every task skipped), as it ends. */
  readonly jobs$: Observable<JobRecord>;
  private jobLimits: { standard: Limits; highResource: Limits } = { standard: { ...DEFAULT_JOB_LIMITS }, highResource: { ...HIGH_RESOURCE_JOB_LIMITS } };
  private record: Recorder | undefined;
  private shutdownTimeoutMs: number = DEFAULT_SUPERVISION.shutdownTimeoutMs;
  private sequence = 0;
  private stopping: Promise<void> | null = null;

  private constructor(
    private readonly runtime: Runtime,
    private readonly store: EngineStore,
    private readonly logger: Logger,
    private readonly clock: Clock,
    supervisor: Supervisor<Envelope>,
    bus: Bus,
    /** Each chain's CoW Protocol order book base URL, for the `cow-api` host. */
    private readonly orderbooks: ReadonlyMap<bigint, string>,
  ) {
    this.supervisor = supervisor;
    this.bus = bus;
    this.timers = new TimerScheduler(clock, (module, timer) => this.deliverTimer(module, timer), logger);
    this.cron = new CronScheduler(clock, (module, name, tick) => this.deliverTick(module, name, tick), logger);
    this.jobRunner = new JobRunner(clock, logger);
    this.jobs$ = this.jobRunner.jobs$;
  }

  static async start(options: EngineOptions): Promise<Engine> {
    const logger = options.logger ?? pino({ name: 'corral' });
    const store = await LevelStore.open(options.stateDir, (error) => logger.error({ err: error }, 'could not save a circuit breaker'));
    let engine: Engine | undefined;
    const supervisor = new Supervisor<Envelope>({
      logger,
      onInvocation: (module, outcome) => {
        if (!engine?.invocations.observed) return;
        const fuelUsed = outcome.ok ? outcome.fuelUsed : 'fuelUsed' in outcome.signal && typeof outcome.signal.fuelUsed === 'number' ? outcome.signal.fuelUsed : 0;
        // A chain step returns one result per event; any `err` among them rejected the step.
        const rejected = outcome.ok && [outcome.value].flat().some((v) => (v as { tag?: string } | undefined)?.tag === 'err');
        const { startedAt } = outcome;
        engine.invocations.next({ module, outcome: outcome.ok ? (rejected ? 'rejected' : 'ok') : outcome.signal.name, durationMs: outcome.durationMs, fuelUsed, ...(startedAt === undefined ? {} : { startedAt }) });
      },
      breakerStore: store.breakers,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.shutdownTimeoutMs ? { shutdownTimeoutMs: options.shutdownTimeoutMs } : {}),
    });
    // Every signal is a log record: an operator must see why a module keeps failing (was: only counts).
    supervisor.signals$.subscribe((s) => logSignal(logger, s));
    const bus = new Bus(options.chains ?? {}, logger);
    const orderbooks = new Map(Object.entries(options.chains ?? {}).flatMap(([id, chain]) => (chain.orderbookUrl ? [[BigInt(id), chain.orderbookUrl] as const] : [])));
    engine = new Engine(options.runtime, store, logger, options.clock ?? systemClock, supervisor, bus, orderbooks);
    if (options.jobLimits) engine.jobLimits = options.jobLimits;
    if (options.deadLetters) engine.jobRunner.retention = options.deadLetters;
    engine.record = options.record;
    if (options.shutdownTimeoutMs) engine.shutdownTimeoutMs = options.shutdownTimeoutMs;
    try {
      const manifests = options.modules.map((raw, index) => parseManifest(raw, `modules[${index}]`));
      const specs: ActorSpec<Envelope>[] = [];
      for (const manifest of manifests) specs.push(await engine.loadModule(options.runtime, manifest));
      await bus.start();
      supervisor.start(specs);
      engine.sequence = await engine.lastCustomSequence();
      for (const manifest of manifests) engine.startFeeds(manifest);
      for (const manifest of manifests) await engine.startTimers(manifest);
      await engine.skipJobsOfAbsentModules();
      for (const manifest of manifests) await engine.startJobs(manifest.name);
    } catch (error) {
      engine.timers.stop();
      engine.cron.stop();
      await engine.jobRunner.stop();
      await bus.stop();
      await supervisor.stop();
      await store.close();
      throw error;
    }
    return engine;
  }

  /**
   * Adds a module while the engine runs: it starts from its cursor (kept from an earlier run under the
   * same name) or its `startBlock`, and the other modules are not touched.
   */
  async load(raw: ModuleManifest): Promise<void> {
    if (this.stopping) throw new EngineError('stopped', 'the engine is stopping', {});
    const manifest = parseManifest(raw, `module ${(raw as { name?: unknown }).name ?? ''}`);
    // The name is taken before the first await: two loads of one name cannot both pass.
    if (this.modules.has(manifest.name) || this.arriving.has(manifest.name)) throw new EngineError('duplicate-module', `a module named ${manifest.name} already runs`, { module: manifest.name });
    this.arriving.add(manifest.name);
    try {
      const spec = await this.loadModule(this.runtime, manifest);
      try {
        if (this.stopping) throw new EngineError('stopped', 'the engine stopped while the module loaded', { module: manifest.name });
        this.supervisor.start([spec]);
      } catch (error) {
        this.forget(manifest.name);
        this.jobModules.get(manifest.name)?.component.close();
        this.jobModules.delete(manifest.name);
        throw error;
      }
      this.startFeeds(manifest);
      await this.startTimers(manifest);
      await this.startJobs(manifest.name);
    } finally {
      this.arriving.delete(manifest.name);
    }
    this.logger.info({ module: manifest.name }, 'module loaded');
  }

  /**
   * Removes a module while the engine runs: its feeds stop, its queued events finish (within the
   * shutdown timeout), its state and cursors stay in the store for a later `load`. The other modules
   * are not touched.
   */
  async unload(name: string, options: { uninstall?: boolean } = {}): Promise<void> {
    this.lookup(name); // an unknown name is an EngineError
    // Gone from routing at once (a second unload of the name fails here); then its feeds and actor drain.
    const jobs = this.jobModules.get(name);
    const component = this.forget(name);
    const feeds = [...this.feeds].filter(([key]) => key.startsWith(`${name}@`));
    for (const [key] of feeds) this.feeds.delete(key);
    const feedsDone = Promise.all(feeds.map(([, feed]) => feed.stop()));
    // Its jobs first: the runner lets go of it (no task starts, running ones end) before its actor goes,
    // so no task is taken for a module that has stopped. Tasks its last events enqueue stay pending.
    await this.jobRunner.remove(name);
    await this.supervisor.remove(name);
    await feedsDone;
    for (const [, feed] of feeds) this.bus.unfeed(feed);
    if (jobs) {
      await this.runLifecycle(jobs, 'module-deactivated');
      if (options.uninstall) await this.runLifecycle(jobs, 'module-uninstalled');
      jobs.component.close();
    }
    this.jobModules.delete(name);
    component?.close(); // its instances and compiled code go too: a reload compiles (or reads the cache) again
    this.logger.info({ module: name, ...(options.uninstall ? { uninstalled: true } : {}) }, options.uninstall ? 'module uninstalled' : 'module unloaded');
  }

  /** A module's queue: tasks pending and running, and what became of those that ran since the engine started. */
  jobStats(module: string): JobStats {
    this.lookup(module);
    const counts = this.jobRunner.counters(module) ?? { done: 0, retried: 0, dead: 0, skipped: {}, conflicts: 0, rateLimited: 0, deadLetters: 0 };
    return { ...counts, skipped: { ...counts.skipped }, pending: this.jobModules.get(module)?.jobs.size ?? 0, running: this.jobRunner.running(module) };
  }

  /**
   * Hands a module tasks from the embedding application, committed in one batch: its `run-job` runs
   * each as if the module had enqueued it (`enqueuedBy: { engine: 'embedder' }`). The module's rate
   * limit does not apply; its retry default and ceiling do. Resolves with the tasks' ids.
   */
  async enqueue(module: string, taskType: string, payloads: readonly string[], options: { delayMs?: number; maxRetry?: number } = {}): Promise<string[]> {
    const { manifest } = this.lookup(module);
    const jobs = this.jobModules.get(module);
    if (!jobs) throw new EngineError('invalid-option', `module ${module} does not export run-job`, { module });
    for (const payload of payloads) {
      const problem = taskProblem(taskType, payload);
      if (problem) throw new EngineError('invalid-option', `a task for ${module}: ${problem}`, { module, taskType });
    }
    const delay = options.delayMs ?? 0;
    if (!Number.isSafeInteger(delay) || delay < 0) throw new EngineError('invalid-option', `delayMs ${delay} is not a duration`, { module, option: 'delayMs' });
    const now = this.clock.now();
    const tasks: Job[] = payloads.map((payload) => ({ id: newJobId(now), module, type: `module:${module}:${taskType}`, version: jobs.version, payload, enqueuedBy: { engine: 'embedder' }, enqueuedAt: now, runAt: now + delay, attempts: 0, maxRetry: Math.min(options.maxRetry ?? manifest.jobs.retry, manifest.jobs.maxRetry) }));
    await jobs.store.commitWith((tx) => {
      for (const job of tasks) tx.set(jobKey(job.id), encodeJob(job));
      return true;
    });
    return tasks.map((job) => job.id);
  }

  /** `jobStats` of every module that runs jobs (exports `run-job`). */
  allJobStats(): Record<string, JobStats> {
    return Object.fromEntries([...this.jobModules.keys()].filter((name) => this.modules.has(name)).map((name) => [name, this.jobStats(name)]));
  }

  /** A module's pending tasks, by id. */
  pendingJobs(module: string): Promise<Job[]> {
    return pendingJobs(this.lookup(module).store);
  }

  /** A module's dead-lettered tasks (each with its last error), by id. */
  deadJobs(module: string): Promise<Job[]> {
    return deadJobs(this.lookup(module).store);
  }

  /** Retries a dead-lettered task by hand: pending again, due now, its attempts reset. */
  retryJob(module: string, id: string): Promise<Job> {
    return retryDead(this.lookup(module).store, id, this.clock.now()).then((job) => (this.jobRunner.deadLetterRetried(module), job));
  }

  /** Resolves once no task of `module` (of any module, when absent) is running or due: how a test waits for jobs without polling. */
  jobsSettled(module?: string): Promise<void> {
    return this.jobRunner.idle(module);
  }

  /** Drops a module from the engine's own tables (routes, components, modules); returns its component. */
  private forget(name: string): Component | undefined {
    for (const [topic, modules] of this.customRoutes) {
      const rest = modules.filter((m) => m !== name);
      if (rest.length > 0) this.customRoutes.set(topic, rest);
      else this.customRoutes.delete(topic);
    }
    const component = this.components.get(name);
    this.components.delete(name);
    this.modules.delete(name);
    this.timers.remove(name);
    this.cron.remove(name);
    return component;
  }

  /** Publishes an embedder event to every module with a `custom` trigger on `topic`; resolves once all have queued it. */
  async publish(topic: string, payload: string): Promise<void> {
    this.bus.custom$.next({ topic, payload });
    const cursor = { seq: ++this.sequence };
    const event: GuestEvent = { tag: 'custom', val: { topic, payload } };
    await Promise.all((this.customRoutes.get(topic) ?? []).map((module) => this.supervisor.send(module, { kind: 'custom', payload: { kind: 'custom', event, cursor } })));
  }

  /** Delivers one custom event to one module and resolves with its outcome (after the commit, if any). */
  deliver(module: string, event: GuestEvent, cursor: unknown): Promise<DeliveryOutcome> {
    this.lookup(module);
    return this.supervisor.request(module, { kind: 'custom', payload: { kind: 'custom', event, cursor } });
  }

  /** RPC calls, response bytes and failures by chain, purpose and method, and by module. */
  rpcStats(): RpcStats {
    return this.bus.rpcStats();
  }

  /** The cursor committed with the module's last event from `source` (`custom` or `chain:<id>`). */
  cursor(module: string, source = 'custom'): Promise<unknown> {
    return this.lookup(module).store.cursor(source);
  }

  /**
   * Resolves once `module` has handled chain `chainId` up to block `number` (its cursor committed
   * there): how a test or an embedder waits for delivery without polling.
   */
  reached(module: string, chainId: bigint | number, number: bigint | number, hash?: string): Promise<void> {
    const feed = this.feeds.get(`${module}@${chainId}`);
    if (!feed) throw new EngineError('unknown-module', `module ${module} has no trigger on chain ${chainId}`, { module, chainId: String(chainId) });
    return feed.reached(BigInt(number), hash);
  }

  /** A module's committed state, for inspection (not its in-flight overlay). */
  read(module: string, key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.lookup(module).store.get(key);
  }

  /**
   * Each module's instance pool counters (checkouts, waits, instances, recycles by reason): its events'
   * pool under its name, its jobs' pool (modules with `run-job`) under `<name>/jobs` (no module name has a `/`).
   */
  poolStats(): Record<string, PoolStats> {
    return Object.fromEntries([
      ...[...this.components].map(([name, component]) => [name, component.stats()] as const),
      ...[...this.jobModules].map(([name, jobs]) => [`${name}/jobs`, jobs.component.stats()] as const),
    ]);
  }

  /** Each module's stored bytes (keys + values, as its storage cap counts them). */
  storedBytes(): Record<string, number> {
    return Object.fromEntries([...this.modules].map(([name, module]) => [name, module.store.storedBytes]));
  }

  /** Where every module stands on every chain it follows. */
  chainPositions(): ChainPosition[] {
    return [...this.feeds].map(([key, feed]) => {
      const [module, chainId] = key.split('@') as [string, string];
      return { module, chainId, head: this.bus.head(BigInt(chainId)), block: feed.position?.number, caughtUp: feed.caughtUp, ...feed.handled };
    });
  }

  /** Every committed key of a module with its value, in byte order (for inspection and tests). */
  async entries(module: string): Promise<[Uint8Array, Uint8Array][]> {
    const store = this.lookup(module).store;
    const out: [Uint8Array, Uint8Array][] = [];
    for await (const key of store.keys({ limit: -1 })) out.push([Uint8Array.from(key), (await store.get(key))!]);
    return out;
  }

  /** Stops intake (heads, feeds), lets the actors drain within the shutdown timeout, then closes the database. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.timers.stop();
      this.cron.stop();
      const feedsDone = this.bus.stop();
      await Promise.all([this.supervisor.stop(), this.jobRunner.stop()]);
      await feedsDone;
      // Each module's deactivation task runs last, after its events and jobs (no retry: one that fails is dead-lettered).
      await Promise.all([...this.jobModules.values()].map((jobs) => this.runLifecycle(jobs, 'module-deactivated')));
      this.jobRunner.close();
      this.steps.complete();
      this.invocations.complete();
      await this.store.close();
    })();
    return this.stopping;
  }

  private lookup(module: string): InvocationModule {
    const loaded = this.modules.get(module);
    if (!loaded) throw new EngineError('unknown-module', `no module named ${module}`, { module });
    return loaded;
  }

  private async loadModule(runtime: Runtime, manifest: ResolvedManifest): Promise<ActorSpec<Envelope>> {
    if (this.modules.has(manifest.name)) throw new EngineError('duplicate-module', `two modules are named ${manifest.name}`, { module: manifest.name });
    const interests = chainInterests(manifest.triggers, (id) => this.bus.confirmations(BigInt(id)));
    if (typeof interests === 'string') throw new EngineError('invalid-trigger', `module ${manifest.name}: ${interests}`, { module: manifest.name });
    for (const { chainId } of interests) {
      if (!this.bus.hasChain(chainId)) throw new EngineError('invalid-trigger', `module ${manifest.name} has a trigger on chain ${chainId}, which is not configured`, { module: manifest.name, chainId: String(chainId) });
    }
    // The pin is checked on the bytes the runtime reads and prepares (one read each), never on a read
    // of its own; the load is pinned to the bytes whose capabilities were checked.
    const meta = await runtime.inspect(manifest.component, manifest.name, manifest.sha256);
    const digest = meta.sha256;
    checkCapabilities(manifest, meta.imports, meta.exports.map(([n]) => n));
    const caps = { ...DEFAULT_HOST_CAPS, ...manifest.caps };
    // A WASI module's stdout and stderr become its log records: together kept up to its logBytes per
    // invocation (apart from what it logs through corral:module/logging).
    const wasi = { outputBytes: caps.logBytes };
    const record = this.record ? { record: this.record } : {};
    const component = await runtime.load(manifest.component, {
      name: manifest.name,
      imports: outsideInvocation(meta.imports),
      limits: manifest.limits,
      initializer: { export: 'configure', args: [manifest.config] },
      wasi,
      sha256: digest,
      ...record,
    });
    this.components.set(manifest.name, component);
    const specifiers: InvocationModule['specifiers'] = {};
    for (const specifier of Object.keys(meta.imports)) {
      const bare = specifier.replace(/@[^/]*$/, '');
      const name = (Object.keys(MODULE_INTERFACES) as InterfaceName[]).find((n) => MODULE_INTERFACES[n] === bare);
      if (name) specifiers[name] = specifier;
    }
    const name = manifest.name;
    const taskIndex: { jobs?: ModuleJobs } = {};
    // Marks the keys of blocks in the reorg window that other sources write again: an undo keeps those.
    const marks = await ReorgMarks.open(await this.store.module(name), RESERVED_PREFIX, interests.map((i) => i.chainId));
    const store = new GuardedModuleStore(marks, (writes) => {
      this.timers.committed(name, writes);
      if (taskIndex.jobs?.apply(writes)) this.jobRunner.committed(name);
    });
    const module: InvocationModule = {
      manifest,
      specifiers,
      store,
      caps,
      logger: this.logger.child({ module: name }),
      version: digest,
      now: () => this.clock.now(),
      rate: new RateLimiter(manifest.jobs.ratePerMinute, this.clock),
      rateLimited: () => this.jobRunner.rateLimited(name),
      writtenSince: (chainId, number, key) => marks.writtenSince(chainId, number, key),
    };
    // Its timers and tasks are followed before its actor and feeds start: no commit can be missed.
    this.timers.track(name, await ModuleTimers.load(module.store));
    if (meta.exports.some(([n]) => n === 'runJob')) {
      taskIndex.jobs = await ModuleJobs.load(module.store);
      const limits = manifest.grants.highResourceJobs ? this.jobLimits.highResource : this.jobLimits.standard;
      const jobComponent = await runtime.load(manifest.component, { name: `${name}-jobs`, imports: outsideInvocation(meta.imports), limits, initializer: { export: 'configure', args: [manifest.config] }, wasi, ...record });
      const clients = this.bus.clients;
      this.jobModules.set(name, {
        name,
        store,
        jobs: taskIndex.jobs,
        concurrency: manifest.jobs.concurrency,
        version: digest,
        component: jobComponent,
        status: () => {
          const state = this.supervisor.stateOf(name);
          return state === undefined || state === 'stopped' ? 'stopped' : state === 'quarantined' ? 'quarantined' : 'serving';
        },
        whenServing: () => this.supervisor.whenServing(name),
        execute: (job, transaction) => runJob(module, job, transaction, (args, options) => jobComponent.invoke('run-job', args, options), clients, this.orderbooks),
      });
    }
    this.modules.set(manifest.name, module);
    const topics = [...manifest.topics, ...manifest.triggers.flatMap((t) => (t.kind === 'custom' ? [t.topic] : []))];
    for (const topic of new Set(topics)) this.customRoutes.set(topic, [...(this.customRoutes.get(topic) ?? []), manifest.name]);
    const clients = this.bus.clients;
    return {
      name: manifest.name,
      component,
      ...(manifest.restart ? { restart: manifest.restart } : {}),
      ...supervisionOf(manifest.supervision),
      handler: {
        export: 'on-event',
        args: (e) => (e.payload.kind === 'chain' ? e.payload.delivery.events.map((event) => [event]) : [e.payload.event]),
        extras: (e) => bindInvocation(module, e.payload, clients, this.orderbooks),
      },
    };
  }

  /** Once the module serves: its `module-activated` task is queued, and its pending tasks start. */
  private async startJobs(name: string): Promise<void> {
    const jobs = this.jobModules.get(name);
    if (!jobs) return;
    await this.enqueueLifecycle(jobs, 'module-activated');
    this.jobRunner.add(jobs);
  }

  /** Queues a lifecycle task of the module (a durable task like any other, due now). */
  private async enqueueLifecycle(jobs: JobModule, task: LifecycleTask): Promise<Job> {
    const now = this.clock.now();
    const job: Job = { id: newJobId(now), module: jobs.name, type: `module:${jobs.name}:${task}`, version: jobs.version, payload: '', enqueuedBy: { engine: task }, enqueuedAt: now, runAt: now, attempts: 0, maxRetry: 0 };
    await jobs.store.commitWith((tx) => (tx.set(jobKey(job.id), encodeJob(job)), true));
    return job;
  }

  /**
   * Queues a lifecycle task and runs it now, outside the runner (which has let go of the module). It
   * gets the shutdown timeout: a run still going then is ended (its job instances' worker terminated),
   * and, as a task without retries, dead-lettered.
   */
  private async runLifecycle(jobs: JobModule & { component: Component }, task: LifecycleTask): Promise<void> {
    try {
      const job = await this.enqueueLifecycle(jobs, task);
      const run = this.jobRunner.runOnce(jobs, job);
      let timer: unknown;
      const expired = new Promise<'expired'>((resolve) => (timer = this.clock.setTimeout(() => resolve('expired'), this.shutdownTimeoutMs)));
      const how = await Promise.race([run.then(() => 'ran' as const), expired]);
      this.clock.clearTimeout(timer);
      if (how === 'expired') {
        this.logger.warn({ module: jobs.name, task, timeoutMs: this.shutdownTimeoutMs }, 'a lifecycle task ran past the shutdown timeout: ended');
        jobs.component.kill();
        await run;
      }
    } catch (error) {
      this.logger.error({ module: jobs.name, task, err: error }, 'a lifecycle task could not run');
    }
  }

  /**
   * Tasks of modules that have state here but are not loaded at start are skipped (`module-gone`), as a
   * job whose module went away would be: they would otherwise wait forever for a module that may
   * never come back, or run on another version of it.
   */
  private async skipJobsOfAbsentModules(): Promise<void> {
    for (const name of await this.store.moduleNames()) {
      if (this.modules.has(name)) continue;
      const store = await this.store.module(name);
      for (const job of await pendingJobs(store)) await this.jobRunner.skipAbsent(store, job);
    }
  }

  /** Once the module serves: timers that fell due while it was away, and its latest missed cron tick, fire now. */
  private async startTimers(manifest: ResolvedManifest): Promise<void> {
    const module = this.modules.get(manifest.name);
    if (!module) return;
    const handled = new Map<bigint, bigint>();
    for (const chain of triggerChains(manifest.triggers)) {
      const cursor = (await module.store.cursor(`chain:${chain}`)) as { number?: string } | undefined;
      if (cursor?.number !== undefined) handled.set(chain, BigInt(cursor.number));
    }
    this.timers.activate(manifest.name, handled);
    const crons = manifest.triggers.filter((t): t is CronTrigger => t.kind === 'cron');
    const lastTicks = new Map<string, number>();
    for (const trigger of crons) {
      const stored = await module.store.get(cronKey(cronName(trigger)));
      if (stored) lastTicks.set(cronName(trigger), Number(Buffer.from(stored).toString('utf8')));
    }
    this.cron.add(manifest.name, crons, lastTicks);
  }

  /** A `schedule` event for one tick of a module's cron trigger. */
  private async deliverTick(module: string, name: string, tick: number): Promise<void> {
    if (!this.modules.has(module) || this.stopping) return;
    await this.supervisor.request(module, { kind: 'schedule', payload: { kind: 'schedule', event: { tag: 'schedule', val: { name, scheduledAt: BigInt(tick) } }, cron: { name, tick } } });
  }

  /** A `timer(tag)` event for the module; resolves once it was handled (or refused). */
  private async deliverTimer(module: string, timer: Timer): Promise<void> {
    if (!this.modules.has(module) || this.stopping) return;
    await this.supervisor.request(module, { kind: 'timer', payload: { kind: 'timer', event: { tag: 'timer', val: timer.tag }, timer } });
  }

  /** One feed per chain the module's triggers watch, each from the module's cursor on that chain. */
  private startFeeds(manifest: ResolvedManifest): void {
    const interests = chainInterests(manifest.triggers, (id) => this.bus.confirmations(BigInt(id))) as Exclude<ReturnType<typeof chainInterests>, string>;
    const module = this.modules.get(manifest.name)!;
    for (const interest of interests) {
      const start = typeof manifest.startBlock === 'number' ? manifest.startBlock : manifest.startBlock?.[String(interest.chainId)];
      const target: FeedTarget = {
        module: manifest.name,
        store: module.store,
        deliver: (delivery) => this.deliverChain(manifest.name, interest.chainId, delivery),
        whenServing: () => this.supervisor.whenServing(manifest.name),
        reorgBeyondWindow: (cursor, windowBlocks) =>
          this.supervisor.halt(manifest.name, {
            type: 'ReorgBeyondWindow',
            actor: manifest.name,
            at: this.clock.now(),
            chainId: String(interest.chainId),
            cursor: { number: String(cursor.number), hash: cursor.hash },
            windowBlocks,
          }),
        writtenSince: (block, key) => module.writtenSince(interest.chainId, block, key),
        reservedKey: isReserved,
      };
      this.feeds.set(`${manifest.name}@${interest.chainId}`, this.bus.feed(target, interest, start === undefined ? undefined : BigInt(start)));
    }
  }

  /**
   * One chain step through the module's mailbox. Events the module answered with `err` are taken out
   * and the step runs again without them; a signal means the actor restarts (after its backoff) and
   * the same step is tried again; an open circuit waits for the actor to serve again.
   */
  private async deliverChain(module: string, chainId: bigint, delivery: FeedDelivery): Promise<FeedResult> {
    let current = delivery;
    for (;;) {
      const outcome = await this.supervisor.request(module, { kind: 'chain', payload: { kind: 'chain', chainId, delivery: current } });
      if (outcome.ok) {
        this.timers.blockHandled(module, chainId, current.cursor.number);
        // Per step: build the record only when someone reads it.
        if (this.logger.isLevelEnabled('debug')) {
          // A new module's first step only places its origin, the block before its first (-1 for block 0).
          const { origin, number } = current.cursor;
          if (origin) this.logger.debug({ module, chainId: String(chainId), firstBlock: String(number + 1n) }, 'chain feed starts');
          else this.logger.debug({ module, chainId: String(chainId), block: String(number), events: current.events.length }, 'chain step committed');
        }
        if (this.steps.observed) {
          const { number, hash } = current.cursor;
          const startedAt = 'startedAt' in outcome ? outcome.startedAt : undefined;
          this.steps.next({ module, chainId: String(chainId), number, hash, events: current.events.length, committedAt: performance.timeOrigin + performance.now(), ...(current.seenAt === undefined ? {} : { seenAt: current.seenAt }), ...(startedAt === undefined ? {} : { startedAt }) });
        }
        return 'done';
      }
      // An undo whose plan a commit made stale while it waited: the feed plans it again (see stageUndo).
      if ('refused' in outcome) return outcome.refused === 'stale' && current.undo ? 'retry' : 'stopped';
      if ('error' in outcome && outcome.error instanceof RejectedEvents) {
        current = withoutEvents(current, outcome.error.indices);
        continue;
      }
      if ('error' in outcome) {
        this.logger.error({ module, chainId: String(chainId), err: outcome.error }, 'a chain step could not complete; retrying');
        return 'failed';
      }
      return 'retry';
    }
  }

  /** The highest custom-event sequence any module committed: a restarted engine continues above it. */
  private async lastCustomSequence(): Promise<number> {
    let last = 0;
    for (const module of this.modules.values()) {
      const cursor = (await module.store.cursor('custom')) as { seq?: unknown } | undefined;
      if (typeof cursor?.seq === 'number' && cursor.seq > last) last = cursor.seq;
    }
    return last;
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

/** A manifest's `supervision` as the supervisor's actor spec takes it. */
function supervisionOf(s: ResolvedManifest['supervision']): Pick<ActorSpec<Envelope>, 'intensity' | 'periodMs' | 'backoff' | 'breaker' | 'mailboxCapacity'> {
  return {
    intensity: s.intensity,
    periodMs: s.periodMs,
    backoff: { initialMs: s.backoffInitialMs, maxMs: s.backoffMaxMs, factor: s.backoffFactor, jitter: s.backoffJitter },
    breaker: { cooldownMs: s.breakerCooldownMs, factor: s.breakerFactor, maxCooldownMs: s.breakerMaxCooldownMs },
    mailboxCapacity: s.mailboxCapacity,
  };
}

/** One log record per supervisor signal: failures and quarantines as warnings, recoveries as info. */
function logSignal(logger: Logger, s: SupervisorSignal): void {
  const { type, actor, at: _at, ...rest } = s as SupervisorSignal & Record<string, unknown>;
  if ('signal' in s) {
    const data = s.signal.toData() as unknown as Record<string, unknown>;
    const { component: _c, exportName: _e, signal: _s, ...fields } = data;
    logger.warn({ module: actor, signal: type, ...fields }, `${actor}: ${s.signal.message}`);
    return;
  }
  const level = type === 'Quarantined' || type === 'ReachedMaxRestartIntensity' || type === 'ReorgBeyondWindow' ? 'warn' : 'info';
  logger[level]({ module: actor, supervisor: type, ...rest }, `${actor}: ${type}`);
}
