import type { Logger } from 'pino';
import { Subject, type Observable } from 'rxjs';
import { ChainClient } from '../chain/ChainClient.ts';
import { ChainFollower, type CanonicalChange } from '../chain/ChainFollower.ts';
import type { ChainRpc } from '../chain/ChainRpc.ts';
import type { EndpointStats } from '../chain/EndpointHealth.ts';
import { EndpointPool } from '../chain/EndpointPool.ts';
import { ResponseCache } from '../chain/ResponseCache.ts';
import { RpcAccounting, type RpcStats } from '../chain/RpcStats.ts';
import type { ChainBlock } from '../chain/types.ts';
import { watchHeads, type ReconnectOptions } from '../chain/watchHeads.ts';
import { EngineError } from '../errors/EngineError.ts';
import { CHAIN_DEFAULTS, RPC_CACHE_DEFAULTS, RPC_POOL_DEFAULTS } from '../limits/defaults.ts';
import { ChainLogs } from './ChainLogs.ts';
import { ModuleFeed, type FeedTarget } from './ModuleFeed.ts';
import type { ChainInterest } from './triggers.ts';

/**
 * One chain as the engine is configured with it, already validated (engine.toml's and `createEngine`'s
 * schema, src/config/EngineConfig.ts, is the one check); what is left out takes `CHAIN_DEFAULTS`.
 */
export interface ChainConfig {
  /** `http(s)://` (polled) or `ws(s)://` (`eth_subscribe`). Credentials in it never appear in errors or logs. One of `rpcUrl`, `rpcUrls`. */
  rpcUrl?: string;
  /**
   * Several endpoints of the chain (ws and http), an endpoint pool (src/chain/EndpointPool.ts): heads,
   * logs and module requests go to the best one that can answer and fail over to the others.
   */
  rpcUrls?: readonly string[];
  /** How the pool of `rpcUrls` probes, ranks and ejects its endpoints. */
  pool?: Partial<RpcPoolConfig>;
  /** Head polling interval for an HTTP endpoint, and for the fallback (ms). */
  pollIntervalMs?: number;
  /** An HTTP endpoint polled while a WebSocket is down (optional). */
  fallbackRpcUrl?: string;
  /** Largest `eth_getLogs` range when catching up; halved when the node refuses it. */
  maxLogRange?: number;
  /** Handled blocks keep undo records this deep; a deeper reorg halts the modules it reaches. */
  reorgWindow?: number;
  /** Confirmations of the triggers on this chain that do not set their own (0: at once). */
  confirmations?: number;
  /** Reconnection of a dropped WebSocket. */
  reconnect?: Partial<ReconnectOptions>;
  /**
   * Base URL of the chain's CoW Protocol order book API (`https://api.cow.fi/mainnet`), for modules granted
   * `cowApi` on it. The bus does not use it; the engine hands it to the `cow-api` host.
   */
  orderbookUrl?: string;
}

/** `[chains.<id>.pool]`: see RPC_POOL_DEFAULTS. */
export interface RpcPoolConfig {
  healthIntervalMs: number;
  maxHeadLagBlocks: number;
  ejectAfterErrors: number;
  ejectMs: number;
}

/** `[engine.rpc_cache]`: the block-pinned response cache every chain's modules share. */
export interface RpcCacheConfig {
  enabled: boolean;
  maxBytes: number;
}

interface ChainParts {
  config: ChainConfig;
  client: EndpointPool;
  fallback: ChainClient | undefined;
  follower: ChainFollower;
  logs: ChainLogs;
  blocks: Subject<ChainBlock>;
  reorgs: Subject<CanonicalChange>;
  unwatch?: () => void;
}

/**
 * The bus: per configured chain a client, a follower of its canonical head and the RxJS streams of
 * its blocks and reorgs; embedder events on `custom$`; and the feeds that carry each module's chain
 * events from its cursor to its mailbox. The only place RxJS meets chain data.
 */
