import type { Logger } from 'pino';
import type { DeliveryExtras, DeliveryOutcome } from '../actor/Actor.ts';
import { withoutEvents, type FeedDelivery, type FeedResult, type ModuleFeed } from '../bus/ModuleFeed.ts';
import { chainInterests, type ChainInterest, type CronTrigger } from '../bus/triggers.ts';
import type { GuestEvent } from '../bus/guestEvents.ts';
import type { BlockCursor } from '../chain/types.ts';
import { EngineError } from '../errors/EngineError.ts';
import { bindHost, type HostBinding } from '../host/bindHost.ts';
import type { InvocationScope } from '../host/InvocationScope.ts';
import type { Job } from '../jobs/Job.ts';
import type { JobAttempt, JobModule } from '../jobs/JobModule.ts';
import type { Timer } from '../jobs/timerWrites.ts';
import { DEFAULT_DEAD_LETTERS } from '../limits/defaults.ts';
import { DEFAULT_HOST_CAPS, type HostCaps } from '../limits/hostCaps.ts';
import type { Component } from '../runtime/Component.ts';
import type { HostImports } from '../runtime/HostImports.ts';
import type { PoolStats } from '../runtime/InstancePool.ts';
import type { Bytes } from '../store/EngineStore.ts';
import { GuardedModuleStore } from '../store/GuardedModuleStore.ts';
import type { UndoPlan } from '../store/planUndo.ts';
import { ReorgMarks } from '../store/ReorgMarks.ts';
import { chainSource, CUSTOM_SOURCE } from '../store/reservedKeys.ts';
import type { OwnedStore } from '../store/OwnedStore.ts';
import type { StateTransaction } from '../store/StateTransaction.ts';
import type { ActorSpec } from '../supervisor/Supervisor.ts';
import type { Tracing } from '../tracing/Tracing.ts';
import { ChainTarget, type ChainSide } from './ChainTarget.ts';
import { CustomFeed, customTopics } from './CustomFeed.ts';
import { bindInvocation, RejectedEvents, runJob, type Envelope, type InvocationModule } from './invocation.ts';
import { hostBinding, outsideInvocation } from './hostBinding.ts';
import { checkCapabilities } from './ModuleManifest.ts';
import type { ResolvedManifest } from '../config/ModuleManifestSchema.ts';
import type { EngineParts } from './EngineParts.ts';
import type { ChainPosition } from './records.ts';
import { ModuleQuery, type QueryResult } from './ModuleQuery.ts';
import { ModuleShadow } from './ModuleShadow.ts';
import type { ShadowReport } from './ShadowReport.ts';
import { deadMessagesKept } from './messageDeadLetters.ts';
import { MessageFeed, viewEntries, type MessageDelivery } from './MessageFeed.ts';
import { OutboxTrim } from './OutboxTrim.ts';
import { messageSenders } from './messageGrants.ts';

/**
 * One loaded module: its components (events, and jobs when it exports `run-job`), its guarded store,
 * its host binding and its chain feeds. It is the mailbox handler's invocation module, the jobs'
 * `JobModule` and, per chain, the feeds' delivery target: what the engine used to hand down as closures
 * are its named methods.
 */
export class ModuleRuntime implements InvocationModule, JobModule, ChainSide {
  readonly name: string;
  readonly logger: Logger;
  readonly runsJobs: boolean;
  readonly concurrency: number;
  readonly retry: number;
  readonly maxRetry: number;
  readonly cronTriggers: readonly CronTrigger[];
  /** Topics of embedder events it receives (`topics` and `custom` triggers). */
  readonly topics: ReadonlySet<string>;
  private readonly feeds = new Map<bigint, ModuleFeed>();
  /** Its custom events read from a shared store's table (on LevelDB the engine's `publish` hands them over). */
  private custom: CustomFeed | undefined;
  /** The messages it takes from other modules, read from their outboxes (none without a `messages` trigger). */
  private messages: MessageFeed | undefined;
  /** Set when it is unloaded or the engine stops: no timer or tick is delivered any more. */
  private detached = false;
  /** Its `[modules.shadow]` candidate, run beside it on the same events (docs/shadow.md). */
  private shadow: ModuleShadow | undefined;
  /** While a hot swap watches this version (replaceModule.ts): told each event's outcome after its commit step. */
  probe: ((envelope: Envelope, outcome: DeliveryOutcome) => void) | undefined;

