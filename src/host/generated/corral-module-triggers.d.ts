// Generated from wit/module.wit by `npm run wit:types`. Do not edit.
/** @module Interface corral:module/triggers@0.1.0 **/
export function addAddress(trigger: string, address: string): void;
export function removeAddress(trigger: string, address: string): void;
export type Fault = import('./corral-module-types.js').Fault;