export class Bus {
  readonly accounting = new RpcAccounting();
  /** Every event an embedder published, before routing. */
  readonly custom$ = new Subject<{ topic: string; payload: string }>();
  private readonly chains = new Map<bigint, ChainParts>();
  private readonly feeds: ModuleFeed[] = [];

  /** Answers of module requests pinned to a block hash, shared by every module of every chain. */
  readonly cache: ResponseCache | undefined;

  constructor(
    configs: Record<string, ChainConfig>,
    private readonly logger: Logger,
    cache: Partial<RpcCacheConfig> = {},
  ) {
    const { enabled, maxBytes } = { ...RPC_CACHE_DEFAULTS, ...cache };
    this.cache = enabled ? new ResponseCache(maxBytes) : undefined;
    for (const [id, config] of Object.entries(configs)) {
      const chainId = BigInt(id);
      const urls = config.rpcUrls ?? (config.rpcUrl === undefined ? [] : [config.rpcUrl]);
      if (urls.length === 0 || (config.rpcUrl !== undefined && config.rpcUrls !== undefined)) {
        throw new EngineError('invalid-option', `chain ${id}: give either rpcUrl or a non-empty rpcUrls`, { option: `chains.${id}.rpcUrls`, chainId: id });
      }
      const reorgWindow = config.reorgWindow ?? CHAIN_DEFAULTS.reorgWindow;
      const client: EndpointPool = new EndpointPool({
        clients: urls.map((rpcUrl) => new ChainClient({ chainId, rpcUrl, accounting: this.accounting })),
        accounting: this.accounting,
        ...(this.cache ? { cache: this.cache } : {}),
        ...RPC_POOL_DEFAULTS,
        ...config.pool,
        logger,
        hashAt: (number) => this.parts(chainId).follower.heldAt(number)?.hash,
      });
      const parts: ChainParts = {
        config,
        client,
        fallback: config.fallbackRpcUrl ? new ChainClient({ chainId, rpcUrl: config.fallbackRpcUrl, accounting: this.accounting }) : undefined,
        follower: undefined as unknown as ChainFollower,
        logs: new ChainLogs(client, config.maxLogRange ?? CHAIN_DEFAULTS.maxLogRange),
        blocks: new Subject(),
        reorgs: new Subject(),
      };
      // The follower keeps a little more than the reorg window: journal checks then never ask the node.
      parts.follower = new ChainFollower(client, {
        windowBlocks: reorgWindow + 16,
        logger,
        onChange: (change) => {
          if (change.abandoned.length > 0) parts.reorgs.next(change);
          for (const block of change.added) parts.blocks.next(block);
        },
      });
      this.chains.set(chainId, parts);
    }
  }

  /** The chains' clients by id (module `chain.request` calls go through them, counted). */
  get clients(): ReadonlyMap<bigint, ChainRpc> {
    return new Map([...this.chains].map(([id, parts]) => [id, parts.client]));
  }

  /** Canonical blocks of a chain as the follower adds them (after a reorg, the new branch). */
  blocks$(chainId: bigint | number): Observable<ChainBlock> {
    return this.parts(BigInt(chainId)).blocks.asObservable();
  }

  /** Reorgs of a chain: the blocks abandoned and those that replaced them. */
  reorgs$(chainId: bigint | number): Observable<CanonicalChange> {
    return this.parts(BigInt(chainId)).reorgs.asObservable();
  }

