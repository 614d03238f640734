import { WASI_MAX_LIVE_RESOURCES } from '../limits/defaults.ts';
import { WasiHostError } from './WasiHostError.ts';

/**
 * Live WASI resources (streams, pollables, descriptors…) of one instance. Each is a host object in the
 * glue's handle table, outside the guest's linear memory and so outside its memory cap: without a
 * bound, a loop of `get-stdout` grew the host by gigabytes. Taking one past the limit ends the call
 * (`Trap host-error`, `WasiResourceLimit`) and the instance is retired with its table. A resource the
 * guest drops gives its place back (the glue calls `Symbol.dispose`).
 */
export class ResourceBudget {
  private live = 0;
  constructor(private readonly max = WASI_MAX_LIVE_RESOURCES) {}

  take(fn: string): void {
    if (this.live >= this.max) {
      throw new WasiHostError('WasiResourceLimit', fn, `the instance holds ${this.live} WASI resources, the most one may (drop some: they are host memory outside the memory cap)`);
    }
    this.live++;
  }

  release(): void {
    if (this.live > 0) this.live--;
  }
}

/** What jco's glue calls when the guest drops a resource (its own fallback included). */
export const DISPOSE: symbol = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for('dispose');

/** A WASI resource counted against its instance's budget, released when the guest drops it. */
export abstract class BudgetedResource {
  constructor(protected readonly budget: ResourceBudget, fn: string) {
    budget.take(fn);
  }

  [DISPOSE](): void {
    this.dispose();
  }

  /** What dropping it does: gives its place in the budget back (a subclass frees what it holds first). */
  protected dispose(): void {
    this.budget.release();
  }
}
