// Generated from wit/module.wit by `npm run wit:types`. Do not edit.
/** @module Interface corral:module/store@0.1.0 **/
export function get(key: Uint8Array): Uint8Array | undefined;
export function set(key: Uint8Array, value: Uint8Array): void;
export { _delete as delete };
declare function _delete(key: Uint8Array): void;
export function listKeys(prefix: Uint8Array, cursor: Uint8Array | undefined, limit: number): Array<Uint8Array>;
export type Fault = import('./corral-module-types.js').Fault;
