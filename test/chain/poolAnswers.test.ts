/**
 * What the endpoint pool keeps in the shared cache and when it asks another endpoint, for answers a
 * local anvil does not give: a provider's rate-limit refusal (sent with HTTP 200), a node that has not
 * got a block yet, an invocation's own abort or response cap. The endpoints are stand-ins (plain
 * objects with ChainClient's methods) for that reason; test/integration/rpcPool.test.ts runs the pool
 * against real anvil behind proxies. Found in review: each of these was served to other modules.
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { BaseError, LimitExceededRpcError, ResponseBodyTooLargeError, RpcRequestError } from 'viem';
import { EndpointPool } from '../../src/chain/EndpointPool.ts';
import { ResponseCache } from '../../src/chain/ResponseCache.ts';
import type { ChainClient } from '../../src/chain/ChainClient.ts';

function pool(requestJson: (opts: { signal?: AbortSignal; maxBytes?: number }) => Promise<string>) {
  const client = { chainId: 1n, endpoint: 'http://fake', transport: 'http', requestJson: (_m: string, _p: unknown[], _pu: string, _mod: string, o: { signal?: AbortSignal; maxBytes?: number }) => requestJson(o), close() {}, denied() {} } as unknown as ChainClient;
  return new EndpointPool({ clients: [client], accounting: { count() {} } as never, cache: new ResponseCache(1_000_000), healthIntervalMs: 1000, maxHeadLagBlocks: 2, ejectAfterErrors: 3, ejectMs: 1000, logger: pino({ level: 'silent' }) });
}
const params = [{ to: '0x0000000000000000000000000000000000000001', data: '0x' }, { blockHash: '0x' + 'ab'.repeat(32) }];

describe('endpoint pool: failures are not cached as answers', () => {
  it('error: an aborted request (the asking invocation timed out) is not served to the next module', async () => {
    let calls = 0;
    const p = pool(async ({ signal }) => {
      calls++;
      if (signal?.aborted) { const e = new Error('This operation was aborted'); e.name = 'AbortError'; throw e; }
      return '"0x01"';
    });
    const ac = new AbortController();
    ac.abort();
    await expect(p.requestJson('eth_call', params, 'module', 'a', { cacheable: true, signal: ac.signal })).rejects.toThrow();
    // module b asks the same thing later, not aborted: it must get the node's answer
    await expect(p.requestJson('eth_call', params, 'module', 'b', { cacheable: true })).resolves.toBe('"0x01"');
    expect(calls).toBe(2);
  });

  it('error: a response over one module\'s small cap is not served as an error to a module with a larger cap', async () => {
    const big = '"0x' + 'ff'.repeat(5000) + '"';
    const p = pool(async ({ maxBytes }) => {
      if (maxBytes !== undefined && big.length > maxBytes) throw new BaseError('too large', { cause: new ResponseBodyTooLargeError({ size: big.length, maxBytes } as never) });
      return big;
    });
    await expect(p.requestJson('eth_call', params, 'module', 'small', { cacheable: true, maxBytes: 100 })).rejects.toThrow();
    await expect(p.requestJson('eth_call', params, 'module', 'large', { cacheable: true, maxBytes: 1_000_000 })).resolves.toBe(big);
  });
});

describe('endpoint pool: a "not there yet" answer is not cached', () => {
  it('behavior: eth_getBlockByHash answered null by an endpoint that has not got the block is not served from the cache once it has', async () => {
    let calls = 0;
    const block = '{"number":"0x67","hash":"0x' + 'cd'.repeat(32) + '"}';
    const p = pool(async () => (++calls === 1 ? 'null' : block));
    const hash = '0x' + 'cd'.repeat(32);
    const first = await p.requestJson('eth_getBlockByHash', [hash, false], 'module', 'a', { cacheable: true });
    expect(first).toBe('null'); // the endpoint had not got it yet
    const second = await p.requestJson('eth_getBlockByHash', [hash, false], 'module', 'b', { cacheable: true });
    expect(second).toBe(block);
  });
});

function fake(endpoint: string, answer: () => Promise<string>): ChainClient {
  return {
    chainId: 1n, endpoint, transport: 'http',
    chainIdServed: async () => 1n,
    request: async (method: string) => (method === 'eth_blockNumber' ? '0x64' : null),
    requestJson: () => answer(),
    close() {}, denied() {}, resetSocket() {},
  } as unknown as ChainClient;
}
const limited = () => new LimitExceededRpcError(new RpcRequestError({ body: {}, error: { code: -32005, message: 'daily request count exceeded, request rate limited' }, url: 'http://limited' }));

describe('endpoint pool: a rate-limit answer', () => {
  it('behavior: fails over to the other endpoint and is not cached', async () => {
    let limitedCalls = 0;
    let healthyCalls = 0;
    const pool = new EndpointPool({
      clients: [fake('http://limited', async () => { limitedCalls++; throw limited(); }), fake('http://healthy', async () => { healthyCalls++; return '"0x01"'; })],
      accounting: { count() {} } as never, cache: new ResponseCache(1_000_000), healthIntervalMs: 60_000, maxHeadLagBlocks: 2, ejectAfterErrors: 3, ejectMs: 1000, logger: pino({ level: 'silent' }),
    });
    await pool.start();
    try {
      // The limited endpoint answers its probe fastest, so it ranks first.
      pool.endpoints[0]!.ewmaMs = 1; pool.endpoints[1]!.ewmaMs = 50;
      const params = [{ to: '0x0000000000000000000000000000000000000001', data: '0x' }, { blockHash: '0x' + 'ab'.repeat(32) }];
      const first = await pool.requestJson('eth_call', params, 'module', 'a', { cacheable: true, minBlock: 100n }).catch((e: unknown) => `error: ${(e as Error).message.split('\n')[0]}`);
      expect(first).toBe('"0x01"');
      expect({ limitedCalls, healthyCalls }).toEqual({ limitedCalls: 1, healthyCalls: 1 });
      // Asked again: the limited endpoint's refusal was not kept; the healthy answer is.
      expect(await pool.requestJson('eth_call', params, 'module', 'b', { cacheable: true, minBlock: 100n })).toBe('"0x01"');
      expect(healthyCalls).toBe(1);
    } finally {
      pool.close();
    }
  });
});

function answeringHeaderNotFound(endpoint: string): ChainClient {
  return {
    chainId: 1n, endpoint, transport: 'http',
    chainIdServed: async () => 1n,
    request: async () => '0x64',
    requestJson: async () => { throw new RpcRequestError({ body: {}, error: { code: -32000, message: 'header not found' }, url: endpoint }); },
    close() {}, denied() {}, resetSocket() {},
  } as unknown as ChainClient;
}

describe('endpoint pool: a module and the endpoints\' health', () => {
  it('behavior: a module\'s requests at made-up block hashes (lag answers from every node) eject no endpoint (found in review)', async () => {
    const pool = new EndpointPool({ clients: [answeringHeaderNotFound('http://a'), answeringHeaderNotFound('http://b')], accounting: { count() {} } as never, healthIntervalMs: 60_000, maxHeadLagBlocks: 2, ejectAfterErrors: 3, ejectMs: 30_000, logger: pino({ level: 'silent' }) });
    await pool.start();
    try {
      for (let i = 0; i < 3; i++) {
        const hash = '0x' + String(i).padStart(64, '0');
        await pool.requestJson('eth_getBalance', ['0x0000000000000000000000000000000000000001', { blockHash: hash }], 'module', 'evil', { cacheable: true }).catch(() => {});
      }
      const stats = pool.stats();
      expect(stats.map((s) => [s.up, s.ejections])).toEqual([[true, 0], [true, 0]]);
    } finally {
      pool.close();
    }
  });
});
