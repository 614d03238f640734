import { createRequire } from 'node:module';
import { ResponseBodyTooLargeError, RpcRequestError, SocketClosedError, TimeoutError, WebSocketRequestError } from 'viem';

/** The part of `ws`'s WebSocket used here (the package ships no types; viem depends on it through isows). */
interface Ws {
  readonly readyState: number;
  on(event: 'open', listener: () => void): void;
  on(event: 'message', listener: (data: Buffer) => void): void;
  on(event: 'close', listener: () => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  send(data: string, cb?: (error?: Error) => void): void;
  pong(data: undefined, mask: boolean, cb: (error?: Error) => void): void;
  terminate(): void;
}
const WebSocket = createRequire(import.meta.url)('ws') as new (url: string, options: { perMessageDeflate: boolean; handshakeTimeout: number }) => Ws;
const OPEN = 1;

interface Pending {
  resolve: (answer: { result: unknown; bytes: number }) => void;
  /** Called with the result as it is received, before anything else the node sent after it. */
  onResult?: ((result: unknown) => void) | undefined;
  reject: (error: unknown) => void;
  body: { method: string; params: unknown[] };
  maxBytes: number;
}
type Subscription = { onData: (data: { result: unknown }) => void; onError: (error: unknown) => void };

/**
 * JSON-RPC over one WebSocket of `ws`'s, on every Node version, in place of viem's `webSocket()`
 * transport (which takes the platform WebSocket on Node 22+ and cannot be handed a socket).
 *
 * - Every message from the node is answered with an unsolicited Pong (RFC 6455 §5.5.3), so our ACK
 *   leaves at once: anvil (tokio/hyper without TCP_NODELAY) writes with Nagle on, and Linux holds a
 *   bare ACK ~40 ms, so a node's second write with nothing of ours in between (a head after the
 *   previous block's getLogs answer; the health probe's answer crossing a getLogs answer) waited for
 *   it. The platform WebSocket cannot send a Pong; `ws` can, and sets TCP_NODELAY on its own side.
 * - An answer is measured as it came off the wire (no re-serialising to count it) and refused with
 *   viem's `ResponseBodyTooLargeError` past its request's cap (unparsed); the socket, which
 *   the head subscription shares, stays open. (A single message is bounded by `ws`'s own 100 MiB
 *   `maxPayload`, past which it closes the socket.)
 * - Reconnection and keep-alive are the caller's (src/chain/watchHeads.ts: backoff, probes): a lost
 *   socket fails its requests and tells every subscription once; the next request opens a new one.
 */
export class SocketRpc {
  private socket: Promise<Ws> | undefined;
  /** The socket `socket` resolves to, from the moment it starts opening. */
  private raw: Ws | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly subscriptions = new Map<string, Subscription>();
  private closed = false;

  constructor(
    readonly url: string,
    private readonly timeoutMs: number,
  ) {}

