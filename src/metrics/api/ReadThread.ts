import { Worker } from 'node:worker_threads';
import type { ReadRequest, ReadThreadAnswer, ReadThreadMessage } from './readRequest.ts';
import { READ_THREAD_START_MS } from '../../limits/defaults.ts';
import { ReadTimeout, type StateReader } from './StateReader.ts';

const ENTRY = new URL(import.meta.url.endsWith('.ts') ? './read-entry.mjs' : './readWorker.js', import.meta.url);

/** The read thread failed (could not open the database, or a read threw there): answered 500. */
export class ReadThreadError extends Error {
  override readonly name = 'ReadThreadError';
}

/**
 * The read API's own thread over a LevelDB the engine writes (docs/read-api.md "What it costs events").
 * Measured on the fan-out benchmark, a page of 100 took ~3 ms of main-thread CPU in reads, decoding and
 * JSON, every millisecond of it taken from the steps that handle events; here the main thread only
 * parses the request and writes the bytes this thread encoded, and the thread runs at the lowest
 * priority (readWorker.ts), so on busy cores it gets what the engine's threads leave. Started at the
 * first request, it does not hold the process open while idle. A read's deadline runs from the thread's
 * start (its database open, bounded by READ_THREAD_START_MS), not from the request. A read past its
 * deadline while the thread answers others fails alone; one past it with no answer since it was sent
 * means the thread is stuck or starved (a page is bounded work): it is ended, every read on it answered
 * as timed out, and the next request starts a new one.
 */
export class ReadThread implements StateReader {
  /** Threads started so far (a test's evidence that reads ran there). */
  started = 0;
  /** The thread's nice value (19: the lowest priority), once it started; null where it cannot be set. */
  nice: number | null | undefined;
  private worker: Worker | undefined;
  private nextId = 1;
  /** The current thread's start (its database open); reads' deadlines run from it. */
  private ready: Promise<void> | undefined;
  private notStarted: ((reason: unknown) => void) | undefined;
  /** Answers the threads gave so far: a read past its deadline with none since it was sent found the thread stuck. */
  private answers = 0;
  private readonly pending = new Map<number, { resolve: (json: Uint8Array) => void; reject: (error: unknown) => void }>();

  constructor(private readonly location: string) {}

  read(request: ReadRequest, deadlineMs: number): Promise<Uint8Array> {
    const worker = this.running();
    const ready = this.ready!;
    return ready.then(() => this.send(worker, request, deadlineMs));
  }

  /**
   * One read on a started thread. Past its deadline it alone is answered as timed out when the thread
   * answered anything meanwhile (slow, not stuck: the other reads go on); when it answered nothing, the
   * thread is stuck or starved, and is ended with every read on it.
   */
  private send(worker: Worker, request: ReadRequest, deadlineMs: number): Promise<Uint8Array> {
    if (this.worker !== worker) return Promise.reject(new ReadThreadError('the read thread ended before it could read'));
    const id = this.nextId++;
    const answersBefore = this.answers;
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.answers === answersBefore) return void this.stop(worker, new ReadTimeout(deadlineMs)).catch(() => {}); // its reads are already failed
        this.pending.get(id)?.reject(new ReadTimeout(deadlineMs));
      }, deadlineMs);
      const settle = () => {
        clearTimeout(timer);
        this.pending.delete(id);
        if (this.pending.size === 0) worker.unref();
      };
      this.pending.set(id, { resolve: (json) => (settle(), resolve(json)), reject: (error) => (settle(), reject(error)) });
      worker.ref();
      worker.postMessage({ kind: 'read', id, request } satisfies ReadThreadMessage);
    });
  }

  async close(): Promise<void> {
    if (this.worker) await this.stop(this.worker, new ReadThreadError('the read API is closing'));
  }

  private running(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(ENTRY);
    this.started++;
    worker.unref();
    let started!: () => void;
    this.ready = new Promise<void>((resolve, reject) => {
      started = resolve;
      this.notStarted = reject;
    });
    this.ready.catch(() => {}); // each read waiting on it reports it
    const startup = setTimeout(() => void this.stop(worker, new ReadThreadError(`the read thread did not start within ${READ_THREAD_START_MS} ms`)).catch(() => {}), READ_THREAD_START_MS);
    startup.unref();
    worker.on('message', (answer: ReadThreadAnswer) => {
      switch (answer.kind) {
        case 'started':
          this.nice = answer.nice;
          clearTimeout(startup);
          started();
          return;
        case 'read': {
          this.answers++;
          const waiting = this.pending.get(answer.id);
          if (answer.ok) waiting?.resolve(answer.json);
          else waiting?.reject(new ReadThreadError(answer.message));
          return;
        }
        default:
          return answer satisfies never;
      }
    });
    worker.once('error', (error) => void this.stop(worker, error));
    worker.once('exit', (code) => void this.stop(worker, new ReadThreadError(`the read thread exited with code ${code}`)));
    worker.postMessage({ kind: 'open', location: this.location } satisfies ReadThreadMessage);
    this.worker = worker;
    return worker;
  }

  /** Ends `worker` (if still the current one) and fails what it was reading with `reason`. */
  private async stop(worker: Worker, reason: unknown): Promise<void> {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.notStarted?.(reason);
    for (const waiting of [...this.pending.values()]) waiting.reject(reason);
    await worker.terminate();
  }
}
