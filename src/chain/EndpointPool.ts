import type { Logger } from 'pino';
import { EngineError } from '../errors/EngineError.ts';
import type { ChainClient } from './ChainClient.ts';
import type { ChainRpc, ModuleRequestOptions } from './ChainRpc.ts';
import { atNumber, isInvalidParams, logsInBlock, PinLostError, pinnedHash } from './blockHashFallback.ts';
import { EndpointHealth, isLagAnswer, isNodeAnswer, worthFailover, type EndpointStats, type HealthOptions } from './EndpointHealth.ts';
import { parseBlock } from './parseRpc.ts';
import { CachedAnswer, type ResponseCache } from './ResponseCache.ts';
import { RpcDataError } from './RpcDataError.ts';
import type { RpcAccounting, RpcPurpose } from './RpcStats.ts';
import { selectEndpoint } from './selectEndpoint.ts';
import type { SocketRpc } from './SocketRpc.ts';
import type { ChainBlock, ChainLog, LogFilter } from './types.ts';

export interface EndpointPoolOptions extends HealthOptions {
  /** The endpoints, in the order configured (the first WebSocket one carries the head subscription). */
  clients: readonly ChainClient[];
  accounting: RpcAccounting;
  /** Block-pinned answers shared by every chain's modules (none: every request goes to a node). */
  cache?: ResponseCache;
  healthIntervalMs: number;
  maxHeadLagBlocks: number;
  logger: Logger;
  /** Milliseconds, for latency and ejection (default: performance.now()). */
  now?: () => number;
  /** The canonical hash the chain's follower holds at a height (module requests are pinned to it). */
  hashAt?: (number: bigint) => string | undefined;
}

/** Where a request may go: only to endpoints that reached `minBlock`; `highest` first for the confirming `latest`. */
interface Route {
  minBlock?: bigint;
  prefer?: 'highest';
}

/**
 * A chain's endpoints behind the one face of a client: each request goes to the best endpoint that
 * can answer it (selectEndpoint) and fails over to the next on a transport error, a timeout, HTTP
 * 5xx, an internal error or a lag answer; an answer the node means (a revert) is final. A lagging
 * endpoint cannot undo anything: `latest` goes to the endpoint with the highest known head, a block
 * by number or hash and a log range only to endpoints known to have reached it, and a `null` block
 * from one is read as "not there yet", never as "no such block". With one endpoint it is that
 * endpoint, unprobed, as a single client was.
 */
