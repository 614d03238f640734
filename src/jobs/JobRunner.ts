import type { Logger } from 'pino';
import { Subject, type Observable } from 'rxjs';
import { backoffDelay } from '../clock/backoff.ts';
import type { Clock } from '../clock/Clock.ts';
import type { SignalName } from '../signals/signalFromData.ts';
import type { ModuleStore } from '../store/EngineStore.ts';
import { commitStaged } from '../store/GuardedModuleStore.ts';
import { deadKey, DEDUPE_PREFIX, jobKey, prefixLimit } from '../store/reservedKeys.ts';
import { dedupeUntil, encodeJob, type Job } from './Job.ts';
import type { JobAttempt, JobModule } from './JobModule.ts';
import type { ModuleJobs } from './ModuleJobs.ts';
import { DEDUPE_SWEEP_MS, DEFAULT_DEAD_LETTERS, DEFAULT_JOB_ERROR_BYTES, JOB_CONFLICT_RETRIES, JOB_RETRY, MAX_TIMER_DELAY_MS } from '../limits/defaults.ts';
import { boundText } from './boundText.ts';
import { pruneDead, type DeadLetterRetention } from './deadLetters.ts';

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


interface Entry {
  module: JobModule;
  /** Its pending tasks, as the runner takes them. */
  index: ModuleJobs;
  running: Map<string, Promise<void>>;
  /** A job whose commit conflicted runs again alone: no other job of the module starts meanwhile. */
  exclusive?: string;
  handle: unknown;
  armedAt: number | undefined;
  /** Resolves when the runner lets go of the module (remove, stop): runs waiting on it give up. */
  released: Promise<void>;
  release: () => void;
  /** The hourly sweep of expired deduplication records, and whether one is running. */
  sweep: unknown;
  sweeping: boolean;
}

function newEntry(module: JobModule, index: ModuleJobs): Entry {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  return { module, index, running: new Map(), handle: undefined, armedAt: undefined, released, release, sweep: undefined, sweeping: false };
}

/** Why a run did not commit but must not count as an attempt: the runner let go of the module, or another job holds the module alone. */
const GIVE_UP = Symbol('give up');

/** Counts per module: what metrics and `corral inspect` show. */
export interface JobCounts {
  done: number;
  retried: number;
  dead: number;
  skipped: Partial<Record<SkipReason, number>>;
  conflicts: number;
  /** Enqueues refused by the module's rate limiter. */
  rateLimited: number;
  /** Dead letters the module keeps now (not a count since start): retention deletes them, and `corral dead-letters purge`. */
  deadLetters: number;
}

