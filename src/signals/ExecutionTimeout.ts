import { RuntimeSignal, type InvocationContext } from './RuntimeSignal.ts';

export interface ExecutionTimeoutData extends InvocationContext {
  signal: 'ExecutionTimeout';
  timeoutMs: number;
  elapsedMs: number;
  /** Fuel charged before the deadline; `null` when the worker had to be terminated and could not say. */
  fuelUsed: number | null;
  /** True when the guest did not come back by deadline + grace and its worker was terminated. */
  terminated: boolean;
}

/** The invocation passed its wall-clock deadline. Reported before any trap, after OutOfFuel. */
export class ExecutionTimeout extends RuntimeSignal {
  override readonly name = 'ExecutionTimeout' as const;
  readonly timeoutMs: number;
  readonly elapsedMs: number;
  readonly fuelUsed: number | null;
  readonly terminated: boolean;

  constructor(data: Omit<ExecutionTimeoutData, 'signal'>) {
    super(`${data.component}.${data.exportName} passed its ${data.timeoutMs} ms deadline`, data);
    this.timeoutMs = data.timeoutMs;
    this.elapsedMs = data.elapsedMs;
    this.fuelUsed = data.fuelUsed;
    this.terminated = data.terminated;
  }

  toData(): ExecutionTimeoutData {
    return {
      signal: this.name,
      ...this.context,
      timeoutMs: this.timeoutMs,
      elapsedMs: this.elapsedMs,
      fuelUsed: this.fuelUsed,
      terminated: this.terminated,
    };
  }
}
