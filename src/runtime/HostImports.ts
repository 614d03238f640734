import { AsyncLocalStorage } from 'node:async_hooks';
import type { InvocationAbort } from './InvocationAbort.ts';

/** An embedder's implementation of one imported function: runs on the main thread, may be async. */
export type HostFunction = (...args: any[]) => unknown;
/** Implementations of a component's imports, by interface (`pkg:name/iface`) and function name. */
export type HostImports = Record<string, Record<string, HostFunction>>;

/** A host function with the name it is reported under. */
export interface BoundHostFunction {
  label: string;
  fn: HostFunction;
}

/**
 * Why a host call's work was abandoned: its invocation ended (returned, trapped, passed its
 * deadline), was killed, its component was unloaded, or the runtime closed. The `reason` of the
 * invocation's AbortSignal.
 */
export class InvocationEnded extends Error {
  override readonly name = 'InvocationEnded';
  constructor(readonly why: 'ended' | 'killed' | 'unloaded' | 'closed') {
    super(`the invocation no longer waits for this host call (${why})`);
  }
}

// An async context rather than an argument: host functions keep the signatures of their WIT
// interface (and wrappers such as the recorder's pass the guest's arguments on untouched). It holds
// the invocation's InvocationAbort, not its signal: the AbortController is made only for a host
// function that asks (`invocationSignal()`), not for every invocation that makes a host call.
const invocation = new AsyncLocalStorage<InvocationAbort>();

/** Runs host function `fn` with `args` for the invocation `abort` belongs to. */
export function runHostCall(abort: InvocationAbort, fn: HostFunction, args: unknown[]): unknown {
  return invocation.run(abort, fn, ...args);
}

/**
 * The AbortSignal of the invocation whose host call is running (undefined outside one, e.g. a host
 * function called directly). It aborts, with an `InvocationEnded` reason, as soon as the invocation
 * no longer waits for the call: work still under way (a request, a socket) should stop then.
 */
export function invocationSignal(): AbortSignal | undefined {
  return invocation.getStore()?.signal;
}
