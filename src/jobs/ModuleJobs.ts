import type { ModuleStore, Write } from '../store/EngineStore.ts';
import { JOB_PREFIX, prefixLimit, suffixOf } from '../store/reservedKeys.ts';
import { decodeJob, type Job } from './Job.ts';

/**
 * One module's pending tasks, mirrored from its store (loaded at start, then kept in step with every
 * commit's writes), ordered by when they may run. The store is the truth; this is the runner's index.
 * A min-heap with lazy removal: entries of tasks deleted or rescheduled since are skipped when popped.
 */
export class ModuleJobs {
  private readonly jobs = new Map<string, Job>();
  /** Each task's stored record, in bytes: what its completion takes off the module's stored size. */
  private readonly bytes = new Map<string, number>();
  private heap: { runAt: number; id: string }[] = [];

  static async load(store: ModuleStore): Promise<ModuleJobs> {
    const index = new ModuleJobs();
    for await (const key of store.keys({ gte: JOB_PREFIX, lt: prefixLimit(JOB_PREFIX), limit: -1 })) {
      const value = await store.get(key);
      const job = value && decodeJob(value);
      if (job) index.put(job, value.byteLength);
    }
    return index;
  }

  /** Applies a commit's writes; true when a task was added, rescheduled or removed. */
  apply(writes: readonly Write[]): boolean {
    let changed = false;
    for (const write of writes) {
      const id = suffixOf(write.key, JOB_PREFIX);
      if (id === undefined) continue;
      changed = true;
      if (write.value === null) {
        this.jobs.delete(id);
        this.bytes.delete(id);
      } else {
        const job = decodeJob(write.value, write.decoded);
        if (job) this.put(job, write.value.byteLength);
      }
    }
    return changed;
  }

  /** Puts a task taken off the heap back, as it stands now (a run that gave up without an attempt). */
  requeue(job: Job): void {
    const current = this.jobs.get(job.id);
    if (current) this.push({ runAt: current.runAt, id: current.id });
  }

  get(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  /** The byte length of task `id`'s stored record, as the last commit seen left it. */
  storedBytes(id: string): number | undefined {
    return this.bytes.get(id);
  }

  get size(): number {
    return this.jobs.size;
  }

  list(): Job[] {
    return [...this.jobs.values()];
  }

  /**
   * The next task due at `now` for which `busy` is false, taken off the heap; tasks that are busy are
   * kept for later. Undefined when none is due.
   */
  takeDue(now: number, busy: (id: string) => boolean): Job | undefined {
    const kept: { runAt: number; id: string }[] = [];
    let found: Job | undefined;
    while (this.heap.length > 0 && this.heap[0]!.runAt <= now) {
      const entry = this.pop();
      const job = this.jobs.get(entry.id);
      if (!job || job.runAt !== entry.runAt) continue; // deleted or rescheduled since
      if (busy(entry.id)) {
        kept.push(entry);
        continue;
      }
      found = job;
      break;
    }
    for (const entry of kept) this.push(entry);
    return found;
  }

  /** When the earliest task that is not due yet may run, if any. */
  nextAt(): number | undefined {
    return this.heap[0]?.runAt;
  }

  private put(job: Job, bytes: number): void {
    const before = this.jobs.get(job.id);
    this.jobs.set(job.id, job);
    this.bytes.set(job.id, bytes);
    if (before?.runAt !== job.runAt || !before) this.push({ runAt: job.runAt, id: job.id });
  }

  private push(entry: { runAt: number; id: string }): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): { runAt: number; id: string } {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  }
}

const before = (a: { runAt: number; id: string }, b: { runAt: number; id: string }) => a.runAt < b.runAt || (a.runAt === b.runAt && a.id < b.id);