  private constructor(
    private readonly parts: EngineParts,
    readonly manifest: ResolvedManifest,
    private readonly component: Component,
    private readonly jobComponent: Component | undefined,
    private readonly marks: ReorgMarks,
    readonly store: GuardedModuleStore,
    private readonly binding: HostBinding,
    readonly caps: HostCaps,
    /** sha256 of the component file: the version its tasks carry. */
    readonly version: string,
    private readonly interests: readonly ChainInterest[],
    /** Its `query` export, when its component has one (built against `queryable-module`). */
    private readonly queries: ModuleQuery | undefined,
  ) {
    this.name = manifest.name;
    this.logger = parts.logger.child({ module: manifest.name });
    this.runsJobs = jobComponent !== undefined;
    ({ concurrency: this.concurrency, retry: this.retry, maxRetry: this.maxRetry } = manifest.jobs);
    this.cronTriggers = manifest.triggers.filter((t): t is CronTrigger => t.kind === 'cron');
    this.topics = customTopics(manifest);
  }

  /**
   * Checks the module's triggers and capabilities, loads its components, opens its state and attaches
   * it to the jobs (its timers and tasks followed from before its actor and feeds start).
   */
  static async load(parts: EngineParts, manifest: ResolvedManifest): Promise<ModuleRuntime> {
    const { runtime, bus } = parts;
    const name = manifest.name;
    const interests = chainInterests(manifest.triggers, (id) => bus.confirmations(BigInt(id)));
    if (typeof interests === 'string') throw new EngineError('invalid-trigger', `module ${name}: ${interests}`, { module: name });
    for (const { chainId } of interests) {
      if (!bus.hasChain(chainId)) throw new EngineError('invalid-trigger', `module ${name} has a trigger on chain ${chainId}, which is not configured`, { module: name, chainId: String(chainId) });
    }
    // The pin is checked on the bytes the runtime reads and prepares (one read each), never on a read
    // of its own; the load is pinned to the bytes whose capabilities were checked.
    const meta = await runtime.inspect(manifest.component, name, manifest.sha256);
    const version = meta.sha256;
    checkCapabilities(manifest, meta.imports, meta.exports.map(([n]) => n));
    const caps = { ...DEFAULT_HOST_CAPS, ...manifest.caps };
    // A WASI module's stdout and stderr become its log records: together kept up to its logBytes per
    // invocation (apart from what it logs through corral:module/logging).
    const unrecorded = () => ({ imports: outsideInvocation(meta.imports), initializer: { export: 'configure', args: [manifest.config] }, wasi: { outputBytes: caps.logBytes } });
    const common = () => ({ ...unrecorded(), ...(parts.record ? { record: parts.record } : {}) });
    const component = await runtime.load(manifest.component, { name, limits: manifest.limits, sha256: version, ...common() });
    let jobComponent: Component | undefined;
    let shadow: ModuleShadow | undefined;
    try {
      if (meta.exports.some(([n]) => n === 'runJob')) {
        const limits = manifest.grants.highResourceJobs ? parts.jobLimits.highResource : parts.jobLimits.standard;
        jobComponent = await runtime.load(manifest.component, { name: `${name}-jobs`, limits, ...common() });
      }
      // Marks the keys of blocks in the reorg window that other sources write again: an undo keeps those.
      const marks = await ReorgMarks.open(await parts.store.module(name), interests.map((i) => i.chainId));
      const store = new GuardedModuleStore(marks, (writes) => {
        parts.jobs.committed(name, writes);
        parts.messages.committed(name, writes);
      });
      const binding = hostBinding(parts, manifest, meta.imports, version, interests);
      // WIT has no optional exports: a module answers queries when its component exports `query`.
      let queries: ModuleQuery | undefined;
      if (meta.exports.some(([n]) => n === 'query')) {
        const engine = parts.queries.options;
        const asked = manifest.query;
        const limits = { fuel: Math.min(asked.fuel ?? engine.fuel, engine.fuel), timeoutMs: Math.min(asked.timeoutMs ?? engine.timeoutMs, engine.timeoutMs), memoryBytes: Math.min(asked.memoryBytes ?? engine.memoryBytes, engine.memoryBytes) };
        // Not recorded: a query changes nothing a replay of events and jobs would need.
        queries = new ModuleQuery(parts.queries, parts.store, {
          name,
          load: (queryRuntime, queryLimits, pool) => queryRuntime.load(manifest.component, { name: `${name}-query`, limits: queryLimits, pool, sha256: version, ...unrecorded() }),
          specifiers: binding.specifiers,
          caps,
          state: store,
          logger: parts.logger.child({ module: name }),
          limits,
          tracing: parts.tracing,
        });
      }
      shadow = manifest.shadow
        ? await ModuleShadow.load(parts, { ...manifest, shadow: manifest.shadow }, store, caps, (imports, exports) => {
            checkCapabilities(manifest, imports, exports);
            return hostBinding(parts, manifest, imports, version, interests);
          })
        : undefined;
      const module = new ModuleRuntime(parts, manifest, component, jobComponent, marks, store, binding, caps, version, interests, queries);
      module.shadow = shadow;
      await parts.jobs.attach(module);
      return module;
    } catch (error) {
      component.close();
      jobComponent?.close();
      void shadow?.close();
      throw error;
    }
  }

