import { EngineError } from '../errors/EngineError.ts';
import type { ModuleStore } from '../store/EngineStore.ts';
import { commitStaged } from '../store/GuardedModuleStore.ts';
import { DEAD_PREFIX, deadKey, decodeJob, encodeJob, jobKey, JOB_PREFIX, prefixLimit, type Job } from './Job.ts';

async function list(store: ModuleStore, prefix: Uint8Array): Promise<Job[]> {
  const jobs: Job[] = [];
  for await (const key of store.keys({ gte: prefix, lt: prefixLimit(prefix), limit: -1 })) {
    const value = await store.get(key);
    const job = value && decodeJob(value);
    if (job) jobs.push(job);
  }
  return jobs;
}

/** A module's dead-lettered tasks, oldest first: each with its last error and attempts. */
export const deadJobs = (store: ModuleStore): Promise<Job[]> => list(store, DEAD_PREFIX);

/** A module's pending tasks (including those waiting for a retry), by id. */
export const pendingJobs = (store: ModuleStore): Promise<Job[]> => list(store, JOB_PREFIX);

/**
 * Retries a dead-lettered task by hand: it is pending again, due at `now`, with its attempts reset
 * (it gets its full `maxRetry` again); the version it was enqueued by stays, so a module upgraded
 * since skips it. One commit: after a crash it is either dead or pending, never both or neither.
 */
export async function retryDead(store: ModuleStore, id: string, now: number): Promise<Job> {
  const value = await store.get(deadKey(id));
  const dead = value && decodeJob(value);
  if (!dead) throw new EngineError('unknown-job', `module ${store.name} has no dead-lettered job ${id}`, { module: store.name, job: id });
  const { deadAt: _deadAt, ...rest } = dead;
  const job: Job = { ...rest, attempts: 0, runAt: now };
  await commitStaged(store, (tx) => {
    tx.delete(deadKey(id));
    tx.set(jobKey(id), encodeJob(job));
    return true;
  });
  return job;
}
