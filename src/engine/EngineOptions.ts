import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { ChainConfig, RpcCacheConfig } from '../bus/Bus.ts';
import type { Clock } from '../clock/Clock.ts';
import type { DeadLetterRetention } from '../jobs/deadLetters.ts';
import type { Recorder } from '../replay/Recorder.ts';
import type { Limits } from '../runtime/Component.ts';
import type { Runtime } from '../runtime/Runtime.ts';
import type { ModuleManifest } from '../config/ModuleManifestSchema.ts';
import type { StoreOptions } from '../store/openStore.ts';
import type { QueryOptions } from './QueryRuntime.ts';

/** What `Engine.start` is given. */
export interface EngineOptions {
  runtime: Runtime;
  /** Directory of the LevelDB database holding every module's state, cursors and journal (when `store` is not given). */
  stateDir?: string;
  /**
   * The store: LevelDB in `stateDir` by default; `{ backend: 'postgres', url, … }` shares the modules
   * with other replicas on one PostgreSQL (each module owned by one replica at a time; see
   * src/engine/Placement.ts).
   */
  store?: StoreOptions;
  modules: ModuleManifest[];
  /** Chains by id (each endpoint is checked against `eth_chainId` at start). */
  chains?: Record<string, ChainConfig>;
  /** The block-pinned response cache every module shares (default RPC_CACHE_DEFAULTS: on, 64 MiB). */
  rpcCache?: Partial<RpcCacheConfig>;
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
  /**
   * Traces every step, invocation, job, timer and cron tick (and, unless `traceHostCalls` is false,
   * every host call) into this tracer (docs/tracing.md). None by default: nothing is traced and no
   * OpenTelemetry API is called.
   */
  tracer?: Tracer;
  /** With `tracer`: a `corral.host` span per host call (default `TRACING_DEFAULTS.hostCalls`). */
  traceHostCalls?: boolean;
  /**
   * Modules' `query` export: its runtime's threads, the engine-wide bounds on its instances and on
   * queries at once, and the widest limits a module's `[modules.query]` may ask for. Defaults:
   * `DEFAULT_QUERY` (src/limits/defaults.ts).
   */
  query?: Partial<QueryOptions>;
  /** The runtime queries run on (the embedder's to close); default: one of `query.threads` threads, made at the first query and closed with the engine. */
  queryRuntime?: Runtime;
}
