import { AsyncLocalStorage } from 'node:async_hooks';
import { createClient, custom, http, ResponseBodyTooLargeError, type Client } from 'viem';
import { DEFAULT_ENGINE_RPC_RESPONSE_BYTES, RPC_REQUEST_TIMEOUT_MS } from '../limits/defaults.ts';
import { parseBlock, parseLogs } from './parseRpc.ts';
import { redactUrl } from './redactUrl.ts';
import { RpcDataError } from './RpcDataError.ts';
import { SocketRpc } from './SocketRpc.ts';
import type { ChainRpc, RequestJsonOptions } from './ChainRpc.ts';
import type { RpcAccounting, RpcPurpose } from './RpcStats.ts';
import type { ChainBlock, ChainLog, LogFilter } from './types.ts';

export interface ChainClientOptions {
  chainId: bigint;
  /** `http(s)://` or `ws(s)://`. Credentials in it never appear in errors or logs. */
  rpcUrl: string;
  accounting: RpcAccounting;
  /** Per-request timeout (ms). Default RPC_REQUEST_TIMEOUT_MS. */
  timeoutMs?: number;
}

/**
 * One chain's viem client. Every request corral makes of a chain passes here, so each is counted
 * (by purpose and method) and each answer that becomes bus data is validated first.
 */
export class ChainClient implements ChainRpc {
  readonly chainId: bigint;
  readonly transport: 'http' | 'webSocket';
  /** The RPC URL without credentials, for messages. */
  readonly endpoint: string;
  readonly viem: Client;
  private readonly accounting: RpcAccounting;
  /** corral's own WebSocket transport (`ws`, every Node version), when the URL is one. */
  private readonly socket: SocketRpc | undefined;

  constructor(options: ChainClientOptions) {
    this.chainId = options.chainId;
    this.accounting = options.accounting;
    this.endpoint = redactUrl(options.rpcUrl);
    this.transport = /^wss?:/i.test(options.rpcUrl) ? 'webSocket' : 'http';
    const timeout = options.timeoutMs ?? RPC_REQUEST_TIMEOUT_MS;
    if (this.transport === 'webSocket') {
      // Not viem's webSocket(): see SocketRpc (the Pong per message, the cap). Its reconnection is
      // corral's own too (src/chain/watchHeads.ts): viem's would re-subscribe behind our back and not
      // tell us about the gap. viem still maps the node's errors to its typed ones.
      const socket = (this.socket = new SocketRpc(options.rpcUrl, timeout));
      const request = async ({ method, params }: { method: string; params?: unknown[] }, options?: { signal?: AbortSignal }) => {
        const slot = responseSize.getStore();
        const answer = await socket.request(method, params ?? [], { maxBytes: slot?.maxBytes ?? DEFAULT_ENGINE_RPC_RESPONSE_BYTES, signal: options?.signal });
        if (slot) slot.bytes = answer.bytes;
        return answer.result;
      };
      this.viem = createClient({ transport: custom({ request }, { retryCount: 0 }) });
    } else {
      // corral reads the answer (countingFetch): viem's own cap would apply after ours and answer differently.
      this.viem = createClient({ transport: http(options.rpcUrl, { retryCount: 0, timeout, fetchFn: countingFetch, maxResponseBodySize: false }) });
    }
  }

  /**
   * A JSON-RPC request, counted under `purpose` (and `module`). Failures are counted and rethrown as
   * they came from viem (its errors carry `code`, `shortMessage` and `details`).
   */
  async request(method: string, params: unknown[], purpose: RpcPurpose, module?: string): Promise<unknown> {
    let result: unknown;
    const response: ResponseSize = { bytes: undefined };
    try {
      result = await responseSize.run(response, () => this.viem.request({ method, params } as never));
    } catch (error) {
      this.accounting.count(this.chainId, purpose, method, 'failed', module);
      throw error;
    }
    this.accounting.count(this.chainId, purpose, method, { bytes: response.bytes ?? jsonBytes(result) }, module);
    return result;
  }