  /** Its actor, as the supervisor starts it: `on-event` with the invocation step bound to this module. */
  actorSpec(): ActorSpec<Envelope> {
    const s = this.manifest.supervision;
    return {
      name: this.name,
      component: this.component,
      ...(this.manifest.restart ? { restart: this.manifest.restart } : {}),
      intensity: s.intensity,
      periodMs: s.periodMs,
      backoff: { initialMs: s.backoffInitialMs, maxMs: s.backoffMaxMs, factor: s.backoffFactor, jitter: s.backoffJitter },
      breaker: { cooldownMs: s.breakerCooldownMs, factor: s.breakerFactor, maxCooldownMs: s.breakerMaxCooldownMs },
      mailboxCapacity: s.mailboxCapacity,
      handler: {
        export: 'on-event',
        args: (e) => (e.payload.kind === 'chain' ? e.payload.delivery.events.map((event) => [event]) : [e.payload.event]),
        extras: (e) => {
          const { shadow } = this;
          if (!shadow) return this.probed(e.payload, bindInvocation(this, e.payload));
          const args = e.payload.kind === 'chain' ? e.payload.delivery.events.map((event) => [event]) : [e.payload.event];
          return this.probed(e.payload, shadow.follow(this, e.payload, args, (module) => bindInvocation(module, e.payload)));
        },
      },
    };
  }

  /** The extras of an event, its outcome told to the probe when one watches (and only then: no wrapper per event otherwise). */
  private probed(envelope: Envelope, extras: DeliveryExtras): DeliveryExtras {
    const { probe } = this;
    const { complete } = extras;
    if (!probe || !complete) return extras;
    return {
      ...extras,
      complete: async (called) => {
        const outcome = await complete(called);
        probe(envelope, outcome);
        return outcome;
      },
    };
  }

  /** One feed per chain its triggers watch, each from its cursor on that chain (or its `startBlock`). */
  startFeeds(): void {
    for (const interest of this.interests) {
      const { startBlock } = this.manifest;
      const start = typeof startBlock === 'number' ? startBlock : startBlock?.[String(interest.chainId)];
      this.feeds.set(interest.chainId, this.parts.bus.feed(new ChainTarget(this, interest.chainId), interest, start === undefined ? undefined : BigInt(start)));
    }
  }

