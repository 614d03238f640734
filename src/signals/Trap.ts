import { RuntimeSignal, type InvocationContext } from './RuntimeSignal.ts';

/**
 * The closed set of trap codes (after wasmtime's). `host-error` is a host function that threw;
 * `exit` is a WASI guest that called `wasi:cli/exit` with a failure (its `status` is set);
 * `unknown` is anything V8 reported that maps to none of the others.
 * `null-reference` cannot be provoked on Node 20 (it needs typed function references) but is kept
 * so the set does not change when it can.
 */
export const TRAP_CODES = [
  'unreachable',
  'memory-out-of-bounds',
  'stack-overflow',
  'integer-divide-by-zero',
  'integer-overflow',
  'bad-conversion',
  'indirect-call-type-mismatch',
  'null-reference',
  'table-out-of-bounds',
  'host-error',
  'exit',
  'unknown',
] as const;
export type TrapCode = (typeof TRAP_CODES)[number];

/** An error from the host side of an import, as data. */
export interface HostErrorData {
  name: string;
  message: string;
  stack?: string;
  /**
   * `HostCallTooLarge` (the arguments or the result did not fit the host-call buffer,
   * `hostCallBufferBytes`): which half, its size in bytes, the buffer's, and the host function.
   */
  direction?: 'arguments' | 'result';
  bytes?: number;
  capacity?: number;
  function?: string;
}

export interface TrapData extends InvocationContext {
  signal: 'Trap';
  code: TrapCode;
  message: string;
  /** Set when `code` is `host-error`: what the host function threw. */
  hostError?: HostErrorData;
  /** Set when `code` is `exit`: the status the guest passed to `wasi:cli/exit` (non-zero). */
  status?: number;
}

/** The guest trapped, or a host function it called threw. Lowest priority of the signals. */
export class Trap extends RuntimeSignal {
  override readonly name = 'Trap' as const;
  readonly code: TrapCode;
  /** What V8 (or the host function) said, without the component and export in front. */
  readonly reason: string;
  readonly hostError: HostErrorData | undefined;
  readonly status: number | undefined;

  constructor(data: Omit<TrapData, 'signal'>) {
    super(`${data.component}.${data.exportName} trapped (${data.code}): ${data.message}`, data);
    this.code = data.code;
    this.reason = data.message;
    this.hostError = data.hostError;
    this.status = data.status;
  }

  toData(): TrapData {
    const data: TrapData = { signal: this.name, ...this.context, code: this.code, message: this.reason };
    if (this.hostError) data.hostError = this.hostError;
    if (this.status !== undefined) data.status = this.status;
    return data;
  }
}
