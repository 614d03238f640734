import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Engine } from '../../src/engine/Engine.ts';
import { EngineMetrics } from '../../src/metrics/EngineMetrics.ts';
import type { ChainConfig, ModuleManifest } from '../../src/index.ts';
import { deployEmitter } from '../emitter.ts';
import { captureLogger, fixture } from '../helpers.ts';
import { chainEngine, chainTestbed, expectedRecords, recorded, stateOf } from './chainHarness.ts';
import { closedPortUrl, startLaggingProxy } from './laggingProxy.ts';
import { startWsProxy } from './wsProxy.ts';

const testbed = chainTestbed();
const { runtime } = testbed;
const removed = (records: Record<string, unknown>[]) => records.filter((r) => r.msg === 'removed').map((r) => r.fields);

/**
 * A pool of four endpoints: one down, one answering -32603, one answering HTTP 500, one held 5 blocks
 * behind; and the healthy one, slower than all of them, so selection by latency alone would prefer
 * the bad ones.
 */
async function badPool(target: string) {
  const healthy = await startLaggingProxy(target, 'healthy', 15);
  const proxies = [await startLaggingProxy(target, 'erroring'), await startLaggingProxy(target, 'http500'), await startLaggingProxy(target, { lag: 5 }), healthy];
  const config: ChainConfig = {
    rpcUrls: [await closedPortUrl(), ...proxies.map((p) => p.url)],
    pollIntervalMs: 20,
    pool: { healthIntervalMs: 50, ejectMs: 200 },
  };
  return { config, healthy, lagging: proxies[2]!, close: () => Promise.all(proxies.map((p) => p.close())) };
}

