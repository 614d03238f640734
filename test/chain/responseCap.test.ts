import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChainClient } from '../../src/chain/ChainClient.ts';
import type { RpcAccounting } from '../../src/chain/RpcStats.ts';

/**
 * A module's `rpcResponseBytes` against a node (a local HTTP server) whose answers declare a small
 * content-length: plain bodies are bounded by it, gzip bodies are not (the length is the compressed
 * size), so those are counted as they are read.
 */
const RESULT = `0x${'0'.repeat(2_000_000)}`; // 2 MB of JSON, gzipped to a few KB
let url = '';
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk));
  req.on('end', () => {
    const { id } = JSON.parse(body) as { id: number };
    const json = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id, result: RESULT }));
    const gzip = req.url === '/gzip';
    const payload = gzip ? gzipSync(json) : json;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(payload.length), ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
    res.end(payload);
  });
});
beforeAll(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => server.close());

const counted: unknown[] = [];
const accounting: RpcAccounting = { count: (...args: unknown[]) => void counted.push(args) } as unknown as RpcAccounting;
const client = (path: string) => new ChainClient({ chainId: 1n, rpcUrl: `${url}${path}`, accounting });

describe('the RPC response cap', () => {
  it('error: a gzip answer whose declared (compressed) length is within the cap, but whose body is not, is refused', async () => {
    await expect(client('/gzip').requestJson('eth_call', [], 'module', 'm', { maxBytes: 1_000_000 })).rejects.toThrow(/too large|exceed|ResponseBodyTooLarge/i);
  });

  it('default: the same answer within the cap is read, gzip or plain', async () => {
    for (const path of ['/gzip', '/plain']) expect((await client(path).requestJson('eth_call', [], 'module', 'm', { maxBytes: 4_000_000 })).length).toBe(RESULT.length + 2);
  });

  it('error: a plain answer that declares a length over the cap is refused before its body is read', async () => {
    await expect(client('/plain').requestJson('eth_call', [], 'module', 'm', { maxBytes: 1_000_000 })).rejects.toThrow(/too large|exceed|ResponseBodyTooLarge/i);
  });
});
