/**
 * Runs in the prepare thread, as its body: the long-lived thread that transpiles and instruments
 * components (prepareArtifact.ts, ../fuel/). Its main-thread side, which starts it and sends it
 * requests, is prepareInWorker.ts.
 */
import { setFlagsFromString } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { LoadError } from '../../errors/LoadError.ts';
import { prepareArtifact } from './prepareArtifact.ts';
import type { PrepareAnswer, PrepareMessage, PrepareReply, PrepareRequest } from './prepareInWorker.ts';

// The fuel rewriter has V8 validate what it wrote; QuickJS guests use extended-const, on by default only
// from Node 22 (as in worker.ts; V8 flags are process-wide).
if (Number(process.versions.node.split('.')[0]) < 22) setFlagsFromString('--experimental-wasm-extended-const');

async function prepare({ bytes, name, source, cacheDir }: PrepareRequest): Promise<PrepareReply> {
  try {
    return { ok: true, artifact: await prepareArtifact(bytes, name, source, cacheDir) };
  } catch (error) {
    return error instanceof LoadError
      ? { ok: false, error: { code: error.code, message: error.message, details: { ...error.details } } }
      : { ok: false, error: { message: `preparing ${source} failed: ${(error as Error).message}` } };
  }
}

// One preparation at a time: they are CPU-bound anyway, and loading binaryen toggles the module
// loader for the whole thread (prepare-entry.mjs).
let queue: Promise<void> = Promise.resolve();
parentPort!.on('message', ({ id, request }: PrepareMessage) => {
  queue = queue.then(async () => parentPort!.postMessage({ id, reply: await prepare(request) } satisfies PrepareAnswer));
});
