/**
 * What RPC costs, counted where every request passes (src/chain/ChainClient.ts): calls, response
 * bytes and failures, by chain, purpose and method; module requests also by module. Bytes are the
 * HTTP response body as sent (its `content-length`); over a WebSocket, the result's JSON.
 */
export type RpcPurpose = 'head' | 'live' | 'backfill' | 'reorg' | 'module' | 'startup';

export interface RpcCount {
  calls: number;
  bytes: number;
  /** Requests that failed (the node answered with an error, did not answer, or answered malformed data). */
  failed: number;
  /** Module requests refused before they reached the node (not granted, not on the allowlist). */
  denied: number;
  /** Module requests answered by the block-pinned cache (src/chain/ResponseCache.ts), not by a node; not in `calls`. */
  cached: number;
}

export interface RpcStats {
  /** chain id → purpose → method → counts. */
  chains: Record<string, Partial<Record<RpcPurpose, Record<string, RpcCount>>>>;
  /** module → method → counts (the module's own `chain.request` calls). */
  modules: Record<string, Record<string, RpcCount>>;
}

export class RpcAccounting {
  readonly stats: RpcStats = { chains: {}, modules: {} };

  count(chainId: bigint, purpose: RpcPurpose, method: string, outcome: RpcOutcome, module?: string): void {
    add((((this.stats.chains[String(chainId)] ??= {})[purpose] ??= {})[method] ??= zero()), outcome);
    if (module !== undefined) add(((this.stats.modules[module] ??= {})[method] ??= zero()), outcome);
  }

  snapshot(): RpcStats {
    return structuredClone(this.stats);
  }
}

const zero = (): RpcCount => ({ calls: 0, bytes: 0, failed: 0, denied: 0, cached: 0 });

/** A request's outcome: answered (its bytes), failed, refused before it left, or answered by the cache. */
export type RpcOutcome = { bytes: number } | 'failed' | 'denied' | 'cached';

function add(count: RpcCount, outcome: RpcOutcome): void {
  if (outcome === 'denied') count.denied++;
  else if (outcome === 'cached') count.cached++;
  else {
    count.calls++;
    if (outcome === 'failed') count.failed++;
    else count.bytes += outcome.bytes;
  }
}
