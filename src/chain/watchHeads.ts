import type { Logger } from 'pino';
import { backoffDelay } from '../clock/backoff.ts';
import { HEAD_PROBE_INTERVAL_MS, HEAD_SUBSCRIBE_TIMEOUT_MS } from '../limits/defaults.ts';
import type { ChainRpc } from './ChainRpc.ts';
import { parseBlock } from './parseRpc.ts';
import type { ChainBlock } from './types.ts';

/** Reconnection of a WebSocket head source: jittered exponential backoff (default: `CHAIN_DEFAULTS.reconnect`). */
export interface ReconnectOptions {
  initialMs: number;
  maxMs: number;
  /** ±fraction of each delay drawn at random, so many engines do not reconnect in step. */
  jitter: number;
}

/** Resolved options: the bus fills every default from CHAIN_DEFAULTS. */
export interface WatchHeadsOptions {
  client: ChainRpc;
  /** Polling interval when the client is HTTP, and of the fallback polling (ms). */
  pollIntervalMs: number;
  /** While a WebSocket is down, poll this HTTP client instead (optional). */
  fallback?: ChainRpc;
  reconnect: ReconnectOptions;
  /** A head, and the source it came from (the WebSocket's client, or the one polled). */
  onHead: (head: ChainBlock, source: ChainRpc) => void;
  /** Told when a WebSocket drops (`down`) and when it is subscribed again (`up`). */
  onConnection?: (state: 'up' | 'down') => void;
  logger: Logger;
  random?: () => number;
}

/**
 * Watches a chain's new heads: `eth_subscribe('newHeads')` over a WebSocket, or `eth_getBlockByNumber
 * ('latest')` polling over HTTP. Returns the unwatch function. A dropped WebSocket is reconnected by
 * corral itself with jittered backoff (viem's own reconnect gives up silently after 5 tries and says
 * nothing when it succeeds); on every (re)connect the latest head is fetched at once, so the follower
 * sees the gap and the modules backfill it. Heads are validated; a malformed one is logged and dropped.
 */
export function watchHeads(options: WatchHeadsOptions): () => void {
  return options.client.transport === 'webSocket' ? watchSocket(options) : watchPolling(options, options.client);
}

function watchPolling(options: WatchHeadsOptions, client: ChainRpc): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let failing = false;
  const poll = async () => {
    try {
      const head = await client.blockByNumber('latest', 'head');
      if (stopped) return;
      if (failing) options.logger.info({ chainId: String(client.chainId) }, 'polling the chain again');
      failing = false;
      options.onHead(head, client);
    } catch (error) {
      if (!failing) options.logger.warn({ chainId: String(client.chainId), endpoint: client.endpoint, err: error }, 'polling for the head failed; retrying every interval');
      failing = true;
    }
    if (!stopped) timer = setTimeout(poll, options.pollIntervalMs);
  };
  void poll();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function watchSocket(options: WatchHeadsOptions): () => void {
  const { client, logger } = options;
  const random = options.random ?? Math.random;
  const chainId = String(client.chainId);
  /** Bumped on every (re)connect: callbacks of an older socket are ignored. */
  let generation = 0;
  let attempt = 0;
  let stopped = false;
  let up = false;
  let retry: NodeJS.Timeout | undefined;
  let probe: NodeJS.Timeout | undefined;
  let stopFallback: (() => void) | undefined;
  let unsubscribe: (() => Promise<unknown>) | undefined;

  const lost = (mine: number, error: unknown) => {
    if (mine !== generation || stopped) return;
    generation++;
    clearInterval(probe);
    if (up) options.onConnection?.('down');
    up = false;
    client.resetSocket();
    if (options.fallback && !stopFallback) stopFallback = watchPolling(options, options.fallback);
    const delay = backoffDelay(attempt++, options.reconnect, random);
    logger.warn({ chainId, endpoint: client.endpoint, attempt, delayMs: delay, err: error }, 'chain WebSocket lost; reconnecting');
    retry = setTimeout(connect, delay);
  };

  const connect = async () => {
    const mine = ++generation;
    try {
      const subscription = await withTimeout(
        client.subscribe({
          params: ['newHeads'],
          onData: (data) => {
            if (mine !== generation) return;
            try {
              options.onHead(parseBlock(data.result, client.chainId, 'eth_subscribe(newHeads)'), client);
            } catch (error) {
              logger.error({ chainId, err: error }, 'malformed head dropped');
            }
          },
          onError: (error) => lost(mine, error),
        }),
        HEAD_SUBSCRIBE_TIMEOUT_MS,
      );
      if (mine !== generation || stopped) return void subscription.unsubscribe().catch(() => {});
      unsubscribe = subscription.unsubscribe;
      attempt = 0;
      up = true;
      options.onConnection?.('up');
      stopFallback?.();
      stopFallback = undefined;
      probe = setInterval(() => {
        client.request('eth_blockNumber', [], 'head').catch((error: unknown) => lost(mine, error));
      }, HEAD_PROBE_INTERVAL_MS).unref();
      // newHeads replays nothing: fetch the head now so whatever was missed is seen at once.
      options.onHead(await client.blockByNumber('latest', 'head'), client);
    } catch (error) {
      lost(mine, error);
    }
  };

  void connect();
  return () => {
    stopped = true;
    generation++;
    clearTimeout(retry);
    clearInterval(probe);
    stopFallback?.();
    void unsubscribe?.().catch(() => {});
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
