import { RuntimeSignal, type InvocationContext } from './RuntimeSignal.ts';

/** What a guest asked more of than its cap allows: linear memory, or table entries (see TABLE_ENTRY_BYTES). */
export type MemoryResource = 'memory' | 'table';

export interface MemoryLimitExceededData extends InvocationContext {
  signal: 'MemoryLimitExceeded';
  /** What grew. Absent in data from before tables were capped: it was memory then. */
  resource?: MemoryResource;
  limitBytes: number;
  /** The size the refused growth asked for, in bytes (table entries at TABLE_ENTRY_BYTES each). */
  requestedBytes: number;
}

/**
 * The guest trapped after a `memory.grow` or `table.grow` beyond the cap was refused in this invocation
 * (or its module declared tables larger than the cap). A guest that copes with the refusal and returns
 * normally gets no signal.
 */
export class MemoryLimitExceeded extends RuntimeSignal {
  override readonly name = 'MemoryLimitExceeded' as const;
  readonly resource: MemoryResource;
  readonly limitBytes: number;
  readonly requestedBytes: number;

  constructor(data: Omit<MemoryLimitExceededData, 'signal'>) {
    const resource = data.resource ?? 'memory';
    super(
      `${data.component}.${data.exportName} asked for ${data.requestedBytes} bytes of ${resource === 'table' ? 'table entries' : 'memory'} (cap ${data.limitBytes})`,
      data,
    );
    this.resource = resource;
    this.limitBytes = data.limitBytes;
    this.requestedBytes = data.requestedBytes;
  }

  toData(): MemoryLimitExceededData {
    return { signal: this.name, ...this.context, resource: this.resource, limitBytes: this.limitBytes, requestedBytes: this.requestedBytes };
  }
}
