import { Worker } from 'node:worker_threads';
import { LoadError, type LoadErrorCode } from '../errors/LoadError.ts';
import { findCachedArtifact, type PreparedArtifact } from './prepareArtifact.ts';

export interface PrepareRequest {
  bytes: Uint8Array;
  name: string;
  source: string;
  cacheDir: string;
}

export type PrepareReply =
  | { ok: true; artifact: PreparedArtifact }
  | { ok: false; error: { code?: LoadErrorCode; message: string; details?: Record<string, unknown> } };

const ENTRY = new URL(import.meta.url.endsWith('.ts') ? './prepare-entry.mjs' : './prepareWorker.js', import.meta.url);

/**
 * Returns the prepared artifact of a component: from the on-disk cache when it is there, else built
 * (transpiled and instrumented) on a short-lived worker thread, so a 1 s instrumentation of a large
 * guest never stalls the main thread, where other components' host calls are being answered.
 */
export async function prepareInWorker(request: PrepareRequest): Promise<PreparedArtifact> {
  const cached = await findCachedArtifact(request.bytes, request.cacheDir);
  if (cached) return cached;
  const worker = new Worker(ENTRY, { workerData: request });
  try {
    const reply = await new Promise<PrepareReply>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`prepare worker exited with code ${code}`)));
    });
    if (reply.ok) return reply.artifact;
    const { code, message, details } = reply.error;
    throw new LoadError(code ?? 'invalid-component', message, details ?? { source: request.source });
  } finally {
    await worker.terminate();
  }
}