  /**
   * Once its actor runs, before its other feeds: its messages are read from its cursor on each sender
   * (and the senders' inbox bounds count from there).
   */
  async startMessages(): Promise<void> {
    const receivers = this.manifest.grants.messages ?? [];
    if (receivers.length > 0) {
      const hub = this.parts.messages;
      const sources = { handled: (to: string) => hub.committedCursor(to, this.name), trimmed: (to: string, upTo: bigint, count: number) => hub.outboxTrimmed(to, this.name, upTo, count) };
      hub.addSender(new OutboxTrim(this.name, this.store, receivers, this.interests.map((i) => i.chainId), sources, this.logger));
    }
    const senders = messageSenders(this.manifest);
    if (senders.size === 0) return;
    const { store, messages: hub, supervisor } = this.parts;
    const sink = (delivery: MessageDelivery) => supervisor.deliverTo(this.name, { kind: 'message', payload: delivery });
    const keepDead = deadMessagesKept(this.caps.storedBytes, DEFAULT_DEAD_LETTERS.maxCount);
    this.messages = new MessageFeed(this.name, [...senders.keys()], { receiver: this.store, entries: viewEntries(store), whenServing: () => this.whenServing() }, hub, sink, this.logger, undefined, undefined, keepDead);
    hub.attach(this.messages, senders);
    await this.messages.start();
  }

  /** Once its actor runs (a module loaded while the engine runs): its feeds start, then its timers and its jobs. */
  async serve(): Promise<void> {
    await this.startMessages();
    this.startFeeds();
    await this.parts.jobs.startTimers(this.name);
    await this.parts.jobs.startJobs(this.name);
  }

  /**
   * On a store shared by replicas, once it serves: its custom events are read from the table after its
   * committed cursor. Placement's acquire commits one with the module's first epoch (the latest event
   * published then: see OwnedStore.tryAcquire), so a replica taking it over later reads on from there,
   * even if no load of it ever committed anything. A module acquired without one (not through
   * placement) starts at the latest event published, and commits that position at once.
   */
  async startCustom(store: OwnedStore): Promise<void> {
    if (this.topics.size === 0) return;
    const committed = (await this.store.cursor(CUSTOM_SOURCE)) as { seq?: unknown } | undefined;
    let from: bigint;
    if (typeof committed?.seq === 'number') from = BigInt(committed.seq);
    else {
      from = await store.lastCustom();
      await this.store.commit({ writes: [], sizeDelta: 0, cursor: { source: CUSTOM_SOURCE, value: { seq: Number(from) } } });
    }
    const send = (event: GuestEvent, cursor: { seq: number }, traceparent?: string) => this.parts.supervisor.send(this.name, { kind: 'custom', payload: { kind: 'custom', event, cursor, ...(traceparent ? { traceparent } : {}) } });
    this.custom = new CustomFeed(store, [...this.topics], from, send, this.logger);
    this.custom.wake();
  }

  /** Custom events were published (a `custom` wake): its feed reads them. */
  wakeCustom(): void {
    this.custom?.wake();
  }

  /**
   * Unloads it: no timer or tick fires any more, its feeds stop (each finishing the step it is in), its
   * jobs first and then its actor drain, its lifecycle tasks run (`module-uninstalled` too when asked;
   * none on a handover to another replica, which goes on with them), and its components close. Its
   * state and cursors stay in the store for a later load.
   */
  async unload(uninstall: boolean, handover = false): Promise<void> {
    this.detached = true;
    await this.custom?.stop();
    if (this.messages) {
      this.parts.messages.detach(this.messages);
      await this.messages.stop();
    }
    await this.parts.messages.removeSender(this.name);
    this.parts.jobs.detach(this.name);
    const feeds = [...this.feeds.values()];
    this.feeds.clear();
    const feedsDone = Promise.all(feeds.map((feed) => feed.stop()));
    // Its jobs first: the runner lets go of it (no task starts, running ones end) before its actor goes,
    // so no task is taken for a module that has stopped. Tasks its last events enqueue stay pending.
    await this.parts.jobs.release(this.name);
    await this.parts.supervisor.remove(this.name);
    await feedsDone;
    for (const feed of feeds) this.parts.bus.unfeed(feed);
    await this.parts.jobs.retire(this.name, uninstall, handover);
    this.close();
  }

  /** Its actor could not start: the jobs forget it (no lifecycle task runs) and its components close. */
  abandon(): void {
    this.parts.jobs.forget(this.name);
    this.close();
  }

  /** The engine stops: no timer, tick or message is delivered from now on (its chain feeds stop with the bus). */
  stopDeliveries(): void {
    this.detached = true;
    void this.shadow?.close();
    // No read of an outbox starts once the store is about to close; one under way ends quietly.
    void this.messages?.stop();
    void this.parts.messages.removeSender(this.name);
  }

