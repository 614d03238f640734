import { CorralError } from '../errors/CorralError.ts';

export interface RpcDataErrorDetails {
  chainId: string;
  /** The RPC method whose answer was malformed. */
  method: string;
  /** Path of the bad field in the answer, e.g. `logs[3].blockNumber`. */
  field: string;
  /** What the field held (truncated). */
  value: string;
  /** What was expected there. */
  expected: string;
}

/**
 * An RPC node answered with something that is not a well-formed block or log (a missing field, a
 * wrong type, a number that goes backwards). Such data never reaches a guest; the engine logs this
 * error and carries on.
 */
export class RpcDataError extends CorralError<'malformed' | 'inconsistent', RpcDataErrorDetails> {
  override readonly name = 'RpcDataError';

  constructor(code: 'malformed' | 'inconsistent', details: RpcDataErrorDetails) {
    super(code, `chain ${details.chainId}: ${details.method} returned ${details.field} = ${details.value}; expected ${details.expected}`, details);
  }
}
