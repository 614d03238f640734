import { CorralError } from './CorralError.ts';

export type EngineErrorCode =
  | 'invalid-option' // an option or argument is out of range or malformed (details name it)
  | 'unknown-module' // no module (or actor) of that name runs here
  | 'duplicate-module' // two modules (or actors) share a name
  | 'invalid-trigger' // a module's triggers contradict each other or name an unconfigured chain
  | 'chain-mismatch' // a chain's RPC endpoint serves another chain id
  | 'chain-unreachable' // a chain's RPC endpoint did not answer at start
  | 'unknown-job' // no dead-lettered job of that id in the module
  | 'stopped'; // the engine (or supervisor) has stopped

/** Something an embedder or operator asked of the engine that it cannot do. The engine keeps running. */
export class EngineError extends CorralError<EngineErrorCode> {
  override readonly name = 'EngineError';

  constructor(code: EngineErrorCode, shortMessage: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(code, shortMessage, details, cause);
  }
}