  /**
   * Like `request`, answering the result's JSON, serialised once for both the count and the caller.
   * The request fails with viem's `ResponseBodyTooLargeError { maxSize, size }` past `maxBytes`:
   * over HTTP as soon as the answer passes it (counted as it arrives; its connection is closed), over a
   * WebSocket once the message is in, before it is parsed (a message arrives whole, up to `ws`'s
   * 100 MiB maxPayload; the socket is shared with the head subscription and stays open). `signal`
   * aborts the request.
   */
  async requestJson(method: string, params: unknown[], purpose: RpcPurpose, module?: string, options: RequestJsonOptions = {}): Promise<string> {
    let json: string;
    const response: ResponseSize = { bytes: undefined, ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }) };
    try {
      const result = await responseSize.run(response, () => this.viem.request({ method, params } as never, options.signal ? { signal: options.signal } : undefined));
      json = JSON.stringify(result ?? null);
    } catch (error) {
      this.accounting.count(this.chainId, purpose, method, 'failed', module);
      throw error;
    }
    this.accounting.count(this.chainId, purpose, method, { bytes: Buffer.byteLength(json) }, module);
    return json;
  }

  /** Counts a request that was refused before it reached the node. */
  denied(method: string, module: string): void {
    this.accounting.count(this.chainId, 'module', method, 'denied', module);
  }

  async blockByNumber(number: bigint | 'latest', purpose: RpcPurpose): Promise<ChainBlock> {
    const tag = number === 'latest' ? 'latest' : `0x${number.toString(16)}`;
    return this.validated('eth_getBlockByNumber', purpose, () => this.request('eth_getBlockByNumber', [tag, false], purpose), (raw) => parseBlock(raw, this.chainId, 'eth_getBlockByNumber'));
  }

  async blockByHash(hash: string, purpose: RpcPurpose): Promise<ChainBlock | null> {
    return this.validated('eth_getBlockByHash', purpose, () => this.request('eth_getBlockByHash', [hash, false], purpose), (raw) => (raw === null ? null : parseBlock(raw, this.chainId, 'eth_getBlockByHash')));
  }

  /** Logs matching `filter` in one block (by hash: exactly that block, whatever the chain did since) or a range. */
  async logs(filter: LogFilter, where: { blockHash: string; number?: bigint } | { fromBlock: bigint; toBlock: bigint }, purpose: RpcPurpose): Promise<ChainLog[]> {
    const params: Record<string, unknown> = { topics: filter.topics };
    if (filter.address.length > 0) params.address = filter.address;
    if ('blockHash' in where) params.blockHash = where.blockHash;
    else {
      params.fromBlock = `0x${where.fromBlock.toString(16)}`;
      params.toBlock = `0x${where.toBlock.toString(16)}`;
    }
    return this.validated('eth_getLogs', purpose, () => this.request('eth_getLogs', [params], purpose), (raw) => parseLogs(raw, this.chainId, 'blockHash' in where ? { blockHash: where.blockHash } : where));
  }

  async chainIdServed(): Promise<bigint> {
    return BigInt((await this.request('eth_chainId', [], 'startup')) as string);
  }

  /** `eth_subscribe` on the WebSocket (`onError` once when that socket is lost). */
  subscribe(args: Parameters<SocketRpc['subscribe']>[0]): ReturnType<SocketRpc['subscribe']> {
    if (!this.socket) throw new Error(`${this.endpoint}: subscriptions need a WebSocket`);
    return this.socket.subscribe(args);
  }

  /** Drops the WebSocket (a lost or hung one); the next request opens a new one. */
  resetSocket(): void {
    this.socket?.reset();
  }

  close(): void {
    this.socket?.close();
  }

  /** A malformed answer counts as a failed request of its method, and is thrown as RpcDataError. */
  private async validated<T>(method: string, purpose: RpcPurpose, fetch: () => Promise<unknown>, parse: (raw: unknown) => T): Promise<T> {
    const raw = await fetch();
    try {
      return parse(raw);
    } catch (error) {
      if (error instanceof RpcDataError) this.accounting.count(this.chainId, purpose, `${method}:malformed`, 'failed');
      throw error;
    }
  }
}


/**
 * One request's answer as the fetch below sees it: `request` opens a slot, the fetch reads the cap
 * from it and fills in the size (an async context, because viem's transport sits between the two).
 * Re-serialising a result to measure it cost ~1.5 ms per 1,000 logs on the engine's main thread.
 */
interface ResponseSize {
  bytes: number | undefined;
  /** Default: DEFAULT_ENGINE_RPC_RESPONSE_BYTES. */
  maxBytes?: number;
}
const responseSize = new AsyncLocalStorage<ResponseSize>();

/**
 * An answer that declares its length is checked against the cap by it and handed to viem as it is.
 * One that does not is read here, counting bytes as they arrive, and handed to viem whole: past the
 * request's cap the body is cancelled (its connection closed) and the request fails with
 * `ResponseBodyTooLargeError`, which viem passes on unwrapped. A 64 MB answer used to be read whole
 * (viem's 10 MiB limit aside) before a module's `rpcResponseBytes` was looked at.
 */
const countingFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  const slot = responseSize.getStore();
  const maxSize = slot?.maxBytes ?? DEFAULT_ENGINE_RPC_RESPONSE_BYTES;
  const length = response.headers.get('content-length');
  if (length !== null && /^[0-9]+$/.test(length) && Number(length) > maxSize) {
    await response.body?.cancel();
    throw new ResponseBodyTooLargeError({ maxSize, size: Number(length) });
  }
  // A declared length within the cap bounds the body (undici fails a body longer than its
  // content-length): viem reads it as it is. Copying it into a new Response cost the backfill a
  // second pass over every answer on the main thread. Not for an encoded body: the length is the
  // compressed size, and undici hands over the decompressed bytes (a small gzip can hold gigabytes).
  const encoding = response.headers.get('content-encoding');
  if (length !== null && /^[0-9]+$/.test(length) && (encoding === null || encoding.trim().toLowerCase() === 'identity')) {
    if (slot) slot.bytes = Number(length);
    return response;
  }
  if (!response.body) return response;
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxSize) {
      await reader.cancel();
      throw new ResponseBodyTooLargeError({ maxSize, size });
    }
    chunks.push(value);
  }
  if (slot) slot.bytes = size;
  return new Response(Buffer.concat(chunks), { status: response.status, statusText: response.statusText, headers: response.headers });
};

/** Size of a JSON result without a length on the wire (chunked HTTP): serialised once more. */
function jsonBytes(result: unknown): number {
  if (typeof result === 'string') return result.length + 2;
  return Buffer.byteLength(JSON.stringify(result ?? null));
}
