import { EngineError } from '../errors/EngineError.ts';
import type { ModuleReadView, ModuleStore } from '../store/EngineStore.ts';
import { commitStaged } from '../store/GuardedModuleStore.ts';
import type { Bytes } from '../store/EngineStore.ts';
import { DEAD_PREFIX, deadKey, jobKey, JOB_PREFIX, prefixLimit } from '../store/reservedKeys.ts';
import { decodeJob, encodeJob, type Job } from './Job.ts';

/** What listing needs: a store, or a read view of committed state. */
type Reader = Pick<ModuleReadView, 'keys' | 'get'>;

async function list(store: Reader, prefix: Uint8Array): Promise<Job[]> {
  const jobs: Job[] = [];
  for await (const key of store.keys({ gte: prefix, lt: prefixLimit(prefix), limit: -1 })) {
    const value = await store.get(key);
    const job = value && decodeJob(value);
    if (job) jobs.push(job);
  }
  return jobs;
}

/** A module's dead-lettered tasks, oldest first: each with its last error and attempts. */
export const deadJobs = (store: Reader): Promise<Job[]> => list(store, DEAD_PREFIX);

/** A module's pending tasks (including those waiting for a retry), by id. */
export const pendingJobs = (store: Reader): Promise<Job[]> => list(store, JOB_PREFIX);

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
    tx.set(jobKey(id), encodeJob(job), undefined, job);
    return true;
  });
  // A copy: `job` is the runner's index entry now, and this one reaches the embedder (engine.retryJob),
  // who may change it (found in review: a changed runAt made the index skip the task until a restart).
  return { ...job };
}

/** How many dead letters a module keeps (see `DEFAULT_DEAD_LETTERS`). */
export interface DeadLetterRetention {
  maxCount: number;
  maxAgeMs: number;
}

/** A module's dead letters as keys and when each died, oldest first (the values are not kept). */
async function deadIndex(store: ModuleStore): Promise<{ key: Bytes; deadAt: number }[]> {
  const dead: { key: Bytes; deadAt: number }[] = [];
  for await (const key of store.keys({ gte: DEAD_PREFIX, lt: prefixLimit(DEAD_PREFIX), limit: -1 })) {
    const value = store.getSync(key);
    const job = value && decodeJob(value);
    if (job) dead.push({ key: Uint8Array.from(key), deadAt: job.deadAt ?? 0 });
  }
  return dead.sort((a, b) => a.deadAt - b.deadAt);
}

/** Deletes these dead letters, a thousand per commit, each only if still there when its commit's turn comes; how many went. */
async function deleteDead(store: ModuleStore, keys: readonly Bytes[]): Promise<number> {
  let deleted = 0;
  for (let from = 0; from < keys.length; from += 1_000) {
    await commitStaged(store, (tx) => {
      for (const key of keys.slice(from, from + 1_000)) {
        if (tx.get(key) === undefined) continue;
        tx.delete(key);
        deleted++;
      }
      return true;
    });
  }
  return deleted;
}

/** Applies `retention` at `now`: the oldest past `maxCount` and any older than `maxAgeMs` go. What was deleted and what is kept. */
export async function pruneDead(store: ModuleStore, retention: DeadLetterRetention, now: number): Promise<{ deleted: number; kept: number }> {
  const dead = await deadIndex(store);
  const excess = dead.length - retention.maxCount;
  const victims = dead.filter((d, i) => i < excess || d.deadAt <= now - retention.maxAgeMs);
  const deleted = await deleteDead(store, victims.map((d) => d.key));
  return { deleted, kept: dead.length - deleted };
}

/** Deletes a module's dead letters (only those dead before `before`, when given); how many went. Their bytes go back to its `storedBytes`. */
export async function purgeDead(store: ModuleStore, before?: number): Promise<number> {
  const dead = await deadIndex(store);
  return deleteDead(store, dead.filter((d) => before === undefined || d.deadAt < before).map((d) => d.key));
}
