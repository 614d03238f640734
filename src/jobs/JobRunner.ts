import type { Logger } from 'pino';
import { Subject, type Observable } from 'rxjs';
import type { Clock } from '../clock/Clock.ts';
import type { SignalName } from '../signals/signalFromData.ts';
import type { ModuleStore } from '../store/EngineStore.ts';
import type { GuardedModuleStore } from '../store/GuardedModuleStore.ts';
import { StateTransaction } from '../store/StateTransaction.ts';
import { deadKey, encodeJob, jobKey, type Job } from './Job.ts';
import type { ModuleJobs } from './ModuleJobs.ts';

/** The first wait before a failed task runs again; each further failure doubles it. */
export const JOB_RETRY_BASE_MS = 1_000;
/** The longest wait between two runs of a failing task. */
export const JOB_RETRY_MAX_MS = 60 * 60 * 1000;
/** Conflicting commits (see GuardedModuleStore) a run may meet before it counts as a failure. */
export const JOB_CONFLICT_RETRIES = 10;

/** Why a task was dropped without running (and without retry). */
export type SkipReason = 'module-gone' | 'module-stopped' | 'version-mismatch';

/** What became of one run of a task: what `engine.jobs$` tells. */
export type JobRecord = { module: string; id: string; type: string; attempts: number } & (
  | { outcome: 'done'; durationMs: number; fuelUsed: number; startedAt?: number; conflicts: number; enqueuedAt: number; runAt: number }
  | { outcome: 'retry' | 'dead'; error: string; signal?: SignalName; runAt?: number }
  | { outcome: 'skipped'; reason: SkipReason }
  /** Its commit was refused (see GuardedModuleStore); it runs again. Not an attempt. */
  | { outcome: 'conflict' }
);

/** One run of `run-job`, as the engine reports it. */
export type JobAttempt = { ok: true; durationMs: number; fuelUsed: number; startedAt?: number } | { ok: false; error: string; signal?: SignalName };

/** A module as the runner needs it (the engine provides it). */
export interface JobModule {
  name: string;
  store: GuardedModuleStore;
  jobs: ModuleJobs;
  /** Tasks of this module in flight at once, at most. */
  concurrency: number;
  /** sha256 of its component: tasks of another version are skipped. */
  version: string;
  /** Whether it serves now: a `quarantined` module's tasks wait, a `stopped` one's are skipped. */
  status(): 'serving' | 'quarantined' | 'stopped';
  whenServing(): Promise<void>;
  /** Runs `run-job` once on `transaction` (its writes staged there, not committed). */
  execute(job: Job, transaction: StateTransaction): Promise<JobAttempt>;
}

interface Entry {
  module: JobModule;
  running: Map<string, Promise<void>>;
  /** A job whose commit conflicted runs again alone: no other job of the module starts meanwhile. */
  exclusive?: string;
  handle: unknown;
  armedAt: number | undefined;
}

/** Counts per module: what metrics and `corral inspect` show. */
export interface JobCounts {
  done: number;
  retried: number;
  dead: number;
  skipped: Partial<Record<SkipReason, number>>;
  conflicts: number;
}

/**
 * Runs the modules' tasks: at most `concurrency` of one module at once, beside its events; modules
 * apart. A task runs when its `runAt` comes (the injected clock); a run that succeeds commits its
 * writes together with the task's deletion (GuardedModuleStore.commitJob, so after a crash a task
 * is either done with its writes or still pending, never half); one that fails is rescheduled with
 * exponential backoff (`JOB_RETRY_BASE_MS` doubling up to `JOB_RETRY_MAX_MS`), and after `maxRetry`
 * retries moved to the dead-letter list. The runner keeps no state of its own beyond the modules'
 * stores: a restart picks up every pending task.
 */
