/// <reference path="./world.d.ts" />
// JSON-RPC to a granted chain (grant `chain`): params and result as values, faults as `Fault`.
import { request as raw } from 'corral:module/chain@0.1.0';
import { unwrap } from './fault.ts';

/**
 * One read-only JSON-RPC request; its `result`, parsed. A node's error answer (a revert of `eth_call`)
 * is a `Fault` tagged `upstream` whose `val` is the JSON-RPC error object as JSON.
 */
export function request<T = unknown>(chainId: number, method: string, params: readonly unknown[] = []): T {
  return JSON.parse(unwrap(() => raw(chainId, method, JSON.stringify(params)))) as T;
}

/** `eth_call` of `data` to `to` at `block` (a number, or a tag such as 'latest'); the returned data. */
export function call(chainId: number, tx: { to: string; data: string }, block: number | string = 'latest'): `0x${string}` {
  return request<`0x${string}`>(chainId, 'eth_call', [tx, typeof block === 'number' ? `0x${block.toString(16)}` : block]);
}

/** The revert data of an `upstream` fault of `eth_call` (the node's error object's `data`), if it holds any. */
export function revertData(fault: { tag: string; val: string }): `0x${string}` | undefined {
  if (fault.tag !== 'upstream') return undefined;
  let answer: { data?: unknown } | undefined;
  try {
    answer = JSON.parse(fault.val) as { data?: unknown };
  } catch {
    return undefined;
  }
  const data = typeof answer?.data === 'string' ? answer.data : (answer?.data as { data?: unknown } | undefined)?.data;
  return typeof data === 'string' && data.startsWith('0x') ? (data as `0x${string}`) : undefined;
}
