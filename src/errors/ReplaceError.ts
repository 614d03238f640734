import { CorralError } from './CorralError.ts';

export type ReplaceErrorCode =
  | 'capability-not-granted' // the new build imports an interface the manifest does not grant (details.capabilities: the diff)
  | 'load-failed' // the new build could not be loaded (the cause says why): the previous version serves on
  | 'not-replaceable'; // the engine cannot swap here (a store shared by replicas, where placement loads modules)

/**
 * A hot swap (`engine.replace`) that did not happen. The previous version of the module kept serving:
 * nothing of its state, cursors or queued events was touched.
 */
export class ReplaceError extends CorralError<ReplaceErrorCode> {
  override readonly name = 'ReplaceError';

  constructor(code: ReplaceErrorCode, shortMessage: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(code, shortMessage, details, cause);
  }
}