export class JobRunner {
  private readonly modules = new Map<string, Entry>();
  private readonly records = new Subject<JobRecord>();
  private readonly counts = new Map<string, JobCounts>();
  private readonly idleWaiters: { module: string | undefined; resolve: () => void }[] = [];
  private stopped = false;
  /** Every run's outcome, as it ends. */
  readonly jobs$: Observable<JobRecord> = this.records.asObservable();

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** Starts running `module`'s tasks (its store's commits must reach `committed`). */
  add(module: JobModule): void {
    this.modules.set(module.name, { module, running: new Map(), handle: undefined, armedAt: undefined });
    this.countsOf(module.name);
    this.pump(module.name);
  }

  private countsOf(name: string): JobCounts {
    let counts = this.counts.get(name);
    if (!counts) this.counts.set(name, (counts = { done: 0, retried: 0, dead: 0, skipped: {}, conflicts: 0 }));
    return counts;
  }

  /** Stops starting `name`'s tasks; resolves once its running ones have ended. */
  async remove(name: string): Promise<void> {
    const entry = this.modules.get(name);
    if (!entry) return;
    this.modules.delete(name);
    if (entry.handle !== undefined) this.clock.clearTimeout(entry.handle);
    await Promise.all(entry.running.values());
  }

  /** A commit of `name` changed its tasks: start what is due. */
  committed(name: string): void {
    this.pump(name);
  }

  counters(name: string): JobCounts | undefined {
    return this.counts.get(name);
  }

  /** Tasks running now, per module. */
  running(name: string): number {
    return this.modules.get(name)?.running.size ?? 0;
  }

  /** Resolves once no task of `module` (of any, when absent) is running or due now. */
  idle(module?: string): Promise<void> {
    if (this.isIdle(module)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push({ module, resolve }));
  }

  /** Stops starting tasks; resolves once the running ones have ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    const running: Promise<void>[] = [];
    for (const entry of this.modules.values()) {
      if (entry.handle !== undefined) this.clock.clearTimeout(entry.handle);
      running.push(...entry.running.values());
    }
    await Promise.all(running);
  }

  /** Ends `jobs$` (after `stop` and any lifecycle task run after it). */
  close(): void {
    this.records.complete();
  }

  /**
   * Runs one task of a module the runner is not running (a lifecycle task at unload or stop, when the
   * module no longer serves events): no status check, the rest as for any task.
   */
  runOnce(module: JobModule, job: Job): Promise<void> {
    return this.run({ module, running: new Map(), handle: undefined, armedAt: undefined }, job, true);
  }

  /** Skips a task of a module that is not loaded (`module-gone`). */
  skipAbsent(store: ModuleStore, job: Job): Promise<void> {
    return this.skip(store, job, 'module-gone', this.countsOf(store.name));
  }

  private isIdle(module: string | undefined): boolean {
    const now = this.clock.now();
    for (const [name, entry] of this.modules) {
      if (module !== undefined && name !== module) continue;
      if (entry.running.size > 0) return false;
      const next = entry.module.jobs.nextAt();
      if (!this.stopped && next !== undefined && next <= now) return false;
    }
    return true;
  }

  private wakeIdle(): void {
    for (let i = this.idleWaiters.length - 1; i >= 0; i--) {
      const waiter = this.idleWaiters[i]!;
      if (!this.isIdle(waiter.module)) continue;
      this.idleWaiters.splice(i, 1);
      waiter.resolve();
    }
  }

  private pump(name: string): void {
    const entry = this.modules.get(name);
    if (!entry || this.stopped) return this.wakeIdle();
    const { module } = entry;
    const now = this.clock.now();
    while (entry.running.size < module.concurrency && entry.exclusive === undefined) {
      const job = module.jobs.takeDue(now, (id) => entry.running.has(id));
      if (!job) break;
      const run = this.run(entry, job).finally(() => {
        entry.running.delete(job.id);
        this.pump(name);
      });
      entry.running.set(job.id, run);
    }
    this.arm(entry);
    this.wakeIdle();
  }

  /**
   * One clock timeout per module, for its earliest task not due yet. A task already due that could
   * not start (every slot taken) needs none: the end of a running one pumps again.
   */
  private arm(entry: Entry): void {
    const first = entry.module.jobs.nextAt();
    const next = first !== undefined && first > this.clock.now() ? first : undefined;
    if (next === entry.armedAt && entry.handle !== undefined) return;
    if (entry.handle !== undefined) this.clock.clearTimeout(entry.handle);
    entry.handle = undefined;
    entry.armedAt = next;
    if (next === undefined || this.stopped) return;
    const name = entry.module.name;
    entry.handle = this.clock.setTimeout(
      () => {
        entry.handle = undefined;
        entry.armedAt = undefined;
        this.pump(name);
      },
      Math.min(Math.max(0, next - this.clock.now()), 2_147_483_647),
    );
  }

  private async run(entry: Entry, job: Job, lifecycle = false): Promise<void> {
    const { module } = entry;
    const counts = this.countsOf(module.name);
    try {
      if (!lifecycle) {
        const skip = this.skipReason(entry, job);
        if (skip) return await this.skip(module.store, job, skip, counts);
        if (module.status() === 'quarantined') await module.whenServing();
        if (this.modules.get(module.name) !== entry) return await this.skip(module.store, job, 'module-gone', counts);
      }

      for (let conflicts = 0; ; conflicts++) {
        if (!this.stillPending(module, job)) return; // retracted (a reorg's undo) or retried by hand meanwhile
        const transaction = module.store.jobTransaction();
        const attempt = await module.execute(job, transaction);
        if (!attempt.ok) {
          module.store.abandon(transaction);
          return await this.fail(module, job, attempt, counts);
        }
        transaction.delete(jobKey(job.id));
        const result = await module.store.commitJob(transaction, { writes: transaction.writes(), sizeDelta: transaction.sizeDelta });
        if (result === 'committed') {
          counts.done++;
          const { durationMs, fuelUsed, startedAt } = attempt;
          this.records.next({ module: module.name, id: job.id, type: job.type, attempts: job.attempts, outcome: 'done', durationMs, fuelUsed, conflicts, enqueuedAt: job.enqueuedAt, runAt: job.runAt, ...(startedAt === undefined ? {} : { startedAt }) });
          return;
        }
        counts.conflicts++;
        this.records.next({ module: module.name, id: job.id, type: job.type, attempts: job.attempts, outcome: 'conflict' });
        if (conflicts + 1 >= JOB_CONFLICT_RETRIES) return await this.fail(module, job, { ok: false, error: `its commit conflicted ${JOB_CONFLICT_RETRIES} times with concurrent writes` }, counts);
        // Run again alone, once the module's other jobs have ended: jobs on one hot key then take turns
        // instead of invalidating each other; only an event can still get in the way.
        entry.exclusive = job.id;
        await Promise.all([...entry.running].filter(([id]) => id !== job.id).map(([, run]) => run));
        if (module.store.eventInFlight) await module.store.nextChange();
      }
    } catch (error) {
      // The store failed (e.g. closed under us): the task stays pending and runs after a restart.
      this.logger.error({ module: module.name, job: job.id, err: error }, 'a job could not complete');
    } finally {
      if (entry.exclusive === job.id) entry.exclusive = undefined;
    }
  }

  private skipReason(entry: Entry, job: Job): SkipReason | undefined {
    const { module } = entry;
    if (this.modules.get(module.name) !== entry) return 'module-gone';
    if (module.status() === 'stopped') return 'module-stopped';
    if (job.version !== module.version) return 'version-mismatch';
    return undefined;
  }

  private stillPending(module: JobModule, job: Job): boolean {
    const stored = module.jobs.get(job.id);
    return stored !== undefined && stored.attempts === job.attempts && stored.runAt === job.runAt;
  }

  private async skip(store: ModuleStore, job: Job, reason: SkipReason, counts: JobCounts): Promise<void> {
    const tx = new StateTransaction(store);
    tx.delete(jobKey(job.id));
    await store.commit({ writes: tx.writes(), sizeDelta: tx.sizeDelta });
    counts.skipped[reason] = (counts.skipped[reason] ?? 0) + 1;
    this.logger.warn({ module: store.name, job: job.id, type: job.type, reason, version: job.version }, `job skipped (${reason}), not retried`);
    this.records.next({ module: store.name, id: job.id, type: job.type, attempts: job.attempts, outcome: 'skipped', reason });
  }

  private async fail(module: JobModule, job: Job, attempt: Extract<JobAttempt, { ok: false }>, counts: JobCounts): Promise<void> {
    const attempts = job.attempts + 1;
    const tx = new StateTransaction(module.store);
    const now = this.clock.now();
    const signal = attempt.signal === undefined ? {} : { signal: attempt.signal };
    if (attempts > job.maxRetry) {
      tx.delete(jobKey(job.id));
      tx.set(deadKey(job.id), encodeJob({ ...job, attempts, lastError: attempt.error, deadAt: now }));
      await module.store.commit({ writes: tx.writes(), sizeDelta: tx.sizeDelta });
      counts.dead++;
      this.logger.warn({ module: module.name, job: job.id, type: job.type, attempts, error: attempt.error, ...signal }, 'job failed for the last time: dead-lettered');
      this.records.next({ module: module.name, id: job.id, type: job.type, attempts, outcome: 'dead', error: attempt.error, ...signal });
      return;
    }
    const runAt = now + Math.min(JOB_RETRY_BASE_MS * 2 ** (attempts - 1), JOB_RETRY_MAX_MS);
    tx.set(jobKey(job.id), encodeJob({ ...job, attempts, lastError: attempt.error, runAt }));
    await module.store.commit({ writes: tx.writes(), sizeDelta: tx.sizeDelta });
    counts.retried++;
    this.logger.info({ module: module.name, job: job.id, type: job.type, attempts, error: attempt.error, runAt, ...signal }, 'job failed; it will be retried');
    this.records.next({ module: module.name, id: job.id, type: job.type, attempts, outcome: 'retry', error: attempt.error, runAt, ...signal });
  }
}
