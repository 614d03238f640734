import { randomBytes } from 'node:crypto';
import { MAX_PAYLOAD_BYTES } from '../limits/defaults.ts';
import type { Bytes } from '../store/EngineStore.ts';

/**
 * A task of a module's queue, as stored. Tasks live in the module's own state, in corral's reserved
 * range (`corral/job/<id>`, dead ones under `corral/dead/`: src/store/reservedKeys.ts): an enqueue commits with the
 * invocation that made it, a job's completion with the job's writes, and a reorg's undo takes back
 * what a retracted block enqueued unless another source (the runner starting, failing or dead-lettering
 * it) wrote the task since: that later write stands (see src/store/ReorgMarks.ts). They count toward the
 * module's `storedBytes`.
 */
export interface Job {
  id: string;
  module: string;
  /** `module:<name>:<task-type>`: the host's name for it; `run-job` gets the part after the second colon. */
  type: string;
  /** sha256 of the component that enqueued it: another version skips it (`version-mismatch`). */
  version: string;
  payload: string;
  /** What enqueued it: an event (its kind and cursor), a job (its id), or the engine (a lifecycle task). */
  enqueuedBy: { event: string; cursor?: unknown } | { job: string } | { engine: string };
  enqueuedAt: number;
  /** Not before this time (epoch ms): the enqueue's delay, or a retry's backoff. */
  runAt: number;
  /** Failed runs so far. */
  attempts: number;
  /** Failed runs after the first that are retried; one more and it is dead-lettered. */
  maxRetry: number;
  lastError?: string;
  /** When it was dead-lettered. */
  deadAt?: number;
}

/** The lifecycle tasks the engine enqueues itself; a module cannot enqueue these types. */
export const LIFECYCLE_TASKS = ['module-activated', 'module-deactivated', 'module-uninstalled'] as const;
export type LifecycleTask = (typeof LIFECYCLE_TASKS)[number];

/** A module's task types: 1–64 of `a-z 0-9 . _ -` (no `:`: the host's prefix cannot be forged). */
export const TASK_TYPE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** What is wrong with a task a module (or the embedder) asks for, or undefined when nothing is. */
export function taskProblem(taskType: string, payload: string): string | undefined {
  if (!TASK_TYPE.test(taskType)) return `task type ${JSON.stringify(taskType)}: 1 to 64 of a-z 0-9 . _ - (starting with a letter or digit)`;
  if ((LIFECYCLE_TASKS as readonly string[]).includes(taskType)) return `task type ${taskType} is the engine's (a lifecycle task)`;
  const bytes = Buffer.byteLength(payload, 'utf8');
  if (bytes > MAX_PAYLOAD_BYTES) return `payload of ${bytes} bytes; at most ${MAX_PAYLOAD_BYTES}`;
  return undefined;
}

/** Random per process, so two engines (or two runs) never mint the same id; then a counter. */
const ID_PREFIX = randomBytes(4).toString('hex');
let idCounter = 0;

/** A new task id: enqueue time first (ids sort roughly by age), then this process's prefix and a counter. */
export function newJobId(now: number): string {
  idCounter = (idCounter + 1) % 0x1000000;
  return `${Math.max(0, Math.floor(now)).toString(36).padStart(9, '0')}-${ID_PREFIX}${idCounter.toString(16).padStart(6, '0')}`;
}

export const encodeJob = (job: Job): Bytes => Buffer.from(JSON.stringify(job), 'utf8');

/**
 * A stored task, or undefined when the record is not one (only corral writes these keys, but a record
 * that would break the runner's ordering, a NaN `runAt` say, must not get in: it is skipped, not fatal).
 * `known`: the task the record was encoded from in this process (Write.decoded), checked the same way
 * but not parsed again (the runner's index reads every task enqueued back from its commit: parsing
 * each one cost ~4 % of the main thread in a run of trivial jobs).
 */
export function decodeJob(value: Bytes, known?: unknown): Job | undefined {
  let job = known as Partial<Job> | undefined;
  if (job === undefined) {
    try {
      job = JSON.parse(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8')) as Partial<Job>;
    } catch {
      return undefined;
    }
  }
  if (typeof job !== 'object' || job === null) return undefined;
  const { id, module, type, version, payload, enqueuedBy, enqueuedAt, runAt, attempts, maxRetry } = job;
  const count = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  const ok =
    typeof id === 'string' &&
    typeof module === 'string' &&
    typeof type === 'string' &&
    type.startsWith(`module:${module}:`) &&
    typeof version === 'string' &&
    typeof payload === 'string' &&
    typeof enqueuedBy === 'object' &&
    enqueuedBy !== null &&
    Number.isFinite(enqueuedAt) &&
    Number.isFinite(runAt) &&
    count(attempts) &&
    count(maxRetry);
  return ok ? (job as Job) : undefined;
}

/** Until when a deduplication record holds (epoch ms); 0 for one that cannot be read (it is swept). */
export function dedupeUntil(value: Bytes): number {
  try {
    const until = (JSON.parse(Buffer.from(value).toString('utf8')) as { until?: unknown }).until;
    return typeof until === 'number' && Number.isFinite(until) ? until : 0;
  } catch {
    return 0;
  }
}

/** The task id a deduplication record answers, if it can be read. */
export function dedupeId(value: Bytes): string | undefined {
  try {
    const id = (JSON.parse(Buffer.from(value).toString('utf8')) as { id?: unknown }).id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/** The task type `run-job` sees: the part after `module:<name>:`. */
export function userType(job: Job): string {
  return job.type.slice(`module:${job.module}:`.length);
}
