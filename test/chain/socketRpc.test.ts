import { createRequire } from 'node:module';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { InvalidParamsRpcError, ResponseBodyTooLargeError, SocketClosedError, TimeoutError } from 'viem';
import { afterEach, describe, expect, test } from 'vitest';
import { ChainClient } from '../../src/chain/ChainClient.ts';
import { RpcAccounting } from '../../src/chain/RpcStats.ts';
import { SocketRpc } from '../../src/chain/SocketRpc.ts';
import { deferred } from '../helpers.ts';

/** `ws` as the node's side: a real server that counts the Pongs it receives. */
interface Peer {
  on(event: 'message', listener: (data: Buffer) => void): void;
  on(event: 'pong', listener: () => void): void;
  send(data: string): void;
  terminate(): void;
}
interface Server {
  on(event: 'connection', listener: (peer: Peer) => void): void;
  on(event: 'listening', listener: () => void): void;
  address(): AddressInfo;
  close(): void;
}
const { WebSocketServer } = createRequire(import.meta.url)('ws') as { WebSocketServer: new (options: { host: string; port: number }) => Server };

/**
 * A JSON-RPC node: eth_chainId → 0x1, eth_subscribe → '0xs1' (with 'eager', a notification right behind it), eth_call → `size` bytes of hex,
 * eth_bad → an invalid-params error; other methods are never answered. It can push a notification
 * to the latest connection and drop it; `pongs(n)` resolves at the n-th Pong.
 */
async function node() {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.on('listening', resolve));
  let pongs = 0;
  let connections = 0;
  const waiting: { n: number; resolve: () => void }[] = [];
  let peer: Peer | undefined;
  server.on('connection', (p) => {
    peer = p;
    connections++;
    p.on('pong', () => {
      pongs++;
      for (const w of waiting.filter((w) => w.n <= pongs)) w.resolve();
    });
    p.on('message', (data) => {
      const { id, method, params } = JSON.parse(String(data)) as { id: number; method: string; params: unknown[] };
      const answer = (body: object) => p.send(JSON.stringify({ jsonrpc: '2.0', id, ...body }));
      if (method === 'eth_chainId') answer({ result: '0x1' });
      if (method === 'eth_subscribe') answer({ result: '0xs1' });
      // A node may push the first notification right behind the answer (one TCP read for both).
      if (method === 'eth_subscribe' && params[1] === 'eager') p.send(JSON.stringify({ jsonrpc: '2.0', method: 'eth_subscription', params: { subscription: '0xs1', result: { number: '0x0' } } }));
      if (method === 'eth_unsubscribe') answer({ result: true });
      if (method === 'eth_call') answer({ result: `0x${'ab'.repeat(Number(params[0]))}` });
      if (method === 'eth_bad') answer({ error: { code: -32602, message: 'bad params here' } });
    });
  });
  return {
    url: `ws://127.0.0.1:${server.address().port}`,
    connections: () => connections,
    pongs: (n: number) => new Promise<number>((resolve) => (pongs >= n ? resolve(pongs) : waiting.push({ n, resolve: () => resolve(pongs) }))),
    notify: (result: unknown = {}) => peer!.send(JSON.stringify({ jsonrpc: '2.0', method: 'eth_subscription', params: { subscription: '0xs1', result } })),
    drop: () => peer!.terminate(),
    close: () => server.close(),
  };
}