  /** One request: its result and the size of its answer on the wire. Errors as viem's WebSocket transport throws them. */
  async request(method: string, params: unknown[], options: { maxBytes: number; signal?: AbortSignal | undefined; onResult?: (result: unknown) => void }): Promise<{ result: unknown; bytes: number }> {
    options.signal?.throwIfAborted();
    const id = this.nextId++;
    const body = { method, params };
    return new Promise((resolve, reject) => {
      const done = () => {
        this.pending.delete(id);
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', abort);
      };
      const abort = () => {
        done();
        reject(options.signal!.reason);
      };
      // The timeout and the signal cover the opening handshake too: a node that accepts the connection
      // and never answers the upgrade must not hold a request (found in review).
      const timer = setTimeout(() => {
        done();
        reject(new TimeoutError({ body, url: this.url }));
      }, this.timeoutMs);
      options.signal?.addEventListener('abort', abort, { once: true });
      this.pending.set(id, {
        body,
        maxBytes: options.maxBytes,
        onResult: options.onResult,
        resolve: (answer) => (done(), resolve(answer)),
        reject: (error) => (done(), reject(error)),
      });
      this.open().then(
        (socket) => {
          if (!this.pending.has(id)) return; // timed out or aborted while the socket opened
          socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }), (error) => error && this.pending.get(id)?.reject(new WebSocketRequestError({ body, url: this.url, cause: error })));
        },
        (error: unknown) => this.pending.get(id)?.reject(error),
      );
    });
  }

  /** `eth_subscribe(params)`: `onData` for each notification, `onError` once if the socket is lost. */
  async subscribe(args: { params: unknown[]; onData: Subscription['onData']; onError: Subscription['onError'] }): Promise<{ unsubscribe: () => Promise<unknown> }> {
    // Registered as the answer is received: a notification the node wrote right behind it is not lost.
    const { result } = await this.request('eth_subscribe', args.params, { maxBytes: Infinity, onResult: (id) => this.subscriptions.set(String(id), { onData: args.onData, onError: args.onError }) });
    const id = String(result);
    return {
      unsubscribe: async () => {
        if (!this.subscriptions.delete(id)) return;
        return this.request('eth_unsubscribe', [id], { maxBytes: Infinity });
      },
    };
  }

  /** Drops the current socket (its requests fail, its subscriptions are told); the next request opens a new one. */
  reset(): void {
    this.raw?.terminate(); // also while it opens: a handshake that never ends is dropped too
  }

  /** For good: no request is sent after this. */
  close(): void {
    this.closed = true;
    this.reset();
  }

  private open(): Promise<Ws> {
    if (this.closed) return Promise.reject(new SocketClosedError({ url: this.url }));
    if (this.socket) return this.socket;
    // handshakeTimeout: an opening that never completes fails like a lost socket, not never.
    const socket = new WebSocket(this.url, { perMessageDeflate: false, handshakeTimeout: this.timeoutMs });
    this.raw = socket;
    const opened = new Promise<Ws>((resolve, reject) => {
      socket.on('open', () => resolve(socket));
      socket.on('error', (error) => reject(new WebSocketRequestError({ body: {}, url: this.url, cause: error })));
      socket.on('close', () => {
        reject(new SocketClosedError({ url: this.url }));
        this.lost(opened);
      });
    });
    opened.catch(() => {}); // a failed open is the requester's to see
    socket.on('message', (data) => {
      // Before anything else, so the ACK leaves with it (a closing socket refuses: nothing to acknowledge).
      if (socket.readyState === OPEN) socket.pong(undefined, true, ignore);
      this.receive(data);
    });
    this.socket = opened;
    return opened;
  }

  private receive(data: Buffer): void {
    // An answer past its request's cap is refused unparsed, found by its id near the start (as
    // nodes write it: {"jsonrpc":"2.0","id":7,"result":…}); one whose id is not there is parsed first.
    const early = /"id"\s*:\s*(\d+)/.exec(data.subarray(0, 48).toString('latin1'));
    const large = early ? this.pending.get(Number(early[1])) : undefined;
    if (large && data.length > large.maxBytes) return large.reject(new ResponseBodyTooLargeError({ maxSize: large.maxBytes, size: data.length }));
    let message: { id?: number; result?: unknown; error?: { code: number; message: string; data?: unknown }; method?: string; params?: { subscription: string; result: unknown } };
    try {
      message = JSON.parse(data.toString());
    } catch {
      return; // not JSON-RPC: nothing can be matched to it (the request times out)
    }
    if (message.method === 'eth_subscription' && message.params) {
      this.subscriptions.get(message.params.subscription)?.onData({ result: message.params.result });
      return;
    }
    const pending = message.id === undefined ? undefined : this.pending.get(message.id);
    if (!pending) return;
    if (data.length > pending.maxBytes) pending.reject(new ResponseBodyTooLargeError({ maxSize: pending.maxBytes, size: data.length }));
    else if (message.error) pending.reject(new RpcRequestError({ body: pending.body, error: message.error, url: this.url }));
    else {
      pending.onResult?.(message.result);
      pending.resolve({ result: message.result, bytes: data.length });
    }
  }

  private lost(socket: Promise<Ws>): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.raw = undefined;
    for (const pending of [...this.pending.values()]) pending.reject(new SocketClosedError({ url: this.url }));
    const subscriptions = [...this.subscriptions.values()];
    this.subscriptions.clear();
    for (const s of subscriptions) s.onError(new SocketClosedError({ url: this.url }));
  }
}

const ignore = () => {};
