// Generated from wit/module.wit by `npm run wit:types`. Do not edit.
/** @module Interface corral:module/chain@0.1.0 **/
export function request(chainId: bigint, method: string, paramsJson: string): string;
export type Fault = import('./corral-module-types.js').Fault;
