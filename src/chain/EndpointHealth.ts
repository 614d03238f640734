import { BaseError, ResponseBodyTooLargeError, RpcRequestError } from 'viem';
import { RPC_POOL_EWMA_WEIGHT, RPC_POOL_MAX_EJECT_MS } from '../limits/defaults.ts';
import type { ChainClient } from './ChainClient.ts';
import type { EndpointStanding } from './selectEndpoint.ts';

export interface HealthOptions {
  ejectAfterErrors: number;
  ejectMs: number;
}

/** One endpoint's counters, as the per-endpoint metrics show them. */
export interface EndpointStats {
  /** The endpoint without credentials (scheme, host, port; `/…` when it had a path or query). */
  endpoint: string;
  /** Its place in the chain's `rpc_urls` (0 for `rpc_url`). */
  index: number;
  /**
   * The metric label: `#<index> <endpoint>`. Two endpoints of one provider differ only in the path
   * (the key) that redaction drops; the index keeps their series apart.
   */
  label: string;
  up: boolean;
  /**
   * Serves the chain, is not ejected, and its last request or probe got an answer: what a chain's
   * readiness counts (a pool with none is `chain-stalled`). `up` turns back on when an ejection ends,
   * before the endpoint answered again.
   */
  healthy: boolean;
  head: bigint | undefined;
  latencyMs: number;
  requests: number;
  failures: number;
  ejections: number;
}

/**
 * What a pool knows of one endpoint: its smoothed latency and error rate, the highest block it is
 * known to have, and whether it is ejected. Fed by every request the pool sends it and by the
 * `eth_blockNumber` probe. `consecutive` failures eject it for `ejectMs`, doubling per ejection in a
 * row (up to RPC_POOL_MAX_EJECT_MS); an answer ends the row.
 */
export class EndpointHealth implements EndpointStanding {
  ewmaMs = 0;
  errorRate = 0;
  head: bigint | undefined;
  ejectedUntil = 0;
  /**
   * Whether it serves the pool's chain: `unknown` until it answered `eth_chainId` (an endpoint down at
   * start is asked again at each probe, and used only once it answered), `mismatch` for good.
   */
  served: 'yes' | 'unknown' | 'mismatch' = 'unknown';
  requests = 0;
  failures = 0;
  ejections = 0;
  /**
   * It answered invalid-params to EIP-1898's `{ blockHash }` form: requests pinned to a hash go to it
   * by number from then on (src/chain/blockHashFallback.ts), for as long as the process runs.
   */
  refusesBlockHash = false;
  private lastFailed = false;
  private consecutive = 0;
  private ejectedInARow = 0;
  private sampled = false;

  constructor(
    readonly client: ChainClient,
    private readonly options: HealthOptions,
    /** Its place in the pool (the order of `rpc_urls`). */
    readonly index = 0,
  ) {}

  /** An answer (a JSON-RPC error answer too) after `ms`. */
  succeeded(ms: number, now: number): void {
    this.requests++;
    this.sample(ms, 0);
    this.lastFailed = false;
    this.consecutive = 0;
    if (this.ejectedUntil <= now) this.ejectedInARow = 0;
  }

  /** No usable answer: a transport error, a timeout, HTTP 5xx, an internal error, a lag answer. */
  failed(ms: number, now: number): void {
    this.requests++;
    this.failures++;
    this.sample(ms, 1);
    this.lastFailed = true;
    if (++this.consecutive >= this.options.ejectAfterErrors) {
      this.consecutive = 0;
      this.ejections++;
      this.ejectedUntil = now + Math.min(RPC_POOL_MAX_EJECT_MS, this.options.ejectMs * 2 ** this.ejectedInARow++);
    }
  }

  /** The endpoint has (at least) `number`: a head it sent, a block it returned, its `eth_blockNumber`. */
  reached(number: bigint): void {
    if (this.head === undefined || number > this.head) this.head = number;
  }

  /** It answered that it does not have `number` (null, or "header not found"): it is below it. */
  below(number: bigint): void {
    if (this.head === undefined || this.head >= number) this.head = number - 1n;
  }

  stats(now: number): EndpointStats {
    const up = this.served === 'yes' && this.ejectedUntil <= now;
    return { endpoint: this.client.endpoint, index: this.index, label: `#${this.index} ${this.client.endpoint}`, up, healthy: up && !this.lastFailed, head: this.head, latencyMs: this.ewmaMs, requests: this.requests, failures: this.failures, ejections: this.ejections };
  }

  private sample(ms: number, error: 0 | 1): void {
    const w = this.sampled ? RPC_POOL_EWMA_WEIGHT : 1;
    this.sampled = true;
    this.ewmaMs += w * (ms - this.ewmaMs);
    this.errorRate += w * (error - this.errorRate);
  }
}

/**
 * Is `error` a reason to ask another endpoint? Yes when the node gave no usable answer: a transport
 * error, a timeout, HTTP 5xx or 429, a JSON-RPC internal error (-32603, but not a revert reported as
 * one), or a lag answer (`header not found`, `unknown block`). No for an answer the node means: a
 * revert or any other JSON-RPC error (another node would say the same), the response cap, an abort.
 */
export function worthFailover(error: unknown): boolean {
  if (!(error instanceof BaseError)) return !(error instanceof Error && error.name === 'AbortError');
  if (error.walk((e) => e instanceof ResponseBodyTooLargeError)) return false;
  if (error.walk((e) => (e as Error).name === 'AbortError')) return false;
  const answered = error.walk((e) => e instanceof RpcRequestError);
  if (!(answered instanceof RpcRequestError)) return true;
  return isLagAnswer(answered) || isLimitAnswer(answered) || (answered.code === -32603 && !/revert/i.test(answered.details));
}

/**
 * A provider refusing for load, often with HTTP 200 (Infura's -32005 "limit exceeded", -32016, "rate
 * limit", "too many requests", "capacity"): another endpoint may answer, and it is no answer to keep.
 */
export function isLimitAnswer(error: RpcRequestError): boolean {
  return error.code === -32005 || error.code === -32016 || /rate.?limit|limit exceeded|too many requests|capacity/i.test(error.details);
}

/**
 * Is `error` the node's own answer, the same for everyone who asks it at that block (a revert, an
 * invalid-params error), and so worth keeping in the shared cache? Never an abort or a response-size
 * refusal (the asking invocation's own limits: found in review, they were served to other modules), a
 * transport failure, a lag or load answer, or an internal error.
 */
export function isNodeAnswer(error: unknown): boolean {
  if (!(error instanceof BaseError)) return false;
  if (error.walk((e) => e instanceof ResponseBodyTooLargeError || (e as Error).name === 'AbortError')) return false;
  const answered = error.walk((e) => e instanceof RpcRequestError);
  return answered instanceof RpcRequestError && !worthFailover(error);
}

/** A node's way of saying it has not got the block asked for (yet). */
export function isLagAnswer(error: unknown): boolean {
  const answered = error instanceof BaseError ? error.walk((e) => e instanceof RpcRequestError) : null;
  return answered instanceof RpcRequestError && /header not found|unknown block|block not found|not yet available|missing trie node/i.test(answered.details);
}
