/**
 * Endpoints that refuse EIP-1898's `{ blockHash }` (some providers answer invalid-params to the object
 * form): a module's request pinned to a block goes to them by number, remembered per endpoint, and
 * only while that number still names the pinned block. A real anvil behind a proxy that refuses the form.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PinLostError } from '../../src/chain/blockHashFallback.ts';
import { ChainClient } from '../../src/chain/ChainClient.ts';
import { EndpointPool } from '../../src/chain/EndpointPool.ts';
import { ResponseCache } from '../../src/chain/ResponseCache.ts';
import { RpcAccounting } from '../../src/chain/RpcStats.ts';
import { startAnvil, type Anvil } from '../anvil.ts';

const ACCOUNT = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266';

/** An HTTP endpoint in front of `target` answering -32602 to any `{ blockHash }`, counting both forms. */
async function refusingProxy(target: string) {
  const seen = { objectForm: 0, byNumber: 0 };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request = JSON.parse(Buffer.concat(chunks).toString()) as { id: unknown; method: string; params: unknown[] };
    const objectForm = request.params.some((p) => typeof p === 'object' && p !== null && 'blockHash' in p);
    res.setHeader('content-type', 'application/json');
    if (objectForm) {
      seen.objectForm++;
      return res.end(JSON.stringify({ jsonrpc: '2.0', id: request.id, error: { code: -32602, message: 'invalid argument 1: hex string without 0x prefix' } }));
    }
    if (request.method !== 'eth_chainId' && request.method !== 'eth_blockNumber') seen.byNumber++;
    const upstream = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
    res.end(await upstream.text());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

let anvil: Anvil;
let proxy: Awaited<ReturnType<typeof refusingProxy>>;
/** Block number → hash as anvil has them: the branch "the bus follows" in these tests. */
const canonical = new Map<bigint, string>();

beforeAll(async () => {
  anvil = await startAnvil();
  proxy = await refusingProxy(anvil.url);
  for (const balance of ['0x1', '0x2']) {
    await anvil.rpc('anvil_setBalance', [ACCOUNT, balance]);
    await anvil.rpc('evm_mine');
  }
  const head = BigInt(await anvil.rpc<string>('eth_blockNumber'));
  for (let n = 0n; n <= head; n++) canonical.set(n, (await anvil.rpc<{ hash: string }>('eth_getBlockByNumber', [`0x${n.toString(16)}`, false])).hash);
});
afterAll(async () => {
  await proxy?.close();
  await anvil?.stop();
});

function pool(hashAt: (n: bigint) => string | undefined) {
  const accounting = new RpcAccounting();
  return new EndpointPool({
    clients: [new ChainClient({ chainId: 31337n, rpcUrl: proxy.url, accounting })],
    accounting, cache: new ResponseCache(1_000_000), hashAt,
    healthIntervalMs: 60_000, maxHeadLagBlocks: 2, ejectAfterErrors: 3, ejectMs: 1000, logger: pino({ level: 'silent' }),
  });
}

describe('EIP-1898 fallback', () => {
  it('behavior: a request pinned to a block hash that the endpoint refuses is answered by number, the same as the node at that hash; the refusal is remembered', async () => {
    const p = pool((n) => canonical.get(n));
    const before = { ...proxy.seen };
    try {
      for (const n of [1n, 2n]) {
        const pinned = await p.requestJson('eth_getBalance', [ACCOUNT, { blockHash: canonical.get(n) }], 'module', 'm', { cacheable: true, minBlock: n });
        expect(pinned).toBe(JSON.stringify(await anvil.rpc('eth_getBalance', [ACCOUNT, { blockHash: canonical.get(n) }])));
      }
      expect(p.endpoints[0]!.refusesBlockHash).toBe(true);
      // One refusal, then every pinned request went by number without asking the object form again.
      expect({ objectForm: proxy.seen.objectForm - before.objectForm, byNumber: proxy.seen.byNumber - before.byNumber }).toEqual({ objectForm: 1, byNumber: 2 });
    } finally {
      p.close();
    }
  });

  it('behavior: eth_getLogs by blockHash is asked by that block\'s number', async () => {
    const p = pool((n) => canonical.get(n));
    try {
      const json = await p.requestJson('eth_getLogs', [{ blockHash: canonical.get(2n) }], 'module', 'm', { cacheable: true, minBlock: 2n });
      expect(JSON.parse(json)).toEqual(await anvil.rpc('eth_getLogs', [{ blockHash: canonical.get(2n) }]));
    } finally {
      p.close();
    }
  });

  it('error: when the number no longer names the pinned block (a reorg), no answer from another block: PinLostError', async () => {
    const reorged = '0x' + 'ee'.repeat(32);
    const p = pool((n) => (n === 2n ? reorged : canonical.get(n)));
    const byNumber = proxy.seen.byNumber;
    try {
      const error = await p.requestJson('eth_getBalance', [ACCOUNT, { blockHash: canonical.get(2n) }], 'module', 'm', { cacheable: true, minBlock: 2n }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PinLostError);
      expect((error as PinLostError).details).toMatchObject({ blockHash: canonical.get(2n), block: '2', method: 'eth_getBalance' });
      expect(proxy.seen.byNumber).toBe(byNumber);
    } finally {
      p.close();
    }
  });

  it('error: a module\'s own { blockHash } outside a chain step (no height known) gets the refusal as the node\'s answer', async () => {
    const p = pool((n) => canonical.get(n));
    try {
      const error = await p.requestJson('eth_getBalance', [ACCOUNT, { blockHash: canonical.get(1n) }], 'module', 'm', { cacheable: true }).catch((e: unknown) => e);
      expect((error as { code?: number }).code).toBe(-32602);
    } finally {
      p.close();
    }
  });
});
