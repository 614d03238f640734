/**
 * An invocation's AbortController, made only when a host function asks for its signal
 * (`invocationSignal()`): most calls make no host call and most host functions (store, logging) never
 * ask, and an AbortController with the abort event it dispatches at the end cost ~4 % of the main
 * thread's time per warm call (CPU profile of `compute.add` in a loop). Aborting before the signal was
 * asked for only records the reason: a signal asked for later is born aborted with it.
 */
export class InvocationAbort {
  private controller: AbortController | null = null;
  private reason: unknown = undefined;
  private aborted = false;

  get signal(): AbortSignal {
    if (this.controller) return this.controller.signal;
    if (this.aborted) return AbortSignal.abort(this.reason);
    this.controller = new AbortController();
    return this.controller.signal;
  }

  /** Aborts the signal (the first reason wins, as with AbortController). */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}