/**
 * Runs the modules' tasks: at most `concurrency` of one module at once, beside its events; modules
 * apart. A task runs when its `runAt` comes (the injected clock); a run that succeeds commits its
 * writes together with the task's deletion (GuardedModuleStore.commitJob, so after a crash a task
 * is either done with its writes or still pending, never half); one that fails is rescheduled with
 * exponential backoff (`JOB_RETRY`, src/limits/defaults.ts), and after `maxRetry`
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

  /** How many dead letters each module keeps (the engine sets it from `[engine.jobs]` before adding modules). */
  retention: DeadLetterRetention = DEFAULT_DEAD_LETTERS;

  /** Starts running `module`'s tasks, as `index` holds them (its store's commits must reach `committed`). */
  add(module: JobModule, index: ModuleJobs): void {
    const entry = newEntry(module, index);
    this.modules.set(module.name, entry);
    this.countsOf(module.name);
    void this.sweepDedupe(entry);
    this.pump(module.name);
  }

  private countsOf(name: string): JobCounts {
    let counts = this.counts.get(name);
    if (!counts) this.counts.set(name, (counts = { done: 0, retried: 0, dead: 0, skipped: {}, conflicts: 0, rateLimited: 0, deadLetters: 0 }));
    return counts;
  }

  /** Stops starting `name`'s tasks; resolves once its running ones have ended. */
  async remove(name: string): Promise<void> {
    const entry = this.modules.get(name);
    if (!entry) return;
    this.modules.delete(name);
    this.letGo(entry);
    await Promise.all(entry.running.values());
    this.wakeIdle();
  }

  private letGo(entry: Entry): void {
    if (entry.handle !== undefined) this.clock.clearTimeout(entry.handle);
    if (entry.sweep !== undefined) this.clock.clearTimeout(entry.sweep);
    entry.handle = entry.sweep = undefined;
    entry.release();
  }

  /** A commit of `name` changed its tasks: start what is due. */
  committed(name: string): void {
    this.pump(name);
  }

  /** An enqueue of `name` was refused by its rate limiter. */
  rateLimited(name: string): void {
    this.countsOf(name).rateLimited++;
  }

  /** A dead letter of `name` was made pending again by hand. */
  deadLetterRetried(name: string): void {
    const counts = this.countsOf(name);
    counts.deadLetters = Math.max(0, counts.deadLetters - 1);
  }

  counters(name: string): JobCounts | undefined {
    return this.counts.get(name);
  }

  /** Tasks running now, per module. */
  running(name: string): number {
    return this.modules.get(name)?.running.size ?? 0;
  }

  /** The ids of a module's tasks running now. */
  runningIds(name: string): string[] {
    return [...(this.modules.get(name)?.running.keys() ?? [])];
  }

  /** Resolves once no task of `module` (of any, when absent) is running or due now, and no sweep of its deduplication records runs. */
  idle(module?: string): Promise<void> {
    if (this.isIdle(module)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push({ module, resolve }));
  }

  /** Stops starting tasks; resolves once the running ones have ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    const running: Promise<void>[] = [];
    for (const entry of this.modules.values()) {
      this.letGo(entry);
      running.push(...entry.running.values());
    }
    await Promise.all(running);
    this.wakeIdle();
  }

  /** Ends `jobs$` (after `stop` and any lifecycle task run after it). */
  close(): void {
    this.records.complete();
  }

  /**
   * Runs one task of a module the runner is not running (a lifecycle task at unload or stop, when the
   * module no longer serves events): no status check, the rest as for any task.
   */
  runOnce(module: JobModule, index: ModuleJobs, job: Job): Promise<void> {
    return this.run(newEntry(module, index), job, true);
  }

  /** Skips a task of a module that is not loaded (`module-gone`). */
  skipAbsent(store: ModuleStore, job: Job): Promise<void> {
    return this.skip(store, job, 'module-gone', this.countsOf(store.name));
  }

  private isIdle(module: string | undefined): boolean {
    const now = this.clock.now();
    for (const [name, entry] of this.modules) {
      if (module !== undefined && name !== module) continue;
      if (entry.running.size > 0 || entry.sweeping) return false;
      const next = entry.index.nextAt();
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
      const job = entry.index.takeDue(now, (id) => entry.running.has(id));
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
    const first = entry.index.nextAt();
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
      Math.min(Math.max(0, next - this.clock.now()), MAX_TIMER_DELAY_MS),
    );
  }

  private async run(entry: Entry, job: Job, lifecycle = false): Promise<void> {
    const { module } = entry;
    const counts = this.countsOf(module.name);
    try {
      if (!lifecycle) {
        const skip = this.skipReason(module, job);
        if (skip) return await this.skip(module.store, job, skip, counts);
        // A module in quarantine keeps its tasks; one the runner lets go of meanwhile leaves them pending.
        if (module.status() === 'quarantined' && (await Promise.race([module.whenServing().then(() => false), entry.released.then(() => true)]))) return;
      }
      for (let conflicts = 0; ; conflicts++) {
        if (!this.stillPending(entry.index, job)) return; // retracted (a reorg's undo) or retried by hand meanwhile
        const transaction = module.store.jobTransaction();
        let attempt: JobAttempt;
        try {
          attempt = await module.execute(job, transaction);
        } catch (error) {
          // The call could not start (the runtime closing, say): a failed attempt, with backoff, not a loop.
          attempt = { ok: false, error: error instanceof Error ? error.message : String(error) };
        }
        if (!attempt.ok) {
          module.store.abandon(transaction);
          return await this.fail(entry, job, attempt, counts);
        }
        // Its record's size is in the index, unless a commit on its way to the store rewrites it.
        const key = jobKey(job.id);
        const bytes = entry.index.storedBytes(job.id);
        if (bytes !== undefined && !module.store.committing(key)) transaction.deleteKnown(key, bytes);
        else transaction.delete(key);
        const result = await module.store.commitJob(transaction, { writes: transaction.writes(), sizeDelta: transaction.sizeDelta });
        if (result === 'committed') {
          counts.done++;
          const { durationMs, fuelUsed, startedAt } = attempt;
          this.records.next({ module: module.name, id: job.id, type: job.type, attempts: job.attempts, outcome: 'done', durationMs, fuelUsed, conflicts, enqueuedAt: job.enqueuedAt, runAt: job.runAt, ...(startedAt === undefined ? {} : { startedAt }) });
          return;
        }
        counts.conflicts++;
        this.records.next({ module: module.name, id: job.id, type: job.type, attempts: job.attempts, outcome: 'conflict' });
        if (conflicts + 1 >= JOB_CONFLICT_RETRIES) return await this.fail(entry, job, { ok: false, error: `its commit conflicted ${JOB_CONFLICT_RETRIES} times with concurrent writes` }, counts);
        if ((await this.runAlone(entry, job)) === GIVE_UP) return;
      }
    } catch (error) {
      // The store failed (e.g. closed under us): the task stays pending and runs after a restart.
      this.logger.error({ module: module.name, job: job.id, err: error }, 'a job could not complete');
    } finally {
      if (entry.exclusive === job.id) entry.exclusive = undefined;
    }
  }

  /**
   * After a conflict: the job runs again alone, once the module's other jobs have ended, so jobs on
   * one hot key take turns instead of invalidating each other; only an event can still get in the
   * way, and then it waits for that event. When another job already holds the module alone, this run
   * gives up instead (its task goes back to the queue, not counted as an attempt): two conflicting
   * jobs waiting for each other would wait for ever.
   */
  private async runAlone(entry: Entry, job: Job): Promise<void | typeof GIVE_UP> {
    const { module } = entry;
    if (entry.exclusive !== undefined && entry.exclusive !== job.id) {
      entry.index.requeue(job);
      return GIVE_UP;
    }
    entry.exclusive = job.id;
    await Promise.all([...entry.running].filter(([id]) => id !== job.id).map(([, run]) => run));
    if (module.store.eventInFlight && (await Promise.race([module.store.nextChange().then(() => false), entry.released.then(() => true)]))) {
      entry.index.requeue(job);
      return GIVE_UP;
    }
  }

  private skipReason(module: JobModule, job: Job): SkipReason | undefined {
    if (module.status() === 'stopped') return 'module-stopped';
    if (job.version !== module.version) return 'version-mismatch';
    return undefined;
  }

  private stillPending(index: ModuleJobs, job: Job): boolean {
    const stored = index.get(job.id);
    return stored !== undefined && stored.attempts === job.attempts && stored.runAt === job.runAt;
  }

  private async skip(store: ModuleStore, job: Job, reason: SkipReason, counts: JobCounts): Promise<void> {
    await commitStaged(store, (tx) => (tx.delete(jobKey(job.id)), true));
    counts.skipped[reason] = (counts.skipped[reason] ?? 0) + 1;
    this.logger.warn({ module: store.name, job: job.id, type: job.type, reason, version: job.version }, `job skipped (${reason}), not retried`);
    this.records.next({ module: store.name, id: job.id, type: job.type, attempts: job.attempts, outcome: 'skipped', reason });
  }

  /** Reschedules the task with backoff, or dead-letters it: only if it is still the one that ran (a reorg may have taken it back). */
  private async fail({ module, index }: Entry, job: Job, failed: Extract<JobAttempt, { ok: false }>, counts: JobCounts): Promise<void> {
    // The guest's text, whatever its length, is kept and logged only up to a bound.
    const attempt = { ...failed, error: boundText(failed.error, DEFAULT_JOB_ERROR_BYTES) };
    const attempts = job.attempts + 1;
    const now = this.clock.now();
    const signal = attempt.signal === undefined ? {} : { signal: attempt.signal };
    const dead = attempts > job.maxRetry;
    const runAt = now + backoffDelay(attempts - 1, JOB_RETRY);
    const committed = await module.store.commitWith((tx) => {
      if (!this.stillPending(index, job)) return false;
      if (dead) {
        tx.delete(jobKey(job.id));
        tx.set(deadKey(job.id), encodeJob({ ...job, attempts, lastError: attempt.error, deadAt: now }));
      } else {
        const next = { ...job, attempts, lastError: attempt.error, runAt };
        tx.set(jobKey(job.id), encodeJob(next), undefined, next);
      }
      return true;
    });
    if (!committed) return;
    if (dead) {
      counts.dead++;
      if (++counts.deadLetters > this.retention.maxCount) void this.pruneDead(module.store, counts);
      this.logger.warn({ module: module.name, job: job.id, type: job.type, attempts, error: attempt.error, ...signal }, 'job failed for the last time: dead-lettered');
      this.records.next({ module: module.name, id: job.id, type: job.type, attempts, outcome: 'dead', error: attempt.error, ...signal });
      return;
    }
    counts.retried++;
    this.logger.info({ module: module.name, job: job.id, type: job.type, attempts, error: attempt.error, runAt, ...signal }, 'job failed; it will be retried');
    this.records.next({ module: module.name, id: job.id, type: job.type, attempts, outcome: 'retry', error: attempt.error, runAt, ...signal });
  }

  /**
   * Applies the dead-letter retention to a module's store; its count follows. One pass per module at a
   * time, and again while deaths came meanwhile: two passes side by side each counted what it saw, and
   * the first to end set a count (the maximum) that a dead letter it had not seen still exceeded while
   * the second pass was deleting it.
   */
  private async pruneDead(store: ModuleStore, counts: JobCounts): Promise<void> {
    const running = this.pruning.get(counts);
    if (running) {
      running.again = true;
      return;
    }
    const pass = { again: false };
    this.pruning.set(counts, pass);
    try {
      do {
        pass.again = false;
        const { deleted, kept } = await pruneDead(store, this.retention, this.clock.now());
        if (!pass.again) counts.deadLetters = kept;
        if (deleted > 0) this.logger.info({ module: store.name, deleted, kept, ...this.retention }, 'dead letters past their retention deleted');
      } while (pass.again);
    } catch (error) {
      this.logger.error({ module: store.name, err: error }, 'could not apply the dead-letter retention');
    } finally {
      this.pruning.delete(counts);
    }
  }
  /** The module whose dead letters are being pruned, and whether more died meanwhile. */
  private readonly pruning = new WeakMap<JobCounts, { again: boolean }>();

  /** Deletes the module's expired deduplication records (and dead letters past their retention) now, then every `DEDUPE_SWEEP_MS`. */
  private async sweepDedupe(entry: Entry): Promise<void> {
    entry.sweep = undefined;
    entry.sweeping = true;
    try {
      const expired: Uint8Array[] = [];
      const now = this.clock.now();
      for await (const key of entry.module.store.keys({ gte: DEDUPE_PREFIX, lt: prefixLimit(DEDUPE_PREFIX), limit: -1 })) {
        const value = entry.module.store.getSync(key);
        if (value === undefined || dedupeUntil(value) <= now) expired.push(Uint8Array.from(key));
      }
      if (expired.length > 0) {
        // Deleted only if still expired when the commit's turn comes (an enqueue may have renewed one).
        await entry.module.store.commitWith((tx) => {
          for (const key of expired) {
            const value = tx.get(key);
            if (value !== undefined && dedupeUntil(value) <= now) tx.delete(key);
          }
          return true;
        });
      }
    } catch (error) {
      this.logger.error({ module: entry.module.name, err: error }, 'could not delete expired deduplication records');
    }
    await this.pruneDead(entry.module.store, this.countsOf(entry.module.name));
    entry.sweeping = false;
    this.wakeIdle();
    if (this.modules.get(entry.module.name) === entry && !this.stopped) entry.sweep = this.clock.setTimeout(() => void this.sweepDedupe(entry), DEDUPE_SWEEP_MS);
  }
}
