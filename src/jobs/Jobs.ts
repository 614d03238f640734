import type { Logger } from 'pino';
import type { Observable } from 'rxjs';
import type { Clock } from '../clock/Clock.ts';
import { EngineError } from '../errors/EngineError.ts';
import type { EngineStore, Write } from '../store/EngineStore.ts';
import { isOwnedStore } from '../store/OwnedStore.ts';
import { jobKey } from '../store/reservedKeys.ts';
import { CronScheduler, lastTicks } from './CronScheduler.ts';
import { deadJobs, pendingJobs, retryDead, type DeadLetterRetention } from './deadLetters.ts';
import { encodeJob, newJobId, taskProblem, type Job, type LifecycleTask } from './Job.ts';
import type { JobModule } from './JobModule.ts';
import { JobRunner, type JobCounts, type JobRecord } from './JobRunner.ts';
import { ModuleJobs } from './ModuleJobs.ts';
import { ModuleTimers } from './ModuleTimers.ts';
import { TimerScheduler } from './TimerScheduler.ts';

/** A module's queue as the engine reports it. */
export interface JobStats extends JobCounts {
  /** Tasks waiting to run (due or not, retries included). */
  pending: number;
  running: number;
}

export interface JobsOptions {
  clock: Clock;
  logger: Logger;
  /** How long a lifecycle task at unload or stop may run before it is ended. */
  shutdownTimeoutMs: number;
  /** Dead letters each module keeps (default `DEFAULT_DEAD_LETTERS`). */
  retention?: DeadLetterRetention | undefined;
}

interface Attached {
  module: JobModule;
  /** Its pending tasks (modules that export `run-job`). */
  index: ModuleJobs | undefined;
}

/**
 * The modules' deferred work behind one door: each module's task queue and its runner, its timers and
 * cron ticks, its lifecycle tasks and dead letters, and the commits that change their keys. The engine
 * attaches each loaded module (a `JobModule`) and tells this of its commits and handled blocks; timer
 * and tick events go back to the module itself, and a task runs on the module's `execute`.
 */
export class Jobs {
  private readonly timers: TimerScheduler;
  private readonly cron: CronScheduler;
  private readonly runner: JobRunner;
  private readonly attached = new Map<string, Attached>();
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly shutdownTimeoutMs: number;
  /** Every run of a task (and every task skipped), as it ends. */
  readonly jobs$: Observable<JobRecord>;

  constructor(options: JobsOptions) {
    this.clock = options.clock;
    this.logger = options.logger;
    this.shutdownTimeoutMs = options.shutdownTimeoutMs;
    this.timers = new TimerScheduler(this.clock, (name, timer) => this.moduleOf(name)?.deliverTimer(timer) ?? Promise.resolve(), this.logger);
    this.cron = new CronScheduler(this.clock, (name, trigger, tick) => this.moduleOf(name)?.deliverTick(trigger, tick) ?? Promise.resolve(), this.logger);
    this.runner = new JobRunner(this.clock, this.logger);
    if (options.retention) this.runner.retention = options.retention;
    this.jobs$ = this.runner.jobs$;
  }

  /** Follows a loaded module's timers and tasks, before its actor and feeds start: no commit of it can be missed. */
  async attach(module: JobModule): Promise<void> {
    this.timers.track(module.name, await ModuleTimers.load(module.store));
    const index = module.runsJobs ? await ModuleJobs.load(module.store) : undefined;
    this.attached.set(module.name, { module, index });
  }

  /** A commit of the module wrote these keys: its timers and tasks follow. */
  committed(name: string, writes: readonly Write[]): void {
    this.timers.committed(name, writes);
    if (this.attached.get(name)?.index?.apply(writes)) this.runner.committed(name);
  }

  /** The module committed block `number` of `chainId`: its block timers up to there fire. */
  blockHandled(name: string, chainId: bigint, number: bigint): void {
    this.timers.blockHandled(name, chainId, number);
  }

  /** An enqueue of the module was refused by its rate limiter. */
  rateLimited(name: string): void {
    this.runner.rateLimited(name);
  }

