import { EngineError } from '../errors/EngineError.ts';
import type { EngineParts } from './EngineParts.ts';
import type { ModuleTable } from './ModuleTable.ts';
import { isOwnedStore } from '../store/OwnedStore.ts';
import type { ReadView } from '../store/EngineStore.ts';
import type { Observable } from 'rxjs';
import type { QueryResult } from './ModuleQuery.ts';
import type { ShadowReport } from './ShadowReport.ts';
import type { ChainStep, InvocationRecord } from './records.ts';

/**
 * What an engine lets its embedder and operators read: actors, chains, RPC and endpoint statistics, jobs,
 * cursors, committed state, pool and store figures, and ownership on a shared store. Nothing here changes
 * the engine; `Engine` (Engine.ts) adds what does (start, load, publish, restart, stop) and wires the parts.
 * Kept apart so that the engine's wiring reads on its own.
 */
export abstract class EngineView {
  /** Set once `stop()` began (Engine.ts): no new load or query starts after it. */
  protected stopping: Promise<void> | null = null;

  /** Every invocation that ran (a chain step of several events is one), as it ends. */
  readonly invocations$: Observable<InvocationRecord>;
  /** Every committed chain step, as it commits. */
  readonly steps$: Observable<ChainStep>;
  /** Every run of a task (and every task skipped), as it ends. */
  readonly jobs$: EngineParts['jobs']['jobs$'];
  /** Every supervisor signal (failures, backoffs, restarts, quarantines, halts), as it happens. */
  readonly signals$: EngineParts['supervisor']['signals$'];

  protected constructor(
    protected readonly parts: EngineParts,
    protected readonly modules: ModuleTable,
  ) {
    this.invocations$ = parts.invocations.asObservable();
    this.steps$ = parts.steps.asObservable();
    this.jobs$ = parts.jobs.jobs$;
    this.signals$ = parts.supervisor.signals$;
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

  /** Every module's actor: its state, breaker, mailbox, invocations and failures. */
  actors() {
    return this.parts.supervisor.actors();
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

  /** Queries each module ran since start, by outcome (QueryOutcome): `corral_query_total`. */
  queryStats() {
    return this.parts.queries.stats();
  }

  /** The report of `module`'s shadow run (docs/shadow.md), undefined when it has no `[modules.shadow]`. */
  shadowReport(module: string): ShadowReport | undefined {
    return this.modules.get(module).shadowReport();
  }

  /** Every loaded module's shadow report (the metrics' `corral_shadow_steps_total`). */
  shadowReports(): ShadowReport[] {
    return [...this.modules.all()].flatMap((m) => m.shadowReport() ?? []);
  }

  /** Resolves once `module`'s candidate has shadowed every step its live module handled so far. */
  shadowSettled(module: string): Promise<void> {
    return this.modules.get(module).shadowSettled();
  }

  /** Each module's messages sent, handled, retracted and refused at a full inbox, since the engine started. */
  messageStats() {
    return this.parts.messages.all();
  }

  /**
   * Resolves once no outbox trim runs, nor a read of a receiver's cursor from the store (one served on
   * another replica): each sender's outboxes are trimmed of what was handled and is final, as far as known now.
   */
  messagesTrimmed(): Promise<void> {
    return this.parts.messages.trimmed();
  }
}