  /** Its instances and compiled code go: a reload compiles (or reads the cache) again. */
  private close(): void {
    void this.shadow?.close();
    this.queries?.close();
    this.jobComponent?.close();
    this.component.close();
  }

  /** Its manifest as loaded (defaults filled in): what `engine.promote` loads again, or loads its candidate from. */
  resolvedManifest(): ResolvedManifest {
    return this.manifest;
  }

  /** Its shadow run's report, undefined without `[modules.shadow]`. */
  shadowReport(): ShadowReport | undefined {
    return this.shadow?.shadowReport();
  }

  /** Resolves once its candidate has shadowed every step handed to it so far. */
  shadowSettled(): Promise<void> {
    return this.shadow?.settled() ?? Promise.resolve();
  }

  /** The engine's spans' destination, undefined when it does not trace. */
  get tracing(): Tracing | undefined {
    return this.parts.tracing;
  }

  /** Runs its `query` export on committed state (see ModuleQuery); `no-query` when its component has none. */
  query(path: string, params: readonly (readonly [string, string])[]): Promise<QueryResult> {
    if (!this.queries) return Promise.resolve({ kind: 'no-query', module: this.name });
    return this.queries.run(path, params);
  }

  hostImports(scope: InvocationScope, enqueuedBy: Job['enqueuedBy']): HostImports {
    return bindHost(this.binding, scope, enqueuedBy);
  }

  writtenSince(chainId: bigint, number: bigint, key: Bytes): boolean {
    return this.marks.writtenSince(chainId, number, key);
  }

  undoPlan(chainId: bigint, number: bigint): UndoPlan | undefined {
    return this.marks.undoPlan(chainId, number);
  }

  status(): 'serving' | 'quarantined' | 'stopped' {
    const state = this.parts.supervisor.stateOf(this.name);
    return state === undefined || state === 'stopped' ? 'stopped' : state === 'quarantined' ? 'quarantined' : 'serving';
  }

  whenServing(): Promise<void> {
    return this.parts.supervisor.whenServing(this.name);
  }

  execute(job: Job, transaction: StateTransaction): Promise<JobAttempt> {
    return runJob(this, job, transaction, (args, options) => this.jobComponent!.invoke('run-job', args, options));
  }

  killJobs(): void {
    this.jobComponent?.kill();
  }

  async handledBlocks(): Promise<ReadonlyMap<bigint, bigint>> {
    const handled = new Map<bigint, bigint>();
    for (const { chainId } of this.interests) {
      const cursor = (await this.store.cursor(chainSource(chainId))) as { number?: string } | undefined;
      if (cursor?.number !== undefined) handled.set(chainId, BigInt(cursor.number));
    }
    return handled;
  }

  async deliverTimer(timer: Timer): Promise<void> {
    if (this.detached) return;
    await this.parts.supervisor.request(this.name, { kind: 'timer', payload: { kind: 'timer', event: { tag: 'timer', val: timer.tag }, timer } });
  }

  async deliverTick(name: string, tick: number): Promise<void> {
    if (this.detached) return;
    await this.parts.supervisor.request(this.name, { kind: 'schedule', payload: { kind: 'schedule', event: { tag: 'schedule', val: { name, scheduledAt: BigInt(tick) } }, cron: { name, tick } } });
  }

  /**
   * One chain step through the module's mailbox. Events the module answered with `err` are taken out
   * and the step runs again without them; a signal means the actor restarts (after its backoff) and
   * the same step is tried again; an open circuit waits for the actor to serve again.
   */
  async deliverChain(chainId: bigint, delivery: FeedDelivery): Promise<FeedResult> {
    let current = delivery;
    for (;;) {
      const outcome = await this.parts.supervisor.request(this.name, { kind: 'chain', payload: { kind: 'chain', chainId, delivery: current } });
      if (outcome.ok) {
        this.stepCommitted(chainId, current, 'startedAt' in outcome ? outcome.startedAt : undefined);
        return 'done';
      }
      // An undo whose plan a commit made stale while it waited: the feed plans it again (see stageUndo).
      if ('refused' in outcome) return outcome.refused === 'stale' && current.undo ? 'retry' : 'stopped';
      if ('error' in outcome && outcome.error instanceof RejectedEvents) {
        current = withoutEvents(current, outcome.error.indices);
        continue;
      }
      if ('error' in outcome) {
        this.parts.logger.error({ module: this.name, chainId: String(chainId), err: outcome.error }, 'a chain step could not complete; retrying');
        return 'failed';
      }
      return 'retry';
    }
  }