  /** Once the module serves: timers that fell due while it was away, and its latest missed cron tick, fire now. */
  async startTimers(name: string): Promise<void> {
    const module = this.moduleOf(name);
    if (!module) return;
    this.timers.activate(name, await module.handledBlocks());
    this.cron.add(name, module.cronTriggers, await lastTicks(module.store, module.cronTriggers));
  }

  /** Once the module serves: its `module-activated` task is queued, and its pending tasks start. */
  async startJobs(name: string): Promise<void> {
    const attached = this.attached.get(name);
    if (!attached?.index) return;
    await this.enqueueLifecycle(attached.module, 'module-activated');
    this.runner.add(attached.module, attached.index);
  }

  /**
   * Tasks of modules that have state here but are not attached at start are skipped (`module-gone`), as
   * a job whose module went away would be: they would otherwise wait forever for a module that may
   * never come back, or run on another version of it. On a store shared by replicas only the modules
   * this replica owns are looked at: another replica's tasks are its own (and opening its module here
   * would take its lease).
   */
  async skipAbsent(store: EngineStore): Promise<void> {
    const names = isOwnedStore(store) ? [...store.owned().keys()] : await store.moduleNames();
    for (const name of names) {
      if (this.attached.has(name)) continue;
      const state = await store.module(name);
      for (const job of await pendingJobs(state)) await this.runner.skipAbsent(state, job);
    }
  }

  /** The module is being unloaded: no timer or tick of it fires any more. */
  detach(name: string): void {
    this.timers.remove(name);
    this.cron.remove(name);
  }

  /** The module never started (its actor could not): it is forgotten without its lifecycle tasks. */
  forget(name: string): void {
    this.detach(name);
    this.attached.delete(name);
  }

  /** The runner lets go of the module: no task of it starts; resolves once its running ones have ended. */
  release(name: string): Promise<void> {
    return this.runner.remove(name);
  }

  /**
   * The module's actor is gone: its `module-deactivated` task runs (and `module-uninstalled`, when
   * asked), then it is forgotten. A handover (the module moves to another replica, which goes on with
   * its tasks) runs no lifecycle task: the module is not deactivated, only served elsewhere.
   */
  async retire(name: string, uninstall: boolean, handover = false): Promise<void> {
    const attached = this.attached.get(name);
    // Forgotten only after its lifecycle tasks: their commits must still reach its task index.
    if (attached?.index && !handover) {
      await this.runLifecycle(attached, 'module-deactivated');
      if (uninstall) await this.runLifecycle(attached, 'module-uninstalled');
    }
    if (this.attached.get(name) === attached) this.attached.delete(name);
  }

  /** Stops firing timers and cron ticks (the first step of the engine's stop). */
  stopSchedules(): void {
    this.timers.stop();
    this.cron.stop();
  }

  /** Stops starting tasks; resolves once the running ones have ended. */
  stopRunner(): Promise<void> {
    return this.runner.stop();
  }

  /** Each module's `module-deactivated` task, last, after its events and jobs (no retry: one that fails is dead-lettered); then `jobs$` ends. */
  async close(): Promise<void> {
    await Promise.all([...this.attached.values()].filter((a) => a.index).map((a) => this.runLifecycle(a, 'module-deactivated')));
    this.runner.close();
  }

  /**
   * Tasks from the embedding application, committed in one batch: `run-job` runs each as if the module
   * had enqueued it (`enqueuedBy: { engine: 'embedder' }`). The module's rate limit does not apply; its
   * retry default and ceiling do. Resolves with the tasks' ids.
   */
  async enqueue(module: JobModule, taskType: string, payloads: readonly string[], options: { delayMs?: number; maxRetry?: number }): Promise<string[]> {
    const name = module.name;
    if (!this.attached.get(name)?.index) throw new EngineError('invalid-option', `module ${name} does not export run-job`, { module: name });
    for (const payload of payloads) {
      const problem = taskProblem(taskType, payload);
      if (problem) throw new EngineError('invalid-option', `a task for ${name}: ${problem}`, { module: name, taskType });
    }
    const delay = options.delayMs ?? 0;
    if (!Number.isSafeInteger(delay) || delay < 0) throw new EngineError('invalid-option', `delayMs ${delay} is not a duration`, { module: name, option: 'delayMs' });
    const now = this.clock.now();
    const maxRetry = Math.min(options.maxRetry ?? module.retry, module.maxRetry);
    const tasks: Job[] = payloads.map((payload) => ({ id: newJobId(now), module: name, type: `module:${name}:${taskType}`, version: module.version, payload, enqueuedBy: { engine: 'embedder' }, enqueuedAt: now, runAt: now + delay, attempts: 0, maxRetry }));
    await module.store.commitWith((tx) => {
      for (const job of tasks) tx.setNew(jobKey(job.id), encodeJob(job), undefined, job);
      return true;
    });
    return tasks.map((job) => job.id);
  }

