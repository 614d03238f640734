import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/index.ts';
import { expectCapTripped, explorerEngine } from '../engine/explorerEngine.ts';
import { newRuntime } from '../helpers.ts';

/**
 * A module's RPC answers against `rpcResponseBytes`, from a local node that answers `eth_getLogs`
 * with 64 MB (the size of the probe) and everything else as a one-block chain would.
 */
const CHAIN_ID = 31_337;
const BIG = 64 * 1024 * 1024;
const CAP = 100_000;
const HASH = `0x${'11'.repeat(32)}`;
const BLOCK = { number: '0x1', hash: HASH, parentHash: `0x${'00'.repeat(32)}`, timestamp: '0x1', logsBloom: `0x${'00'.repeat(256)}`, transactionsRoot: HASH };

/** The answer to one JSON-RPC request, other than the big one. */
function answer(method: string): unknown {
  if (method === 'eth_chainId') return `0x${CHAIN_ID.toString(16)}`;
  if (method === 'eth_blockNumber') return '0x1';
  if (method === 'eth_subscribe') return '0x1';
  return BLOCK;
}

/** Resolves when `res` can take more, or is gone (one listener each, removed again). */
function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** What the node wrote of its big answers before the client went away. */
const bigAnswers: { written: number; complete: boolean; closed: Promise<unknown> }[] = [];

let server: Server;
let httpUrl = '';
let wsServer: Server;
let wsUrl = '';
beforeAll(async () => {
  server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const { id, method } = JSON.parse(body) as { id: number; method: string };
    if (method !== 'eth_getLogs') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id, result: answer(method) }));
    // Chunked (no content-length): the client learns the size only as bytes arrive.
    res.writeHead(200, { 'content-type': 'application/json' });
    const record = { written: 0, complete: false, closed: once(res, 'close') };
    bigAnswers.push(record);
    const chunk = Buffer.from(`"${'a'.repeat(64 * 1024 - 3)}",`);
    res.write(`{"jsonrpc":"2.0","id":${id},"result":[`);
    let closed = false;
    void record.closed.then(() => (closed = true));
    while (!closed && record.written < BIG) {
      record.written += chunk.byteLength;
      if (!res.write(chunk)) await drainedOrClosed(res);
    }
    if (closed) return;
    record.complete = true;
    res.end('"z"]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  httpUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // The same node over a WebSocket (`ws` is what viem's socket uses on Node 20; it has no types here).
  const { WebSocketServer } = (await import('ws' as string)) as { WebSocketServer: new (options: { server: Server }) => WsServer };
  wsServer = createServer();
  wss = new WebSocketServer({ server: wsServer });
  wss.on('connection', (socket) => {
    socket.on('message', (data) => {
      const { id, method } = JSON.parse(String(data)) as { id: number; method: string };
      const result = method === 'eth_getLogs' ? Array.from({ length: 256 }, () => 'a'.repeat(WS_BIG / 256)) : answer(method);
      socket.send(JSON.stringify({ jsonrpc: '2.0', id, result }));
    });
  });
  await new Promise<void>((resolve) => wsServer.listen(0, '127.0.0.1', resolve));
  wsUrl = `ws://127.0.0.1:${(wsServer.address() as AddressInfo).port}`;
});
interface WsSocket {
  on(event: 'message', listener: (data: Buffer) => void): void;
  send(data: string): void;
  terminate(): void;
}
interface WsServer {
  on(event: 'connection', listener: (socket: WsSocket) => void): void;
  clients: Set<WsSocket>;
}
let wss: WsServer;
/** Over a WebSocket the answer arrives whole before it is measured: kept small enough to pass within the deadline. */
const WS_BIG = 2 * 1024 * 1024;

const runtime: Runtime = newRuntime();
afterAll(async () => {
  await runtime.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  for (const client of wss.clients) client.terminate();
  await new Promise((resolve) => wsServer.close(resolve));
});

const grants = { store: true, logging: true, chain: { chains: [CHAIN_ID] }, http: { hosts: [] }, cowApi: { chains: [] } };
const getLogs = { op: 'chain', chainId: CHAIN_ID, method: 'eth_getLogs', params: [{ fromBlock: '0x0', toBlock: 'latest' }] };

describe('rpcResponseBytes: a big RPC answer is cut off as it arrives', () => {
  it('error: over HTTP, a 64 MB eth_getLogs answer is HostLimitExceeded rpcResponseBytes as soon as it passes the cap, the node sees its connection closed, and the engine keeps serving', async () => {
    const { engine, run, pastBackoff } = await explorerEngine(runtime, { chainId: CHAIN_ID, rpcUrl: httpUrl }, grants, { caps: { rpcResponseBytes: CAP } });
    const before = bigAnswers.length;
    const outcome = await run(getLogs);
    expectCapTripped(outcome, 'rpcResponseBytes', CAP, undefined);
    const { observed } = (outcome as { signal: { observed: number } }).signal;
    // Counted as it arrived: stopped within a read or two of the cap, not at viem's 10 MiB nor at the whole answer.
    expect(observed).toBeLessThan(CAP + 1024 * 1024);
    const [record] = bigAnswers.slice(before);
    await record!.closed;
    expect(record!.complete).toBe(false);
    expect(record!.written).toBeLessThan(BIG);
    pastBackoff();
    expect(await run({ op: 'count' })).toMatchObject({ ok: true });
    await engine.stop();
  });

  it('behavior: over a WebSocket, an answer past the cap is HostLimitExceeded rpcResponseBytes (measured once received: see ChainClient) and the engine keeps serving', async () => {
    const { engine, run, pastBackoff } = await explorerEngine(runtime, { chainId: CHAIN_ID, rpcUrl: wsUrl }, grants, { caps: { rpcResponseBytes: CAP } });
    const outcome = await run(getLogs);
    expectCapTripped(outcome, 'rpcResponseBytes', CAP, undefined);
    pastBackoff();
    expect(await run({ op: 'count' })).toMatchObject({ ok: true });
    await engine.stop();
  });
});
