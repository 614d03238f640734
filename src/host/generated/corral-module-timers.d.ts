// Generated from wit/module.wit by `npm run wit:types`. Do not edit.
/** @module Interface corral:module/timers@0.1.0 **/
export function wakeAtBlock(chainId: bigint, number: bigint, tag: string): void;
export function wakeAtTime(unixMs: bigint, tag: string): void;
export function cancel(tag: string): void;
export type Fault = import('./corral-module-types.js').Fault;
