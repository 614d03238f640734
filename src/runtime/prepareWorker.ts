/** Body of the short-lived thread that transpiles and instruments one component (see prepareInWorker.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { LoadError } from '../errors/LoadError.ts';
import { prepareArtifact } from './prepareArtifact.ts';
import type { PrepareReply, PrepareRequest } from './prepareInWorker.ts';

const { bytes, name, source, cacheDir } = workerData as PrepareRequest;
let reply: PrepareReply;
try {
  reply = { ok: true, artifact: await prepareArtifact(bytes, name, source, cacheDir) };
} catch (error) {
  reply =
    error instanceof LoadError
      ? { ok: false, error: { code: error.code, message: error.message, details: { ...error.details } } }
      : { ok: false, error: { message: `preparing ${source} failed: ${(error as Error).message}` } };
}
parentPort!.postMessage(reply);
