import { Worker } from 'node:worker_threads';
import type { ReadRequest, ReadThreadAnswer, ReadThreadMessage } from './readRequest.ts';
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
 * first request, it does not hold the process open while idle. A read past its deadline means the
 * thread is stuck or starved (a page is bounded work): it is ended, every read on it answered as timed
 * out, and the next request starts a new one.
 */
export class ReadThread implements StateReader {
  /** Threads started so far (a test's evidence that reads ran there). */
  started = 0;
  /** The thread's nice value (19: the lowest priority), once it started; null where it cannot be set. */
  nice: number | null | undefined;
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (json: Uint8Array) => void; reject: (error: unknown) => void }>();

  constructor(private readonly location: string) {}

  read(request: ReadRequest, deadlineMs: number): Promise<Uint8Array> {
    const worker = this.running();
    const id = this.nextId++;
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => void this.stop(worker, new ReadTimeout(deadlineMs)).catch(() => {}), deadlineMs); // its reads are already failed
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
    worker.on('message', (answer: ReadThreadAnswer) => {
      switch (answer.kind) {
        case 'started':
          this.nice = answer.nice;
          return;
        case 'read': {
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
    for (const waiting of [...this.pending.values()]) waiting.reject(reason);
    await worker.terminate();
  }
}
