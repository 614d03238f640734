import { AsyncLocalStorage } from 'node:async_hooks';
import { createClient, http, ResponseBodyTooLargeError, webSocket, type Client } from 'viem';
import { DEFAULT_ENGINE_RPC_RESPONSE_BYTES } from '../limits/defaults.ts';
import { acknowledgeMessages } from './acknowledgeMessages.ts';
import { parseBlock, parseLogs } from './parseRpc.ts';
import { redactUrl } from './redactUrl.ts';
import { RpcDataError } from './RpcDataError.ts';
import type { RpcAccounting, RpcPurpose } from './RpcStats.ts';
import type { ChainBlock, ChainLog, LogFilter } from './types.ts';

export interface ChainClientOptions {
  chainId: bigint;
  /** `http(s)://` or `ws(s)://`. Credentials in it never appear in errors or logs. */
  rpcUrl: string;
  accounting: RpcAccounting;
  /** Per-request timeout. Default 10 s (viem's). */
  timeoutMs?: number;
}

/**
 * One chain's viem client. Every request corral makes of a chain passes here, so each is counted
 * (by purpose and method) and each answer that becomes bus data is validated first.
 */
export class ChainClient {
  readonly chainId: bigint;
  readonly transport: 'http' | 'webSocket';
  /** The RPC URL without credentials, for messages. */
  readonly endpoint: string;
  readonly viem: Client;
  private readonly accounting: RpcAccounting;
  /** The WebSocket whose messages are acknowledged at once (see acknowledgeMessages); a reconnect brings a new one. */
  private socket: object | undefined;

  constructor(options: ChainClientOptions) {
    this.chainId = options.chainId;
    this.accounting = options.accounting;
    this.endpoint = redactUrl(options.rpcUrl);
    this.transport = /^wss?:/i.test(options.rpcUrl) ? 'webSocket' : 'http';
    const common = { retryCount: 0, ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}) };
    // Reconnection of a WebSocket is corral's own (src/chain/watchHeads.ts): viem's would re-subscribe
    // behind our back and not tell us about the gap.
    this.viem = createClient({
      transport:
        this.transport === 'webSocket'
          ? webSocket(options.rpcUrl, { ...common, reconnect: false, keepAlive: false })
          : // corral reads the answer (countingFetch): viem's own cap would apply after ours and answer differently.
            http(options.rpcUrl, { ...common, fetchFn: countingFetch, maxResponseBodySize: false }),
    });
  }

  /**
   * A JSON-RPC request, counted under `purpose` (and `module`). Failures are counted and rethrown as
   * they came from viem (its errors carry `code`, `shortMessage` and `details`).
   */
  async request(method: string, params: unknown[], purpose: RpcPurpose, module?: string): Promise<unknown> {
    let result: unknown;
    const response: ResponseSize = { bytes: undefined };
    if (this.transport === 'webSocket') await this.acknowledgeSocket();
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
   * Over HTTP the answer is counted as it arrives and the request fails with viem's
   * `ResponseBodyTooLargeError { maxSize, size }` as soon as it passes `maxBytes` (its socket is
   * closed); `signal` aborts the request. Over a WebSocket neither holds before the answer is in: the
   * socket receives a message whole (on Node 20 viem's socket is `ws`'s, created without options:
   * up to its 100 MiB maxPayload) and viem parses it before the caller can measure it. The socket is
   * shared with the head subscription, so refusing one big message would close it for every reader.
   */
  async requestJson(method: string, params: unknown[], purpose: RpcPurpose, module?: string, options: RequestJsonOptions = {}): Promise<string> {
    let json: string;
    const response: ResponseSize = { bytes: undefined, ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }) };
    if (this.transport === 'webSocket') await this.acknowledgeSocket();
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
  async logs(filter: LogFilter, where: { blockHash: string } | { fromBlock: bigint; toBlock: bigint }, purpose: RpcPurpose): Promise<ChainLog[]> {
    const params: Record<string, unknown> = { topics: filter.topics };
    if (filter.address.length > 0) params.address = filter.address;
    if ('blockHash' in where) params.blockHash = where.blockHash;
    else {
      params.fromBlock = `0x${where.fromBlock.toString(16)}`;
      params.toBlock = `0x${where.toBlock.toString(16)}`;
    }
    return this.validated('eth_getLogs', purpose, () => this.request('eth_getLogs', [params], purpose), (raw) => parseLogs(raw, this.chainId, where));
  }

  async chainIdServed(): Promise<bigint> {
    return BigInt((await this.request('eth_chainId', [], 'startup')) as string);
  }

  close(): void {
    const transport = this.viem.transport as { getRpcClient?: () => Promise<{ close(): void }> };
    if (this.transport === 'webSocket') void transport.getRpcClient?.().then((c) => c.close(), () => {});
  }

  /**
   * Makes the socket requests are about to go on acknowledge every message at once (the head
   * subscription shares it; see acknowledgeMessages). A socket that fails to open is left to the request.
   */
  async acknowledgeSocket(): Promise<void> {
    const transport = this.viem.transport as { getRpcClient?: () => Promise<{ socket: Parameters<typeof acknowledgeMessages>[0] }> };
    const socket = await transport.getRpcClient?.().then((c) => c.socket, () => undefined);
    if (!socket || socket === this.socket) return;
    this.socket = socket;
    acknowledgeMessages(socket);
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

export interface RequestJsonOptions {
  /** The most bytes the answer may take (over HTTP, counted as they arrive). */
  maxBytes?: number;
  signal?: AbortSignal;
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

/** Size of a JSON result without a length on the wire (WebSocket, chunked HTTP): serialised once more. */
function jsonBytes(result: unknown): number {
  if (typeof result === 'string') return result.length + 2;
  return Buffer.byteLength(JSON.stringify(result ?? null));
}