describe('SocketRpc (the chain WebSocket transport, `ws` on every Node version)', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => cleanup.splice(0).forEach((f) => f()));
  const start = async (timeoutMs?: number) => {
    const server = await node();
    const client = new ChainClient({ chainId: 1n, rpcUrl: server.url, accounting: new RpcAccounting(), ...(timeoutMs ? { timeoutMs } : {}) });
    cleanup.push(() => client.close(), server.close);
    return { server, client };
  };

  test('behavior: every message the node sends on the chain socket is answered by a Pong (the ACK goes out at once)', async () => {
    const { server, client } = await start();
    expect(await client.chainIdServed()).toBe(1n);
    expect(await server.pongs(1)).toBe(1);
    server.notify(); // a message nobody asked for (a head): acknowledged too
    expect(await server.pongs(2)).toBe(2);
    expect(await client.chainIdServed()).toBe(1n);
    expect(await server.pongs(3)).toBe(3);
  });

  test('behavior: a subscription gets its notifications, the first one too when the node writes it right behind its answer; a lost socket fails it once, and the next request opens a new socket', async () => {
    const { server, client } = await start();
    const heads: unknown[] = [];
    let failed = 0;
    const lost = new Promise<unknown>((resolve) => client.subscribe({ params: ['newHeads', 'eager'], onData: (d) => heads.push(d.result), onError: (e) => (failed++, resolve(e)) }));
    await server.pongs(2); // the subscription's answer and the notification behind it are in
    server.notify({ number: '0x1' });
    server.notify({ number: '0x2' });
    await server.pongs(4);
    expect(heads).toEqual([{ number: '0x0' }, { number: '0x1' }, { number: '0x2' }]);
    server.drop();
    expect(await lost).toBeInstanceOf(SocketClosedError);
    expect(await client.chainIdServed()).toBe(1n);
    expect(server.connections()).toBe(2);
    expect(failed).toBe(1);
  });

  test('limit: an answer past the request\'s cap is refused with ResponseBodyTooLargeError, and the shared socket stays open', async () => {
    const { server, client } = await start();
    const error = await client.requestJson('eth_call', [600_000], 'module', 'm', { maxBytes: 1_000_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResponseBodyTooLargeError);
    expect((error as ResponseBodyTooLargeError).size).toBeGreaterThan(1_200_000);
    expect(JSON.parse(await client.requestJson('eth_call', [400_000], 'module', 'm', { maxBytes: 1_000_000 }))).toHaveLength(800_002);
    expect(server.connections()).toBe(1);
  });

  test('error: the node\'s JSON-RPC error arrives as viem\'s typed error; an unanswered request times out', async () => {
    const { client } = await start(300);
    const error = await client.request('eth_bad', [], 'module', 'm').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidParamsRpcError);
    expect(String((error as Error).message)).toMatch(/bad params here/);
    await expect(client.request('eth_never', [], 'module', 'm')).rejects.toThrow(/took too long/i);
    expect(await client.chainIdServed()).toBe(1n);
  });

  test('error: after close no request is sent', async () => {
    const { server, client } = await start();
    expect(await client.chainIdServed()).toBe(1n);
    client.close();
    await expect(client.chainIdServed()).rejects.toBeInstanceOf(SocketClosedError);
    expect(server.connections()).toBe(1);
  });

  test('error: a node that accepts the connection and never answers the upgrade: the request times out, a reset drops the handshake, an aborted signal is refused at once', async () => {
    // Found in review: the request awaited the opening before its timeout started, and reset() waited
    // for an opening that never came, so the head watch could not recover from such a node.
    const sockets: Socket[] = [];
    const second = deferred();
    const silent = createServer((socket) => {
      if (sockets.push(socket) === 2) second.resolve();
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `ws://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      const timed = new SocketRpc(url, 200);
      await expect(timed.request('eth_blockNumber', [], { maxBytes: 1_000 })).rejects.toBeInstanceOf(TimeoutError);
      timed.close();
      const reset = new SocketRpc(url, 600_000);
      const pending = reset.request('eth_blockNumber', [], { maxBytes: 1_000 });
      await second.promise; // the handshake is under way
      reset.reset();
      await expect(pending).rejects.toBeInstanceOf(SocketClosedError);
      const aborted = AbortSignal.abort(new Error('given up'));
      await expect(reset.request('eth_blockNumber', [], { maxBytes: 1_000, signal: aborted })).rejects.toThrow('given up');
      reset.close();
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});

