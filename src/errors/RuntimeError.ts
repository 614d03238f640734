import { CorralError } from './CorralError.ts';

export type RuntimeErrorCode =
  | 'closed' // the runtime was closed; no further calls are accepted
  | 'invalid-option' // a runtime option or a limit is out of range (details name it and the value)
  | 'checkout-timeout' // no instance became free within `checkoutTimeoutMs`
  | 'unknown-export' // the component has no such export
  | 'invalid-arguments'; // the arguments do not fit the export's parameters

/** A call that could not be started. Unlike a signal, no guest code ran. */
export class CorralRuntimeError extends CorralError<RuntimeErrorCode> {
  override readonly name = 'CorralRuntimeError';

  constructor(code: RuntimeErrorCode, message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(code, message, details, cause);
  }
}
