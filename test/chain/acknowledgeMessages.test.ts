import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { ChainClient } from '../../src/chain/ChainClient.ts';
import { RpcAccounting } from '../../src/chain/RpcStats.ts';

/** `ws` (viem's WebSocket on Node 20) as the node's side: a real server that counts the Pongs it receives. */
interface Peer {
  on(event: 'message', listener: (data: Buffer) => void): void;
  on(event: 'pong', listener: () => void): void;
  send(data: string): void;
}
interface Server {
  on(event: 'connection', listener: (peer: Peer) => void): void;
  on(event: 'listening', listener: () => void): void;
  address(): AddressInfo;
  close(): void;
}
const { WebSocketServer } = createRequire(import.meta.url)('ws') as { WebSocketServer: new (options: { host: string; port: number }) => Server };

/** A JSON-RPC node answering eth_chainId, that can push a notification; `pongs()` resolves at the n-th Pong. */
async function node() {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.on('listening', resolve));
  let pongs = 0;
  const waiting: { n: number; resolve: () => void }[] = [];
  let peer: Peer | undefined;
  server.on('connection', (p) => {
    peer = p;
    p.on('pong', () => {
      pongs++;
      for (const w of waiting.filter((w) => w.n <= pongs)) w.resolve();
    });
    p.on('message', (data) => {
      const { id } = JSON.parse(String(data)) as { id: number };
      p.send(JSON.stringify({ jsonrpc: '2.0', id, result: '0x1' }));
    });
  });
  return {
    url: `ws://127.0.0.1:${server.address().port}`,
    pongs: (n: number) => new Promise<number>((resolve) => (pongs >= n ? resolve(pongs) : waiting.push({ n, resolve: () => resolve(pongs) }))),
    notify: () => peer!.send(JSON.stringify({ jsonrpc: '2.0', method: 'eth_subscription', params: { subscription: '0x1', result: {} } })),
    close: () => server.close(),
  };
}

describe('acknowledgeMessages', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => cleanup.splice(0).forEach((f) => f()));

  test('behavior: every message the node sends on the chain socket is answered by a Pong (the ACK goes out at once)', async () => {
    const server = await node();
    const client = new ChainClient({ chainId: 1n, rpcUrl: server.url, accounting: new RpcAccounting() });
    cleanup.push(() => client.close(), server.close);
    expect(await client.chainIdServed()).toBe(1n);
    expect(await server.pongs(1)).toBe(1);
    server.notify(); // a message nobody asked for (a head): acknowledged too
    expect(await server.pongs(2)).toBe(2);
    expect(await client.chainIdServed()).toBe(1n);
    expect(await server.pongs(3)).toBe(3);
  });
});