/** An HTTP endpoint passing everything on to `target` while `up`; while down it cuts every connection (a transport error). */
async function switchableProxy(target: string) {
  const state = { up: true };
  const server = createServer(async (req, res) => {
    if (!state.up) return req.socket.destroy();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const upstream = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.concat(chunks) }).catch(() => undefined);
    if (!upstream) return req.socket.destroy();
    res.setHeader('content-type', 'application/json');
    res.end(await upstream.text());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, state, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('RPC endpoint pool', () => {
  it('behavior: one endpoint down, one erroring (-32603 and HTTP 500), one lagging 5 blocks: the deliveries equal a run against the single healthy endpoint, across a reorg too', async () => {
    const emitter = await deployEmitter(testbed.anvil);
    const start = Number(emitter.deployedAt) + 1;
    const manifests: Partial<ModuleManifest>[] = [
      { name: 'logs', startBlock: start, triggers: [{ kind: 'log', chain: 31337, address: emitter.address }] },
      { name: 'blocks', startBlock: start, triggers: [{ kind: 'block', chain: 31337, every: 2 }] },
    ];
    const pool = await badPool(testbed.anvil.url);
    const pooled = await chainEngine(runtime, pool.config, manifests);
    const single = await chainEngine(runtime, { rpcUrl: testbed.anvil.url, pollIntervalMs: 20 }, manifests);
    let last = 0n;
    for (let i = 0; i < 20; i++) last = await emitter.emit(i % 3, 1 + (i % 3));
    await Promise.all(['logs', 'blocks'].flatMap((m) => [pooled.engine.reached(m, 31337, last), single.engine.reached(m, 31337, last)]));
    // The lagging endpoint did serve (below its head) and was asked about blocks: it was not just left out.
    expect(Object.keys(pool.lagging.counts).length).toBeGreaterThan(1);

    const depth = 4;
    await testbed.anvil.rpc('anvil_reorg', [depth, [[emitter.call(7, 2), 0], [emitter.call(8, 1), depth - 1]]]);
    const head = await emitter.client.getBlock();
    await Promise.all(['logs', 'blocks'].flatMap((m) => [pooled.engine.reached(m, 31337, last, head.hash), single.engine.reached(m, 31337, last, head.hash)]));

    const from = BigInt(start);
    expect(await recorded(pooled.engine, 'logs')).toEqual(await expectedRecords(emitter.client, from, last, { address: emitter.address }));
    for (const m of ['logs', 'blocks']) {
      expect(await recorded(pooled.engine, m)).toEqual(await recorded(single.engine, m));
      expect(await stateOf(pooled.engine, m)).toEqual(await stateOf(single.engine, m));
    }
    expect(removed(pooled.records)).toEqual(removed(single.records));
    expect(removed(pooled.records).length).toBeGreaterThan(0);
    const endpoints = pooled.engine.endpointStats()['31337']!;
    expect(endpoints.map((e) => e.endpoint)).toEqual(pool.config.rpcUrls!.map((u) => u.replace(/\/$/, '')));
    expect(endpoints[0]).toMatchObject({ up: false, head: undefined }); // down: never answered eth_chainId, never used
    expect(endpoints[0]!.failures).toBe(endpoints[0]!.requests);
    expect(endpoints[1]!.ejections + endpoints[2]!.ejections).toBeGreaterThan(0);
    await Promise.all([pooled.engine.stop(), single.engine.stop()]);
    await pool.close();
  });

  it('behavior: a ws:// and an http:// endpoint, the ws one (carrying the heads) dies mid-run: the deliveries equal a run against the single http endpoint', async () => {
    const emitter = await deployEmitter(testbed.anvil);
    const start = Number(emitter.deployedAt) + 1;
    const manifests: Partial<ModuleManifest>[] = [
      { name: 'logs', startBlock: start, triggers: [{ kind: 'log', chain: 31337, address: emitter.address }] },
      { name: 'blocks', startBlock: start, triggers: [{ kind: 'block', chain: 31337, every: 2 }] },
    ];
    const socket = await startWsProxy(testbed.anvil.wsUrl);
    const pooled = await chainEngine(runtime, { rpcUrls: [socket.url, testbed.anvil.url], pollIntervalMs: 20, pool: { healthIntervalMs: 50, ejectMs: 200 } }, manifests);
    const single = await chainEngine(runtime, { rpcUrl: testbed.anvil.url, pollIntervalMs: 20 }, manifests);
    let last = 0n;
    for (let i = 0; i < 6; i++) last = await emitter.emit(i % 3, 1 + (i % 3));
    await Promise.all(['logs', 'blocks'].flatMap((m) => [pooled.engine.reached(m, 31337, last), single.engine.reached(m, 31337, last)]));
    // The socket did carry the heads before it died.
    expect(socket.counts.eth_subscribe).toBeGreaterThan(0);
    // A single endpoint serving its chain is up too (it is checked at start, not probed).
    expect(single.engine.endpointStats()['31337']!.map((e) => [e.up, e.healthy])).toEqual([[true, true]]);
    await socket.close();
    for (let i = 6; i < 12; i++) last = await emitter.emit(i % 3, 1 + (i % 3));
    await Promise.all(['logs', 'blocks'].flatMap((m) => [pooled.engine.reached(m, 31337, last), single.engine.reached(m, 31337, last)]));
    expect(await recorded(pooled.engine, 'logs')).toEqual(await expectedRecords(emitter.client, BigInt(start), last, { address: emitter.address }));
    for (const m of ['logs', 'blocks']) {
      expect(await recorded(pooled.engine, m)).toEqual(await recorded(single.engine, m));
      expect(await stateOf(pooled.engine, m)).toEqual(await stateOf(single.engine, m));
    }
    await Promise.all([pooled.engine.stop(), single.engine.stop()]);
  });

  it('behavior: each endpoint has its own series, two keys of one provider (same host, other paths) too', async () => {
    const proxy = await switchableProxy(testbed.anvil.url);
    const { engine } = await chainEngine(runtime, { rpcUrls: [`${proxy.url}/v3/key-a`, `${proxy.url}/v3/key-b`, proxy.url], pollIntervalMs: 20, pool: { healthIntervalMs: 20 } }, []);
    const metrics = new EngineMetrics(engine);
    try {
      await expect.poll(() => metrics.readiness()).toEqual({ ready: true, notReady: [] });
      const up = (await metrics.text()).split('\n').filter((l) => l.startsWith('corral_rpc_endpoint_up{'));
      expect(up).toEqual([`#0 ${proxy.url}/…`, `#1 ${proxy.url}/…`, `#2 ${proxy.url}`].map((endpoint) => `corral_rpc_endpoint_up{chain="31337",endpoint="${endpoint}"} 1`));
      expect(up.join()).not.toContain('key-');
    } finally {
      metrics.close();
      await engine.stop();
      await proxy.close();
    }
  });

  it('behavior: a pool with no healthy endpoint is chain-stalled in /readyz and corral_chain_endpoints_healthy, and ready again once one answers', async () => {
    const proxies = [await switchableProxy(testbed.anvil.url), await switchableProxy(testbed.anvil.url)];
    const { engine } = await chainEngine(runtime, { rpcUrls: proxies.map((p) => p.url), pollIntervalMs: 20, pool: { healthIntervalMs: 20, ejectMs: 100 } }, []);
    const metrics = new EngineMetrics(engine);
    const series = async (name: string) => (await metrics.text()).split('\n').find((l) => l.startsWith(`${name}{chain="31337"`));
    try {
      await expect.poll(() => metrics.readiness()).toEqual({ ready: true, notReady: [] });
      expect(await series('corral_chain_endpoints_healthy')).toBe('corral_chain_endpoints_healthy{chain="31337"} 2');
      for (const p of proxies) p.state.up = false;
      await expect.poll(() => metrics.readiness().notReady).toEqual([expect.objectContaining({ chain: '31337', reason: 'chain-stalled', endpointsHealthy: 0, endpoints: 2 })]);
      expect(await series('corral_chain_endpoints_healthy')).toBe('corral_chain_endpoints_healthy{chain="31337"} 0');
      expect(await series('corral_chain_not_ready')).toBe('corral_chain_not_ready{chain="31337",reason="chain-stalled"} 1');
      proxies[1]!.state.up = true;
      await expect.poll(() => metrics.readiness()).toEqual({ ready: true, notReady: [] });
    } finally {
      metrics.close();
      await engine.stop();
      await Promise.all(proxies.map((p) => p.close()));
    }
  });

  it('behavior: two modules making the same eth_call at a block hash: one upstream call, the other answered by the cache and counted as cached', async () => {
    const healthy = await startLaggingProxy(testbed.anvil.url, 'healthy');
    const { logger } = captureLogger();
    const grants: ModuleManifest['grants'] = { store: true, logging: true, chain: { chains: [31337] }, http: { hosts: [] }, cowApi: { chains: [] } };
    const engine = await Engine.start({
      runtime,
      stateDir: mkdtempSync(join(tmpdir(), 'corral-pool-')),
      logger: logger as Logger,
      chains: { 31337: { rpcUrls: [healthy.url, await closedPortUrl()], pollIntervalMs: 20 } },
      modules: ['a', 'b'].map((name) => ({ name, component: fixture('explorer'), grants, limits: { fuel: 1e12, timeoutMs: 5_000 } })),
    });
    const block = await testbed.anvil.rpc<{ hash: string }>('eth_getBlockByNumber', ['latest', false]);
    const call = { op: 'chain', chainId: 31337, method: 'eth_getBalance', params: ['0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266', { blockHash: block.hash }] };
    const result = async (m: string) => JSON.parse(new TextDecoder().decode(await engine.read(m, new TextEncoder().encode('result'))));
    for (const [i, m] of ['a', 'b'].entries()) await engine.deliver(m, { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify(call) } }, { seq: i + 1 });
    expect(await result('a')).toEqual(await result('b'));
    expect((await result('a')).ok).toMatch(/^"0x[0-9a-f]+"$/);
    expect(healthy.counts.eth_getBalance).toBe(1);
    const stats = engine.rpcStats();
    expect(stats.chains['31337']!.module!.eth_getBalance).toMatchObject({ calls: 1, cached: 1 });
    expect(stats.modules.a!.eth_getBalance!.calls + stats.modules.b!.eth_getBalance!.calls).toBe(1);
    expect(stats.modules.a!.eth_getBalance!.cached + stats.modules.b!.eth_getBalance!.cached).toBe(1);
    await engine.stop();
    await healthy.close();
  });
});
