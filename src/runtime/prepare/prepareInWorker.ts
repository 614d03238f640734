// Runs on the main thread: the door to the prepare thread (prepareWorker.ts), which does the work.
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { LoadError, type LoadErrorCode } from '../../errors/LoadError.ts';
import { artifactLocationOf, findCachedArtifact, type PreparedArtifact } from './prepareArtifact.ts';

export interface PrepareRequest {
  bytes: Uint8Array;
  /** The bytes' sha256, when the caller has it already (it is not computed again on the main thread). */
  sha256?: string;
  name: string;
  source: string;
  cacheDir: string;
}

export type PrepareReply =
  | { ok: true; artifact: PreparedArtifact }
  | { ok: false; error: { code?: LoadErrorCode; message: string; details?: Record<string, unknown> } };

/** What crosses to the prepare thread and back: a request and its reply, matched by `id`. */
export interface PrepareMessage {
  id: number;
  request: PrepareRequest;
}
export interface PrepareAnswer {
  id: number;
  reply: PrepareReply;
}

const ENTRY = new URL(import.meta.url.endsWith('.ts') ? './prepare-entry.mjs' : './prepareWorker.js', import.meta.url);

/**
 * The one thread that prepares components, started on the first cache miss and kept. A fresh thread
 * per preparation cost ~5 MiB of RSS each that never came back (glibc keeps each thread's malloc
 * arena); one long-lived thread reuses its arena and its loaded jco. It does not hold the process
 * open while idle, and one that died is replaced at the next request.
 */
class PrepareThread {
  /** Threads started so far (for tests: preparing N components starts one). */
  started = 0;
  /** Preparations asked of it so far (for tests: N loads of the same bytes at once ask one). */
  requests = 0;
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (reply: PrepareReply) => void; reject: (error: Error) => void }>();

  prepare(request: PrepareRequest): Promise<PrepareReply> {
    const worker = this.running();
    this.requests++;
    const id = this.nextId++;
    return new Promise<PrepareReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, request } satisfies PrepareMessage);
    });
  }

  private running(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(ENTRY);
    this.started++;
    worker.on('message', ({ id, reply }: PrepareAnswer) => {
      const waiting = this.pending.get(id);
      this.pending.delete(id);
      if (this.pending.size === 0) worker.unref();
      waiting?.resolve(reply);
    });
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = null;
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
    worker.once('error', fail);
    worker.once('exit', (code) => fail(new Error(`prepare worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }
}

const thread = new PrepareThread();

/** How many prepare threads this process started: one, however many components it prepared. */
export function prepareThreadsStarted(): number {
  return thread.started;
}

/** Preparations in flight, by artifact key: modules loading the same bytes at once share one. */
const inFlight = new Map<string, Promise<PreparedArtifact>>();

/** How many preparations this process asked of the prepare thread (cache misses, one per bytes in flight). */
export function preparationsRequested(): number {
  return thread.requests;
}

/**
 * Returns the prepared artifact of a component: from the on-disk cache when it is there, else built
 * (transpiled and instrumented) on the prepare thread, so a 1 s instrumentation of a large guest
 * never stalls the main thread, where other components' host calls are being answered. Loads of the
 * same bytes at the same time (an engine starting 1,000 modules of one component) share one
 * preparation and one read of the cache.
 */
export function prepareInWorker(request: PrepareRequest): Promise<PreparedArtifact> {
  const sha256 = request.sha256 ?? createHash('sha256').update(request.bytes).digest('hex');
  const { key } = artifactLocationOf(sha256, request.cacheDir);
  const running = inFlight.get(key);
  if (running) return running;
  const prepared = prepareOnce(request, sha256).finally(() => inFlight.delete(key));
  inFlight.set(key, prepared);
  return prepared;
}

async function prepareOnce(request: PrepareRequest, sha256: string): Promise<PreparedArtifact> {
  const cached = await findCachedArtifact(sha256, request.cacheDir);
  if (cached) return cached;
  const reply = await thread.prepare(request);
  if (reply.ok) return reply.artifact;
  const { code, message, details } = reply.error;
  throw new LoadError(code ?? 'invalid-component', message, details ?? { source: request.source });
}
