import { pino, type Logger } from 'pino';
import { Subject } from 'rxjs';
import { Bus } from '../bus/Bus.ts';
import { systemClock, type Clock } from '../clock/Clock.ts';
import { Jobs } from '../jobs/Jobs.ts';
import { DEFAULT_JOB_LIMITS, HIGH_RESOURCE_JOB_LIMITS } from '../limits/defaults.ts';
import type { Recorder } from '../replay/Recorder.ts';
import type { Limits } from '../runtime/Component.ts';
import type { Runtime } from '../runtime/Runtime.ts';
import type { EngineStore } from '../store/EngineStore.ts';
import { openStore, type PlacementOptions } from '../store/openStore.ts';
import { EngineError } from '../errors/EngineError.ts';
import type { Tracing } from '../tracing/Tracing.ts';
import { Supervisor } from '../supervisor/Supervisor.ts';
import { DEFAULT_SUPERVISION, TRACING_DEFAULTS } from '../limits/defaults.ts';
import type { EngineOptions } from './EngineOptions.ts';
import type { Envelope } from './invocation.ts';
import { logSignal } from './logSignal.ts';
import { MessageHub } from './MessageHub.ts';
import { invocationRecord, type ChainStep, type InvocationRecord } from './records.ts';
import { QueryRuntime, queryOptions } from './QueryRuntime.ts';
import { ShadowRuntime } from './ShadowRuntime.ts';

/** The engine's parts, made once at its start: what the engine wires and every loaded module works with. */
export interface EngineParts {
  runtime: Runtime;
  store: EngineStore;
  supervisor: Supervisor<Envelope>;
  bus: Bus;
  jobs: Jobs;
  clock: Clock;
  logger: Logger;
  /** Each chain's CoW Protocol order book base URL, for the `cow-api` host. */
  orderbooks: ReadonlyMap<bigint, string>;
  /** Limits of every job, and of the jobs of modules granted `highResourceJobs`. */
  jobLimits: { standard: Limits; highResource: Limits };
  record: Recorder | undefined;
  /** Every invocation that ran, and every committed chain step (`engine.invocations$`, `engine.steps$`). */
  invocations: Subject<InvocationRecord>;
  steps: Subject<ChainStep>;
  /** Where spans go (`EngineOptions.tracer`); undefined when the engine does not trace. */
  tracing: Tracing | undefined;
  /** What every module's `query` export runs on (its own runtime and engine-wide bounds). */
  queries: QueryRuntime;
  /** Where senders' commits wake receivers, and receivers' cursors bound senders (messages between modules). */
  messages: MessageHub;
  /** What shadow candidates run their guests on (made at the first shadow, closed with the engine). */
  shadows: ShadowRuntime;
}

/** The parts of an engine over `store`, from its options (defaults filled in). */
export function engineParts(options: EngineOptions, store: EngineStore, logger: Logger): EngineParts {
  const clock = options.clock ?? systemClock;
  const invocations = new Subject<InvocationRecord>();
  const supervisor = new Supervisor<Envelope>({
    logger,
    onInvocation: (module, outcome) => {
      if (invocations.observed) invocations.next(invocationRecord(module, outcome));
    },
    breakerStore: store.breakers,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.shutdownTimeoutMs ? { shutdownTimeoutMs: options.shutdownTimeoutMs } : {}),
  });
  // Every signal is a log record: an operator must see why a module keeps failing (was: only counts).
  supervisor.signals$.subscribe((s) => logSignal(logger, s));
  const shutdownTimeoutMs = options.shutdownTimeoutMs || DEFAULT_SUPERVISION.shutdownTimeoutMs;
  const jobs = new Jobs({ clock, logger, shutdownTimeoutMs, retention: options.deadLetters });
  const bus = new Bus(options.chains ?? {}, logger, options.rpcCache);
  const orderbooks = new Map(Object.entries(options.chains ?? {}).flatMap(([id, chain]) => (chain.orderbookUrl ? [[BigInt(id), chain.orderbookUrl] as const] : [])));
  const tracing = options.tracer ? { tracer: options.tracer, hostCalls: options.traceHostCalls ?? TRACING_DEFAULTS.hostCalls } : undefined;
  const jobLimits = options.jobLimits ?? { standard: { ...DEFAULT_JOB_LIMITS }, highResource: { ...HIGH_RESOURCE_JOB_LIMITS } };
  const queries = new QueryRuntime(queryOptions(options.query), options.queryRuntime);
  return { runtime: options.runtime, store, supervisor, bus, jobs, clock, logger, orderbooks, jobLimits, record: options.record, invocations, steps: new Subject(), tracing, queries, messages: new MessageHub(store), shadows: new ShadowRuntime(options.runtime) };
}

/**
 * Opens the store the options name (LevelDB in `stateDir`, or `store`) and makes the engine's parts over
 * it; the store is closed again if they cannot be made. `placement`: a shared store's placement options.
 */
export async function openEngineParts(options: EngineOptions): Promise<{ parts: EngineParts; placement: PlacementOptions | undefined }> {
  const logger = options.logger ?? pino({ name: 'corral' });
  const storeOptions = options.store ?? (options.stateDir === undefined ? undefined : { backend: 'level' as const, stateDir: options.stateDir });
  if (!storeOptions) throw new EngineError('invalid-option', 'the engine needs a store: `stateDir` (LevelDB) or `store`', { option: 'store' });
  const unawaited = storeOptions.backend === 'level' ? 'could not save a circuit breaker' : 'the store failed outside a commit (a circuit breaker save, an idle connection)';
  const store = await openStore(storeOptions, (error) => logger.error({ err: error }, unawaited));
  try {
    return { parts: engineParts(options, store, logger), placement: storeOptions.backend === 'postgres' ? storeOptions.placement : undefined };
  } catch (error) {
    await store.close();
    throw error;
  }
}
