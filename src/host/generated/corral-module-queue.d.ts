// Generated from wit/module.wit by `npm run wit:types`. Do not edit.
/** @module Interface corral:module/queue@0.1.0 **/
export function enqueue(taskType: string, payload: string, opts: EnqueueOptions): string;
export interface EnqueueOptions {
  delayMs: bigint,
  uniqueForMs: bigint,
  maxRetry?: number,
  idempotencyKey?: string,
}
export type Fault = import('./corral-module-types.js').Fault;
