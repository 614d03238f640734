/** Where a signal happened: which component, which export, which invocation. */
export interface InvocationContext {
  component: string;
  exportName: string;
  invocationId: string;
}

/**
 * Base of every signal that ends an invocation. Signals are values: they cross the worker boundary
 * as `SignalData` (structured clone would turn a class into a plain `Error`) and are rebuilt with
 * `signalFromData`, so `instanceof` works on the caller's side.
 */
export abstract class RuntimeSignal extends Error {
  abstract override readonly name: string;
  readonly component: string;
  readonly exportName: string;
  readonly invocationId: string;

  protected constructor(message: string, context: InvocationContext, options?: { cause?: unknown }) {
    super(message, options);
    this.component = context.component;
    this.exportName = context.exportName;
    this.invocationId = context.invocationId;
  }

  protected get context(): InvocationContext {
    return { component: this.component, exportName: this.exportName, invocationId: this.invocationId };
  }

  /** The signal as plain data: what crosses threads and what the CLI prints. */
  abstract toData(): object;
}