  /** Checks every endpoint serves its configured chain, then starts watching heads. */
  async start(): Promise<void> {
    for (const [chainId, parts] of this.chains) {
      // A pool checks its endpoints itself (one down at start is used once it answers).
      const single = parts.client.endpoints.length === 1 ? parts.client.endpoints[0]!.client : undefined;
      for (const client of [single, parts.fallback]) {
        if (!client) continue;
        let served: bigint;
        try {
          served = await client.chainIdServed();
        } catch (cause) {
          throw new EngineError('chain-unreachable', `chain ${chainId}: ${client.endpoint} did not answer eth_chainId`, { chainId: String(chainId), endpoint: client.endpoint }, cause);
        }
        if (served !== chainId) {
          throw new EngineError('chain-mismatch', `chain ${chainId}: ${client.endpoint} serves chain ${served}`, { chainId: String(chainId), served: String(served), endpoint: client.endpoint });
        }
        if (client === single) parts.client.endpoints[0]!.served = 'yes'; // its metrics say up
      }
    }
    for (const parts of this.chains.values()) await parts.client.start();
    for (const parts of this.chains.values()) {
      // Heads: subscribed on the first WebSocket endpoint; while it is down (or with none), polled
      // through the pool, whose `latest` comes from the endpoint with the highest known head. One
      // endpoint: exactly as a single client was (the fallback, if any, polled while it is down).
      const pool = parts.client;
      const socket = pool.sockets[0];
      const single = pool.endpoints.length === 1;
      parts.unwatch = watchHeads({
        client: single ? pool.endpoints[0]!.client : (socket ?? pool),
        ...(single ? (parts.fallback ? { fallback: parts.fallback } : {}) : { fallback: pool }),
        pollIntervalMs: parts.config.pollIntervalMs ?? CHAIN_DEFAULTS.pollIntervalMs,
        reconnect: { ...CHAIN_DEFAULTS.reconnect, ...parts.config.reconnect },
        onHead: (head, source) => {
          if (source === socket) pool.noteHead(socket, head.number);
          void parts.follower.ingest({ ...head, seenAt: performance.timeOrigin + performance.now() });
        },
        logger: this.logger,
      });
    }
  }

  /** Starts carrying a module's events of one chain from its cursor. */
  feed(target: FeedTarget, interest: ChainInterest, startBlock: bigint | undefined): ModuleFeed {
    const parts = this.parts(interest.chainId);
    const feed = new ModuleFeed(parts.follower, parts.logs, target, {
      interest,
      startBlock,
      reorgWindow: parts.config.reorgWindow ?? CHAIN_DEFAULTS.reorgWindow,
      logger: this.logger.child({ module: target.module }),
    });
    this.feeds.push(feed);
    return feed;
  }

  /** The head of a chain as its follower holds it (undefined until the first head arrived). */
  head(chainId: bigint): bigint | undefined {
    return this.parts(chainId).follower.tip?.number;
  }

  /** Forgets a stopped feed (its module was unloaded). */
  unfeed(feed: ModuleFeed): void {
    const i = this.feeds.indexOf(feed);
    if (i >= 0) this.feeds.splice(i, 1);
  }

  /** Every configured chain's id. */
  chainIds(): bigint[] {
    return [...this.chains.keys()];
  }

  hasChain(chainId: bigint): boolean {
    return this.chains.has(chainId);
  }

  /** The confirmations a trigger on this chain waits for when it sets none. */
  confirmations(chainId: bigint): number {
    return this.chains.get(chainId)?.config.confirmations ?? CHAIN_DEFAULTS.confirmations;
  }

  rpcStats(): RpcStats {
    return this.accounting.snapshot();
  }

  /** Each chain's endpoints: up or ejected, known head, latency, requests, failures, ejections. */
  endpointStats(): Record<string, EndpointStats[]> {
    return Object.fromEntries([...this.chains].map(([id, parts]) => [String(id), parts.client.stats()]));
  }

  /** Stops watching heads and lets each feed finish the step it is in. */
  async stop(): Promise<void> {
    for (const parts of this.chains.values()) {
      parts.unwatch?.();
      parts.follower.wakeAll();
    }
    await Promise.all(this.feeds.map((feed) => feed.stop()));
    for (const parts of this.chains.values()) {
      parts.client.close();
      parts.fallback?.close();
      parts.blocks.complete();
      parts.reorgs.complete();
    }
    this.custom$.complete();
  }

  private parts(chainId: bigint): ChainParts {
    const parts = this.chains.get(chainId);
    if (!parts) throw new EngineError('invalid-trigger', `chain ${chainId} is not configured`, { chainId: String(chainId) });
    return parts;
  }
}
