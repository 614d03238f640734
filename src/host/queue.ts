import type * as Queue from './generated/corral-module-queue.js';
import { dedupeId, dedupeUntil, encodeJob, newJobId, taskProblem, type Job } from '../jobs/Job.ts';
import { IDEMPOTENCY_WINDOW_MS } from '../limits/defaults.ts';
import { dedupeKey, jobKey } from '../store/reservedKeys.ts';
import type { RateLimiter } from '../jobs/RateLimiter.ts';
import { fault } from './fault.ts';
import type { HostImplementation } from './HostImplementation.ts';
import type { InvocationScope } from './InvocationScope.ts';

/** What the queue host of one invocation needs besides its scope. */
export interface QueueContext {
  /** The manifest grants `queue`. A component importing it without the grant is refused at load; this answers `denied` to any call that gets here anyway. */
  granted: boolean;
  /** sha256 of the module's component: stored with each task (its version). */
  version: string;
  now: () => number;
  /** The module's enqueue rate limiter (shared by all its invocations). */
  rate: RateLimiter;
  /** Retries a task gets unless it asks for fewer (`[modules.jobs] retry`), and the most it may ask for (`max_retry`). */
  retry: number;
  maxRetry: number;
  enqueuedBy: Job['enqueuedBy'];
  /** Told of every enqueue refused by the rate limiter. */
  rateLimited: () => void;
}

/**
 * `corral:module/queue`: a task is staged in the invocation's overlay (a key in the module's reserved
 * range, src/store/reservedKeys.ts) and exists only if the invocation commits. Each call counts toward
 * `storeOps`, the record's bytes toward `storeBytesWritten` and, once committed, `storedBytes`.
 */
export function queueHost(scope: InvocationScope, context: QueueContext): HostImplementation<typeof Queue> {
  const tx = scope.transaction;
  /** `fresh`: a new task's key, never committed before (see StateTransaction.setNew). */
  const stage = (key: Uint8Array, value: Uint8Array, fresh = false, decoded?: Job) => {
    scope.charge('storeBytesWritten', key.byteLength + value.byteLength);
    const admit = (sizeDelta: number) => scope.check('storedBytes', scope.state.storedBytes + sizeDelta);
    if (fresh) tx.setNew(key, value, admit, decoded);
    else tx.set(key, value, admit, decoded);
  };
  /** The id of a task already answering to `key` within its window, if any. */
  const existing = (key: Uint8Array, now: number): string | undefined => {
    const stored = tx.get(key);
    if (!stored || dedupeUntil(stored) <= now) return undefined;
    return dedupeId(stored);
  };
  return {
    enqueue(taskType: string, payload: string, opts: Queue.EnqueueOptions): string {
      scope.charge('storeOps');
      if (!context.granted) throw fault({ tag: 'denied', val: `${scope.module} has no queue grant` });
      const problem = taskProblem(taskType, payload);
      if (problem) throw fault({ tag: 'invalid-input', val: problem });
      const delay = Number(opts.delayMs);
      const uniqueFor = Number(opts.uniqueForMs);
      if (!Number.isSafeInteger(delay) || delay < 0) throw fault({ tag: 'invalid-input', val: `delay-ms ${opts.delayMs} is not a duration` });
      if (!Number.isSafeInteger(uniqueFor) || uniqueFor < 0) throw fault({ tag: 'invalid-input', val: `unique-for-ms ${opts.uniqueForMs} is not a duration` });
      const key = opts.idempotencyKey;
      if (key !== undefined && (key.length === 0 || Buffer.byteLength(key, 'utf8') > 256)) throw fault({ tag: 'invalid-input', val: 'idempotency-key: 1 to 256 bytes' });

      const now = context.now();
      const type = `module:${scope.module}:${taskType}`;
      const dedupe: [Uint8Array, number][] = [];
      if (uniqueFor > 0) dedupe.push([dedupeKey('unique', type, payload), uniqueFor]);
      if (key !== undefined) dedupe.push([dedupeKey('idempotency', key), IDEMPOTENCY_WINDOW_MS]);
      for (const [k] of dedupe) {
        const id = existing(k, now);
        if (id !== undefined) return id; // a duplicate takes no rate token: nothing is enqueued
      }
      if (!context.rate.take()) {
        context.rateLimited();
        throw fault({ tag: 'limit', val: 'rate' });
      }
      const job: Job = {
        id: newJobId(now),
        module: scope.module,
        type,
        version: context.version,
        payload,
        enqueuedBy: context.enqueuedBy,
        enqueuedAt: now,
        runAt: now + delay,
        attempts: 0,
        maxRetry: Math.min(opts.maxRetry ?? context.retry, context.maxRetry),
      };
      stage(jobKey(job.id), encodeJob(job), true, job);
      for (const [k, window] of dedupe) stage(k, Buffer.from(JSON.stringify({ id: job.id, until: now + window }), 'utf8'));
      return job.id;
    },
  };
}