  /** The ids of a module's tasks running now (the read API's `state=running`). */
  runningIds(name: string): string[] {
    return this.runner.runningIds(name);
  }

  /** A module's queue: tasks pending and running, and what became of those that ran since the engine started. */
  stats(name: string): JobStats {
    const counts = this.runner.counters(name) ?? { done: 0, retried: 0, dead: 0, skipped: {}, conflicts: 0, rateLimited: 0, deadLetters: 0 };
    return { ...counts, skipped: { ...counts.skipped }, pending: this.attached.get(name)?.index?.size ?? 0, running: this.runner.running(name) };
  }

  /** Whether the module has a queue (exports `run-job`). */
  runsJobs(name: string): boolean {
    return this.attached.get(name)?.index !== undefined;
  }

  /** A module's pending tasks, by id. */
  pending(module: JobModule): Promise<Job[]> {
    return pendingJobs(module.store);
  }

  /** A module's dead-lettered tasks (each with its last error), by id. */
  dead(module: JobModule): Promise<Job[]> {
    return deadJobs(module.store);
  }

  /** Retries a dead-lettered task by hand: pending again, due now, its attempts reset. */
  async retry(module: JobModule, id: string): Promise<Job> {
    const job = await retryDead(module.store, id, this.clock.now());
    this.runner.deadLetterRetried(module.name);
    return job;
  }

  /** Resolves once no task of `name` (of any module, when absent) is running or due. */
  settled(name?: string): Promise<void> {
    return this.runner.idle(name);
  }

  private moduleOf(name: string): JobModule | undefined {
    return this.attached.get(name)?.module;
  }

  /** Queues a lifecycle task of the module (a durable task like any other, due now). */
  private async enqueueLifecycle(module: JobModule, task: LifecycleTask): Promise<Job> {
    const now = this.clock.now();
    const job: Job = { id: newJobId(now), module: module.name, type: `module:${module.name}:${task}`, version: module.version, payload: '', enqueuedBy: { engine: task }, enqueuedAt: now, runAt: now, attempts: 0, maxRetry: 0 };
    await module.store.commitWith((tx) => (tx.set(jobKey(job.id), encodeJob(job), undefined, job), true));
    return job;
  }

  /**
   * Queues a lifecycle task and runs it now, outside the runner (which has let go of the module). It
   * gets the shutdown timeout: a run still going then is ended (its job instances' worker terminated),
   * and, as a task without retries, dead-lettered.
   */
  private async runLifecycle({ module, index }: Attached, task: LifecycleTask): Promise<void> {
    try {
      const job = await this.enqueueLifecycle(module, task);
      const run = this.runner.runOnce(module, index!, job);
      let timer: unknown;
      const expired = new Promise<'expired'>((resolve) => (timer = this.clock.setTimeout(() => resolve('expired'), this.shutdownTimeoutMs)));
      const how = await Promise.race([run.then(() => 'ran' as const), expired]);
      this.clock.clearTimeout(timer);
      if (how === 'expired') {
        this.logger.warn({ module: module.name, task, timeoutMs: this.shutdownTimeoutMs }, 'a lifecycle task ran past the shutdown timeout: ended');
        module.killJobs();
        await run;
      }
    } catch (error) {
      this.logger.error({ module: module.name, task, err: error }, 'a lifecycle task could not run');
    }
  }
}
