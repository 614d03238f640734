import { BaseError, ResponseBodyTooLargeError, RpcRequestError } from 'viem';
import { invocationSignal } from '../runtime/HostImports.ts';
import type { ChainRpc } from '../chain/ChainRpc.ts';
import { pinRequest } from '../chain/pinRequest.ts';
import type * as Chain from './generated/corral-module-chain.js';
import { fault } from './fault.ts';
import type { HostImplementation } from './HostImplementation.ts';
import type { InvocationScope } from './InvocationScope.ts';

/**
 * JSON-RPC methods a module may call: reads only. Anything else (sending transactions, signing,
 * anvil_*, debug_*) is a `denied` fault.
 */
export const READ_ONLY_METHODS: ReadonlySet<string> = new Set([
  'eth_blockNumber',
  'eth_call',
  'eth_chainId',
  'eth_estimateGas',
  'eth_feeHistory',
  'eth_gasPrice',
  'eth_getBalance',
  'eth_getBlockByHash',
  'eth_getBlockByNumber',
  'eth_getBlockTransactionCountByHash',
  'eth_getBlockTransactionCountByNumber',
  'eth_getCode',
  'eth_getLogs',
  'eth_getProof',
  'eth_getStorageAt',
  'eth_getTransactionByBlockHashAndIndex',
  'eth_getTransactionByBlockNumberAndIndex',
  'eth_getTransactionByHash',
  'eth_getTransactionCount',
  'eth_getTransactionReceipt',
  'eth_maxPriorityFeePerGas',
  'net_version',
]);

/**
 * `corral:module/chain`: `request(chain-id, method, params-json)` through viem, for the chains the
 * module is granted and the methods in `READ_ONLY_METHODS`. Counts toward `chainRequests`; a response
 * larger than `rpcResponseBytes` ends the invocation (HostLimitExceeded): over HTTP it is cut off as it
 * arrives, over a WebSocket it is measured once received (see ChainClient). The request is aborted
 * with its invocation. An error answer of the node
 * is an `upstream` fault holding its JSON-RPC error object as JSON, so a module can decode a revert's
 * `data` (e.g. ComposableCoW's custom errors: `OrderNotValid(reason)`, the `Poll*` hints); a node that did not answer is an
 * `upstream` fault with a description.
 */
export function chainHost(scope: InvocationScope, chains: ReadonlyMap<bigint, ChainRpc>, granted: readonly number[], pinLatest = true): HostImplementation<typeof Chain> {
  return {
    async request(chainId: bigint, method: string, paramsJson: string): Promise<string> {
      scope.charge('chainRequests');
      const client = chains.get(chainId);
      const deny = (why: string) => {
        // Counted under the method's name only when it is one corral knows: a guest must not be able to
        // mint accounting keys (and metric series) with names of its own.
        client?.denied(READ_ONLY_METHODS.has(method) ? method : '(other)', scope.module);
        return fault({ tag: 'denied', val: why });
      };
      if (!granted.some((id) => BigInt(id) === chainId)) throw deny(`chain ${chainId} is not granted to ${scope.module}`);
      if (!client) throw deny(`chain ${chainId} is not configured`);
      if (!READ_ONLY_METHODS.has(method)) throw deny(`method ${method} is not allowed (read-only methods only)`);
      let params: unknown;
      try {
        params = paramsJson === '' ? [] : JSON.parse(paramsJson);
      } catch {
        throw fault({ tag: 'invalid-input', val: 'params-json is not JSON' });
      }
      if (!Array.isArray(params)) throw fault({ tag: 'invalid-input', val: 'params-json must be a JSON array' });
      // In a chain step "latest" is the block the step ends at: pinned to its hash, the answer cannot
      // drift with the head, and every module asking the same at that block shares one upstream call.
      const block = scope.chainBlock;
      const at = pinLatest && block && block.chainId === chainId ? { number: block.number, hash: block.hash, hashAt: (n: bigint) => client.hashAt?.(n) } : undefined;
      const pinned = pinRequest(method, params, at);
      let json: string;
      try {
        json = await client.requestJson(method, pinned.params, 'module', scope.module, {
          maxBytes: scope.caps.rpcResponseBytes,
          signal: invocationSignal(),
          cacheable: pinned.cacheable,
          ...(pinned.minBlock === undefined ? {} : { minBlock: pinned.minBlock }),
        });
      } catch (error) {
        // Cut off as it arrived (HTTP): the cap's own signal, with what had arrived by then.
        const tooLarge = error instanceof BaseError ? error.walk((e) => e instanceof ResponseBodyTooLargeError) : null;
        if (tooLarge instanceof ResponseBodyTooLargeError) scope.check('rpcResponseBytes', tooLarge.size);
        throw fault({ tag: 'upstream', val: upstreamReason(error) });
      }
      scope.check('rpcResponseBytes', Buffer.byteLength(json));
      return json;
    },
  };
}

/** The node's JSON-RPC error object (`{"code","message","data"}`) when it answered with one, else viem's short message. */
function upstreamReason(error: unknown): string {
  // viem's RpcRequestError carries the node's code, message (as `details`) and data; it may be wrapped.
  const answered = error instanceof BaseError ? error.walk((e) => e instanceof RpcRequestError) : null;
  if (answered instanceof RpcRequestError) {
    const { data } = answered as RpcRequestError & { data?: unknown };
    return JSON.stringify({ code: answered.code, message: answered.details, ...(data === undefined ? {} : { data }) });
  }
  const e = error as { shortMessage?: string; message?: string };
  return e.shortMessage ?? e.message ?? String(error);
}
