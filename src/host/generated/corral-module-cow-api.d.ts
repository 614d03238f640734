// Generated from wit/module.wit by `npm run wit:types`. Do not edit.
/** @module Interface corral:module/cow-api@0.1.0 **/
export function request(chainId: bigint, method: string, path: string, body: string): Response;
export function submitOrder(chainId: bigint, orderJson: string): string;
export interface Response {
  status: number,
  body: string,
}
export type Fault = import('./corral-module-types.js').Fault;
