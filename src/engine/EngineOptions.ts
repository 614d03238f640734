import type { Logger } from 'pino';
import type { ChainConfig, RpcCacheConfig } from '../bus/Bus.ts';
import type { Clock } from '../clock/Clock.ts';
import type { DeadLetterRetention } from '../jobs/deadLetters.ts';
import type { Recorder } from '../replay/Recorder.ts';
import type { Limits } from '../runtime/Component.ts';
import type { Runtime } from '../runtime/Runtime.ts';
import type { ModuleManifest } from '../config/ModuleManifestSchema.ts';
import type { StoreOptions } from '../store/openStore.ts';

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
}