  /** Per chain, the reorgs beyond the window that halted it (a counter the alerts read, from 0). */
  private readonly reorgsBeyondWindow = new Map<bigint, number>();

  /** The chain reorganised below what the module can undo (`windowBlocks` deep): it is halted. */
  reorgBeyondWindow(chainId: bigint, cursor: BlockCursor, windowBlocks: number): void {
    this.reorgsBeyondWindow.set(chainId, (this.reorgsBeyondWindow.get(chainId) ?? 0) + 1);
    this.parts.supervisor.halt(this.name, { type: 'ReorgBeyondWindow', actor: this.name, at: this.parts.clock.now(), chainId: String(chainId), cursor: { number: String(cursor.number), hash: cursor.hash }, windowBlocks });
  }

  /** Resolves once it has handled chain `chainId` up to block `number` (its cursor committed there). */
  reached(chainId: bigint, number: bigint, hash?: string): Promise<void> {
    const feed = this.feeds.get(chainId);
    if (!feed) throw new EngineError('unknown-module', `module ${this.name} has no trigger on chain ${chainId}`, { module: this.name, chainId: String(chainId) });
    return feed.reached(number, hash);
  }

  /** Where it stands on every chain it follows. */
  positions(): ChainPosition[] {
    return [...this.feeds].map(([chainId, feed]) => ({ module: this.name, chainId: String(chainId), head: this.parts.bus.head(chainId), block: feed.position?.number, caughtUp: feed.caughtUp, confirmations: feed.confirmations, ...feed.handled, reorgsBeyondWindow: this.reorgsBeyondWindow.get(chainId) ?? 0 }));
  }

  /** Its instance pools' counters: its events' and, when it exports `run-job`, its jobs'. */
  poolStats(): { events: PoolStats; jobs: PoolStats | undefined } {
    return { events: this.component.stats(), jobs: this.jobComponent?.stats() };
  }

  /** The highest custom-event sequence it committed. */
  async customSequence(): Promise<number> {
    const cursor = (await this.store.cursor(CUSTOM_SOURCE)) as { seq?: unknown } | undefined;
    return typeof cursor?.seq === 'number' ? cursor.seq : 0;
  }

  /** Every committed key with its value, in byte order (for inspection and tests). */
  async entries(): Promise<[Uint8Array, Uint8Array][]> {
    const out: [Uint8Array, Uint8Array][] = [];
    for await (const key of this.store.keys({ limit: -1 })) out.push([Uint8Array.from(key), (await this.store.get(key))!]);
    return out;
  }

  /** A committed step: its block timers may fire, and it is logged and told on `steps$` when anyone listens. */
  private stepCommitted(chainId: bigint, step: FeedDelivery, startedAt: number | undefined): void {
    this.parts.jobs.blockHandled(this.name, chainId, step.cursor.number);
    const { logger, steps } = this.parts;
    // Per step: build the record only when someone reads it.
    if (logger.isLevelEnabled('debug')) {
      // A new module's first step only places its origin, the block before its first (-1 for block 0).
      const { origin, number } = step.cursor;
      if (origin) logger.debug({ module: this.name, chainId: String(chainId), firstBlock: String(number + 1n) }, 'chain feed starts');
      else logger.debug({ module: this.name, chainId: String(chainId), block: String(number), events: step.events.length }, 'chain step committed');
    }
    if (steps.observed) {
      const { number, hash } = step.cursor;
      steps.next({ module: this.name, chainId: String(chainId), number, hash, events: step.events.length, committedAt: performance.timeOrigin + performance.now(), ...(step.seenAt === undefined ? {} : { seenAt: step.seenAt }), ...(startedAt === undefined ? {} : { startedAt }) });
    }
  }
}
