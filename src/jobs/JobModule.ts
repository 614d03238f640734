import type { CronTrigger } from '../bus/triggers.ts';
import type { SignalName } from '../signals/signalFromData.ts';
import type { GuardedModuleStore } from '../store/GuardedModuleStore.ts';
import type { StateTransaction } from '../store/StateTransaction.ts';
import type { Job } from './Job.ts';
import type { Timer } from './timerWrites.ts';

/** One run of `run-job`, as the module reports it. */
export type JobAttempt = { ok: true; durationMs: number; fuelUsed: number; startedAt?: number } | { ok: false; error: string; signal?: SignalName };

/**
 * A loaded module as its jobs, timers and cron ticks need it (engine/ModuleRuntime.ts implements it):
 * where its tasks and timers are kept, how its tasks run, and where its timer and tick events go.
 */
export interface JobModule {
  readonly name: string;
  readonly store: GuardedModuleStore;
  /** sha256 of its component: tasks of another version are skipped. */
  readonly version: string;
  /** It exports `run-job`: it has a queue, and lifecycle tasks. */
  readonly runsJobs: boolean;
  /** Tasks of this module in flight at once, at most. */
  readonly concurrency: number;
  /** Retries a task gets unless it asks for fewer, and the most it may ask for. */
  readonly retry: number;
  readonly maxRetry: number;
  readonly cronTriggers: readonly CronTrigger[];
  /** The last block it committed on each chain its triggers follow (its cursors). */
  handledBlocks(): Promise<ReadonlyMap<bigint, bigint>>;
  /** Whether it serves now: a `quarantined` module's tasks wait, a `stopped` one's are skipped. */
  status(): 'serving' | 'quarantined' | 'stopped';
  whenServing(): Promise<void>;
  /** Runs `run-job` once on `transaction` (its writes staged there, not committed). */
  execute(job: Job, transaction: StateTransaction): Promise<JobAttempt>;
  /** Ends its running jobs now (their worker terminated): a lifecycle task past the shutdown timeout. */
  killJobs(): void;
  /** A `timer(tag)` event; resolves once it was handled (or refused). */
  deliverTimer(timer: Timer): Promise<unknown>;
  /** A `schedule` event for one tick of its cron trigger `name`. */
  deliverTick(name: string, tick: number): Promise<unknown>;
}
