// Generated from wit/module.wit by `npm run wit:types`. Do not edit.
/** @module Interface corral:module/http@0.1.0 **/
export function fetch(method: string, url: string, headers: Array<[string, string]>, body: Uint8Array): Response;
export interface Response {
  status: number,
  headers: Array<[string, string]>,
  body: Uint8Array,
}
export type Fault = import('./corral-module-types.js').Fault;
