/// <reference path="./world.d.ts" />
// CoW Protocol's order book (grant `cow_api`): orders as objects, faults as `Fault`.
import { request as raw, submitOrder as rawSubmit } from 'corral:module/cow-api@0.1.0';
import { unwrap } from './fault.ts';

/** Posts an order creation (checked by the host first) and returns its uid. A refusal is an `upstream` `Fault` with the order book's body. */
export function submitOrder(chainId: number, order: Record<string, unknown>): string {
  return unwrap(() => rawSubmit(chainId, JSON.stringify(order)));
}

/** A REST call under `/api/`; 4xx and 5xx answers are responses too, with the body parsed when it is JSON. */
export function request<T = unknown>(chainId: number, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): { status: number; body: T | string } {
  const response = unwrap(() => raw(chainId, method, path, body === undefined ? '' : JSON.stringify(body)));
  try {
    return { status: response.status, body: JSON.parse(response.body) as T };
  } catch {
    return { status: response.status, body: response.body };
  }
}