export class EndpointPool implements ChainRpc {
  readonly chainId: bigint;
  /** Requests are made over HTTP or a socket as each endpoint has it; heads are polled through the pool. */
  readonly transport = 'http' as const;
  readonly endpoint: string;
  readonly endpoints: readonly EndpointHealth[];
  private readonly now: () => number;
  private probeTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: EndpointPoolOptions) {
    const first = options.clients[0];
    if (!first) throw new EngineError('invalid-option', 'an endpoint pool needs at least one endpoint', { option: 'rpc_urls' });
    this.chainId = first.chainId;
    this.endpoints = options.clients.map((client, index) => new EndpointHealth(client, options, index));
    this.endpoint = options.clients.map((c) => c.endpoint).join(', ');
    this.now = options.now ?? (() => performance.now());
  }

  hashAt(number: bigint): string | undefined {
    return this.options.hashAt?.(number);
  }

  /** The endpoints that can hold a head subscription (configured order). */
  get sockets(): ChainClient[] {
    return this.endpoints.map((e) => e.client).filter((c) => c.transport === 'webSocket');
  }

  /**
   * Checks which endpoints serve the chain and learns their heads, then probes them every
   * `healthIntervalMs`. One serving another chain is a `chain-mismatch` (a configuration error); one
   * that does not answer is left out until a probe finds it serving; none answering is
   * `chain-unreachable`. (A single endpoint is checked by the bus as a single client always was, and
   * not probed: there is nothing to choose.)
   */
  async start(): Promise<void> {
    if (this.endpoints.length < 2) return;
    await this.probe();
    const mismatch = this.endpoints.find((e) => e.served === 'mismatch');
    if (mismatch) {
      throw new EngineError('chain-mismatch', `chain ${this.chainId}: ${mismatch.client.endpoint} serves another chain`, { chainId: String(this.chainId), endpoint: mismatch.client.endpoint });
    }
    if (!this.endpoints.some((e) => e.served === 'yes')) {
      throw new EngineError('chain-unreachable', `chain ${this.chainId}: no endpoint of ${this.endpoint} answered eth_chainId`, { chainId: String(this.chainId), endpoint: this.endpoint });
    }
    const tick = () => {
      this.probeTimer = setTimeout(() => void this.probe().finally(() => this.probeTimer && tick()), this.options.healthIntervalMs).unref();
    };
    tick();
  }

  /** One `eth_blockNumber` per endpoint: its head, its latency, its failures. */
  async probe(): Promise<void> {
    await Promise.all(
      this.endpoints.map(async (e) => {
        if (e.served === 'mismatch') return;
        const started = this.now();
        try {
          if (e.served === 'unknown') {
            const served = await e.client.chainIdServed();
            e.served = served === this.chainId ? 'yes' : 'mismatch';
            if (e.served === 'mismatch') {
              this.options.logger.error({ chainId: String(this.chainId), endpoint: e.client.endpoint, served: String(served) }, 'endpoint serves another chain; never used');
              return;
            }
          }
          const head = BigInt((await e.client.request('eth_blockNumber', [], 'head')) as string);
          e.succeeded(this.now() - started, this.now());
          e.reached(head);
        } catch (error) {
          e.failed(this.now() - started, this.now());
          this.options.logger.debug({ chainId: String(this.chainId), endpoint: e.client.endpoint, err: error }, 'endpoint probe failed');
        }
      }),
    );
  }

  /** A head `client` sent (its subscription): it has reached that block. */
  noteHead(client: ChainClient, number: bigint): void {
    this.endpoints.find((e) => e.client === client)?.reached(number);
  }

  stats(): EndpointStats[] {
    const now = this.now();
    return this.endpoints.map((e) => e.stats(now));
  }

  request(method: string, params: unknown[], purpose: RpcPurpose, module?: string): Promise<unknown> {
    return this.send({}, (client) => client.request(method, params, purpose, module));
  }

  /**
   * A module's request. `cacheable` (pinned to a block hash, src/chain/pinRequest.ts): answered from
   * the shared cache when another module asked the same, counted as `cached`. `minBlock`: the block it
   * reads, so no endpoint behind it is asked.
   */
  async requestJson(method: string, params: unknown[], purpose: RpcPurpose, module?: string, options: ModuleRequestOptions = {}): Promise<string> {
    const route = options.minBlock === undefined ? {} : { minBlock: options.minBlock };
    const load = () => this.send(route, (client, health) => this.askPinned(client, health, method, params, purpose, module, options));
    const cache = this.options.cache;
    if (!options.cacheable || !cache) return load();
    const key = `${this.chainId}|${method}|${JSON.stringify(params)}`;
    const { json, hit } = await cache.get(key, load, isNodeAnswer).catch((error: unknown) => {
      if (!(error instanceof CachedAnswer)) throw error;
      // A revert from the cache is an answer this module got without asking a node, too.
      if (error.hit) this.options.accounting.count(this.chainId, purpose, method, 'cached', module);
      throw error.answer;
    });
    if (hit) this.options.accounting.count(this.chainId, purpose, method, 'cached', module);
    return json;
  }

  /**
   * A module's request to one endpoint. One pinned to a block hash (EIP-1898 `{ blockHash }`) goes
   * by number to an endpoint that refused that form with invalid-params (remembered per endpoint),
   * and only while the number names the pinned block on the branch the bus follows (or lies below
   * the follower's window, deeper than any reorg the engine follows), checked before
   * and after the answer (and each log's `blockHash` of an `eth_getLogs` answer): else PinLostError,
   * and the next endpoint is asked. A request whose height is not known (a module's own
   * `{ blockHash }`, outside a chain step) has nothing to fall back to: the refusal is the answer.
   */
  private async askPinned(client: ChainClient, health: EndpointHealth, method: string, params: unknown[], purpose: RpcPurpose, module: string | undefined, options: ModuleRequestOptions): Promise<string> {
    const hash = pinnedHash(method, params);
    const number = options.minBlock;
    if (hash === undefined || number === undefined || !health.refusesBlockHash) {
      try {
        return await client.requestJson(method, params, purpose, module, options);
      } catch (error) {
        if (hash === undefined || number === undefined || !isInvalidParams(error)) throw error;
        health.refusesBlockHash = true;
        this.options.logger.warn({ chainId: String(this.chainId), endpoint: client.endpoint, method }, 'endpoint refuses EIP-1898 { blockHash }: requests pinned to a block go to it by number');
      }
    }
    const lost = () => new PinLostError({ chainId: String(this.chainId), endpoint: client.endpoint, method, blockHash: hash, block: String(number) });
    // A height the follower no longer holds is deeper than the reorg window (the request's block was
    // delivered, so it is not above the head): final, as the engine treats it everywhere else.
    const canonical = () => {
      const held = this.hashAt(number);
      return held === undefined || held.toLowerCase() === hash.toLowerCase();
    };
    if (!canonical()) throw lost();
    const json = await client.requestJson(method, atNumber(method, params, number), purpose, module, options);
    if (!canonical() || (method === 'eth_getLogs' && !logsInBlock(json, hash))) throw lost();
    return json;
  }

  denied(method: string, module: string): void {
    this.options.clients[0]!.denied(method, module);
  }

  async blockByNumber(number: bigint | 'latest', purpose: RpcPurpose): Promise<ChainBlock> {
    const tag = number === 'latest' ? 'latest' : `0x${number.toString(16)}`;
    const route: Route = number === 'latest' ? { prefer: 'highest' } : { minBlock: number };
    // Not nullable: a null is a lag answer (or malformed, from the only endpoint), never a block.
    return this.send(route, (client, health) => this.fetchBlock(client, health, 'eth_getBlockByNumber', [tag, false], purpose, number === 'latest' ? undefined : number)) as Promise<ChainBlock>;
  }

  async blockByHash(hash: string, purpose: RpcPurpose, minBlock?: bigint): Promise<ChainBlock | null> {
    if (minBlock === undefined || this.endpoints.length < 2) {
      return this.send({}, (client, health) => this.fetchBlock(client, health, 'eth_getBlockByHash', [hash, false], purpose, undefined, true));
    }
    return this.send({ minBlock }, (client, health) => this.fetchBlock(client, health, 'eth_getBlockByHash', [hash, false], purpose, minBlock));
  }

  async logs(filter: LogFilter, where: { blockHash: string; number?: bigint } | { fromBlock: bigint; toBlock: bigint }, purpose: RpcPurpose): Promise<ChainLog[]> {
    const minBlock = 'blockHash' in where ? where.number : where.toBlock;
    return this.send(minBlock === undefined ? {} : { minBlock }, (client) => client.logs(filter, where, purpose));
  }

  async chainIdServed(): Promise<bigint> {
    return this.options.clients[0]!.chainIdServed();
  }

  subscribe(): ReturnType<SocketRpc['subscribe']> {
    throw new Error(`${this.endpoint}: a pool's heads are subscribed to on one of its WebSocket endpoints`);
  }

  resetSocket(): void {
    for (const client of this.options.clients) client.resetSocket();
  }

  close(): void {
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    for (const client of this.options.clients) client.close();
  }

  /**
   * A block from `client`. A `null` for a block `expected` at or below a height it should hold means
   * that endpoint is behind (a lag answer: the next endpoint is asked); `nullable` (by hash, with no
   * height known) lets null through as "no such block".
   */
  private async fetchBlock(client: ChainClient, health: EndpointHealth, method: string, params: unknown[], purpose: RpcPurpose, expected: bigint | undefined, nullable = false): Promise<ChainBlock | null> {
    const raw = await client.request(method, params, purpose);
    if (raw === null && nullable) return null;
    if (raw === null && expected !== undefined && this.endpoints.length > 1) {
      health.below(expected);
      throw new BehindError(client.endpoint, expected);
    }
    try {
      const block = parseBlock(raw, this.chainId, method);
      health.reached(block.number);
      return block;
    } catch (error) {
      if (error instanceof RpcDataError) this.options.accounting.count(this.chainId, purpose, `${method}:malformed`, 'failed');
      throw error;
    }
  }

  /**
   * Sends to the endpoints in the order selection gives, until one answers. With `minBlock` and no
   * endpoint known to have reached it, every endpoint is probed once more first; still none is a
   * `chain-behind` error (the caller retries later), never an answer from a node behind.
   */
  private async send<T>(route: Route, attempt: (client: ChainClient, health: EndpointHealth) => Promise<T>): Promise<T> {
    if (this.endpoints.length === 1) return this.tryInOrder([0], route, attempt);
    const select = () => selectEndpoint(this.endpoints, { now: this.now(), maxHeadLag: this.options.maxHeadLagBlocks, ...route }).filter((i) => this.endpoints[i]!.served === 'yes');
    let order = select();
    if (order.length === 0 && route.minBlock !== undefined) {
      await this.probe();
      order = select();
    }
    if (order.length === 0) {
      if (route.minBlock === undefined) throw new EngineError('chain-unreachable', `chain ${this.chainId}: no endpoint of ${this.endpoint} serves it now`, { chainId: String(this.chainId), endpoint: this.endpoint });
      throw new EngineError('chain-behind', `chain ${this.chainId}: no endpoint has reached block ${route.minBlock} yet`, { chainId: String(this.chainId), block: String(route.minBlock) });
    }
    return this.tryInOrder(order, route, attempt);
  }

  /** Tries the endpoints in `order`, counting each one's answers, failures and latency (its metrics, its rank). */
  private async tryInOrder<T>(order: readonly number[], route: Route, attempt: (client: ChainClient, health: EndpointHealth) => Promise<T>): Promise<T> {
    let last: unknown;
    for (const i of order) {
      const health = this.endpoints[i]!;
      const started = this.now();
      try {
        const answer = await attempt(health.client, health);
        health.succeeded(this.now() - started, this.now());
        return answer;
      } catch (error) {
        // Not this endpoint's failure: it could be asked the pinned block only by a number that no longer names it.
        if (error instanceof PinLostError) {
          last = error;
          continue;
        }
        if (!(error instanceof BehindError) && !worthFailover(error)) {
          health.succeeded(this.now() - started, this.now());
          throw error;
        }
        // A lag answer ("header not found") says what the node has, not that it fails: an endpoint behind
        // is routed around (`below`); one asked for a block nobody has (a module may name any hash)
        // is not ejected for it (found in review: three such requests ejected every endpoint).
        if (isLagAnswer(error)) {
          if (route.minBlock !== undefined) health.below(route.minBlock);
        } else {
          health.failed(this.now() - started, this.now());
        }
        last = error;
      }
    }
    throw last;
  }
}

/** An endpoint answered `null` for a block it should have if it were not behind. */
class BehindError extends Error {
  override readonly name = 'BehindError';
  constructor(endpoint: string, block: bigint) {
    super(`${endpoint} does not have block ${block} yet`);
  }
}
