/** Body of the short-lived thread that transpiles and instruments one component (see prepareInWorker.ts). */
import { setFlagsFromString } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { LoadError } from '../errors/LoadError.ts';
import { prepareArtifact } from './prepareArtifact.ts';
import type { PrepareReply, PrepareRequest } from './prepareInWorker.ts';

// The fuel rewriter has V8 validate what it wrote; QuickJS guests use extended-const, on by default only
// from Node 22 (as in worker.ts; V8 flags are process-wide).
if (Number(process.versions.node.split('.')[0]) < 22) setFlagsFromString('--experimental-wasm-extended-const');

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
