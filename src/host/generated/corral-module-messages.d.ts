// Generated from wit/module.wit by `npm run wit:types`. Do not edit.
/** @module Interface corral:module/messages@0.1.0 **/
export function send(to: string, payload: string, correlationId: string | undefined): bigint;
export type Fault = import('./corral-module-types.js').Fault;
