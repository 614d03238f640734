import type { RpcPurpose } from './RpcStats.ts';
import type { SocketRpc } from './SocketRpc.ts';
import type { ChainBlock, ChainLog, LogFilter } from './types.ts';

export interface RequestJsonOptions {
  /** The most bytes the answer may take (over HTTP, counted as they arrive). */
  maxBytes?: number;
  signal?: AbortSignal;
}

/** How a module's request is sent (src/chain/pinRequest.ts decides both). */
export interface ModuleRequestOptions extends RequestJsonOptions {
  /** Pinned to a block hash: the shared cache may answer it. */
  cacheable?: boolean;
  /** The block it reads: only endpoints that reached it are asked. */
  minBlock?: bigint;
}

/**
 * What the bus, the follower and the `chain` host ask of a chain: one endpoint (ChainClient) or
 * several behind one face (EndpointPool). Every request is counted under its purpose (RpcStats).
 */
export interface ChainRpc {
  readonly chainId: bigint;
  /** `webSocket` when heads can be subscribed to (`subscribe`); an `http` one is polled. */
  readonly transport: 'http' | 'webSocket';
  /** The endpoint (or endpoints) without credentials, for messages. */
  readonly endpoint: string;
  request(method: string, params: unknown[], purpose: RpcPurpose, module?: string): Promise<unknown>;
  requestJson(method: string, params: unknown[], purpose: RpcPurpose, module?: string, options?: ModuleRequestOptions): Promise<string>;
  /** The canonical hash at a height the chain's follower still holds (pinning a module's request to it). */
  hashAt?(number: bigint): string | undefined;
  /** Counts a module request refused before it reached a node. */
  denied(method: string, module: string): void;
  blockByNumber(number: bigint | 'latest', purpose: RpcPurpose): Promise<ChainBlock>;
  /**
   * The block with `hash`, or null when there is none. `minBlock`: the height the caller knows the
   * chain has reached; a pool asks only endpoints that reached it (a node behind answers null).
   */
  blockByHash(hash: string, purpose: RpcPurpose, minBlock?: bigint): Promise<ChainBlock | null>;
  /** Logs of `filter` in one block (by hash, with its number when known) or a range. */
  logs(filter: LogFilter, where: { blockHash: string; number?: bigint } | { fromBlock: bigint; toBlock: bigint }, purpose: RpcPurpose): Promise<ChainLog[]>;
  chainIdServed(): Promise<bigint>;
  subscribe(args: Parameters<SocketRpc['subscribe']>[0]): ReturnType<SocketRpc['subscribe']>;
  /** Drops a lost or hung WebSocket; the next request opens a new one. */
  resetSocket(): void;
  close(): void;
}
