import { createClient, http, type Client } from 'viem';
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

export interface ChainConfig {
  /** HTTP(S) JSON-RPC endpoint. Credentials in it never appear in errors or logs. */
  rpcUrl: string;
}

/** RPC use per module and method: calls and response bytes. */
export type RpcStats = Record<string, Record<string, { calls: number; bytes: number }>>;

/** The engine's viem clients, one per configured chain, and the RPC accounting. */
export class Chains {
  private readonly clients = new Map<bigint, Client>();
  readonly stats: RpcStats = {};

  constructor(config: Record<string, ChainConfig>) {
    for (const [id, { rpcUrl }] of Object.entries(config)) {
      this.clients.set(BigInt(id), createClient({ transport: http(rpcUrl, { retryCount: 0 }) }));
    }
  }

  /** Checks that each endpoint serves the chain it is configured for. */
  async verify(): Promise<void> {
    for (const [id, client] of this.clients) {
      const served = BigInt((await client.request({ method: 'eth_chainId' } as never)) as string);
      if (served !== id) throw new RangeError(`chain ${id}: its RPC endpoint serves chain ${served}`);
    }
  }

  client(id: bigint): Client | undefined {
    return this.clients.get(id);
  }

  record(module: string, method: string, bytes: number): void {
    const entry = ((this.stats[module] ??= {})[method] ??= { calls: 0, bytes: 0 });
    entry.calls++;
    entry.bytes += bytes;
  }
}

/**
 * `corral:module/chain`: `request(chain-id, method, params-json)` through viem, for the chains the
 * module is granted and the methods in `READ_ONLY_METHODS`. Counts toward `chainRequests`; a response
 * larger than `rpcResponseBytes` ends the invocation (HostLimitExceeded).
 */
export function chainHost(scope: InvocationScope, chains: Chains, granted: readonly number[]): HostImplementation<typeof Chain> {
  return {
    async request(chainId: bigint, method: string, paramsJson: string): Promise<string> {
      scope.charge('chainRequests');
      if (!granted.some((id) => BigInt(id) === chainId)) throw fault({ tag: 'denied', val: `chain ${chainId} is not granted to ${scope.module}` });
      const client = chains.client(chainId);
      if (!client) throw fault({ tag: 'denied', val: `chain ${chainId} is not configured` });
      if (!READ_ONLY_METHODS.has(method)) throw fault({ tag: 'denied', val: `method ${method} is not allowed (read-only methods only)` });
      let params: unknown;
      try {
        params = paramsJson === '' ? [] : JSON.parse(paramsJson);
      } catch {
        throw fault({ tag: 'invalid-input', val: 'params-json is not JSON' });
      }
      if (!Array.isArray(params)) throw fault({ tag: 'invalid-input', val: 'params-json must be a JSON array' });
      let result: unknown;
      try {
        result = await client.request({ method, params } as never);
      } catch (error) {
        const e = error as { shortMessage?: string; message?: string };
        throw fault({ tag: 'upstream', val: e.shortMessage ?? e.message ?? String(error) });
      }
      const json = JSON.stringify(result ?? null);
      const bytes = Buffer.byteLength(json);
      chains.record(scope.module, method, bytes);
      scope.check('rpcResponseBytes', bytes);
      return json;
    },
  };
}

