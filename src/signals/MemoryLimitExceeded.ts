import { RuntimeSignal, type InvocationContext } from './RuntimeSignal.ts';

export interface MemoryLimitExceededData extends InvocationContext {
  signal: 'MemoryLimitExceeded';
  limitBytes: number;
  /** The memory size the refused `memory.grow` asked for, in bytes. */
  requestedBytes: number;
}

/**
 * The guest trapped after a `memory.grow` beyond the cap was refused in this invocation. A guest that
 * copes with the refusal and returns normally gets no signal.
 */
export class MemoryLimitExceeded extends RuntimeSignal {
  override readonly name = 'MemoryLimitExceeded' as const;
  readonly limitBytes: number;
  readonly requestedBytes: number;

  constructor(data: Omit<MemoryLimitExceededData, 'signal'>) {
    super(
      `${data.component}.${data.exportName} asked for ${data.requestedBytes} bytes of memory (cap ${data.limitBytes})`,
      data,
    );
    this.limitBytes = data.limitBytes;
    this.requestedBytes = data.requestedBytes;
  }

  toData(): MemoryLimitExceededData {
    return { signal: this.name, ...this.context, limitBytes: this.limitBytes, requestedBytes: this.requestedBytes };
  }
}
