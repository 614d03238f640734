import { BaseError, RpcRequestError } from 'viem';
import { CorralError } from '../errors/CorralError.ts';
import { BLOCK_PARAM } from './pinRequest.ts';

/**
 * The block hash a request is pinned to in EIP-1898's object form (`{ blockHash }` as a state read's
 * block parameter, or `eth_getLogs` by `blockHash`), else undefined.
 */
export function pinnedHash(method: string, params: readonly unknown[]): string | undefined {
  const value = method === 'eth_getLogs' ? params[0] : params[BLOCK_PARAM[method] ?? -1];
  if (typeof value !== 'object' || value === null) return undefined;
  const hash = (value as { blockHash?: unknown }).blockHash;
  return typeof hash === 'string' ? hash : undefined;
}

/** The same request at block `number` instead of its `{ blockHash }` (the form every node takes). */
export function atNumber(method: string, params: readonly unknown[], number: bigint): unknown[] {
  const hex = `0x${number.toString(16)}`;
  if (method === 'eth_getLogs') {
    const { blockHash: _hash, ...filter } = params[0] as Record<string, unknown>;
    return [{ ...filter, fromBlock: hex, toBlock: hex }, ...params.slice(1)];
  }
  const out = [...params];
  out[BLOCK_PARAM[method]!] = hex;
  return out;
}

/**
 * The node refused the request's parameters (JSON-RPC -32602): what a node that does not take
 * EIP-1898's object form answers for `{ blockHash }`.
 */
export function isInvalidParams(error: unknown): boolean {
  const answered = error instanceof BaseError ? error.walk((e) => e instanceof RpcRequestError) : null;
  return answered instanceof RpcRequestError && answered.code === -32602;
}

/**
 * Every log of an `eth_getLogs` answer asked by number lies in the block the request was pinned to
 * (an endpoint on another branch at that height answers logs of another hash).
 */
export function logsInBlock(json: string, hash: string): boolean {
  const logs = JSON.parse(json) as unknown;
  return Array.isArray(logs) && logs.every((log) => typeof log === 'object' && log !== null && String((log as { blockHash?: unknown }).blockHash).toLowerCase() === hash.toLowerCase());
}

export type PinLostCode = 'pin-lost'; // the block number no longer names the pinned hash (details: endpoint, method, blockHash, block)

export interface PinLostDetails {
  chainId: string;
  endpoint: string;
  method: string;
  /** The block the request was pinned to. */
  blockHash: string;
  block: string;
}

/**
 * A request pinned to a block hash could be asked of an endpoint only by number (it refuses
 * EIP-1898's `{ blockHash }`), and that number no longer named the pinned block: the chain reorged
 * away from it, or the endpoint answered from another branch. No answer is better than one from
 * another block; the pool asks its next endpoint, and the module gets an `upstream` fault when none
 * can answer.
 */
export class PinLostError extends CorralError<PinLostCode, PinLostDetails> {
  override readonly name = 'PinLostError';

  constructor(details: PinLostDetails) {
    super('pin-lost', `chain ${details.chainId}: ${details.endpoint} takes no { blockHash }, and block ${details.block} is no longer ${details.blockHash}`, details);
  }
}
