import { describe, expect, it } from 'vitest';
import type { ChainStep } from '../../src/index.ts';
import { deployEmitter, PING, tagTopic } from '../emitter.ts';
import { chainEngine, chainTestbed, expectedRecords, recorded, watcherManifest } from './chainHarness.ts';
import { startRpcProxy } from './rpcProxy.ts';

const testbed = chainTestbed();
const { runtime } = testbed;

describe('chain bus: delivery', () => {
  it('default: 1,000 events over 200 blocks; each module receives exactly its events, in order', async () => {
    const emitter = await deployEmitter(testbed.anvil);
    const start = Number(emitter.deployedAt) + 1;
    const { engine } = await chainEngine(runtime, { rpcUrl: testbed.anvil.url, pollIntervalMs: 20 }, [
      { name: 'all', startBlock: start, triggers: [{ kind: 'log', chain: 31337, address: emitter.address }] },
      { name: 'tag1', startBlock: start, triggers: [{ kind: 'log', chain: 31337, topics: [PING, tagTopic(1)] }] },
      { name: 'blocks', startBlock: start, triggers: [{ kind: 'block', chain: 31337, every: 10 }] },
      { name: 'both', startBlock: start, triggers: [{ kind: 'block', chain: 31337, every: 25 }, { kind: 'log', chain: 31337, address: emitter.address, topics: [PING, tagTopic(2)] }] },
    ]);
    let last = 0n;
    for (let i = 0; i < 200; i++) last = await emitter.emit(1 + (i % 2), 5);
    for (const name of ['all', 'tag1', 'blocks', 'both']) await engine.reached(name, 31337, last);
    const from = BigInt(start);
    expect(await recorded(engine, 'all')).toEqual(await expectedRecords(emitter.client, from, last, { address: emitter.address }));
    const tag1 = await recorded(engine, 'tag1');
    expect(tag1).toHaveLength(500);
    expect(tag1).toEqual(await expectedRecords(emitter.client, from, last, { topics: [PING, tagTopic(1)] }));
    expect(await recorded(engine, 'blocks')).toEqual(await expectedRecords(emitter.client, from, last, null, 10));
    expect(await recorded(engine, 'both')).toEqual(await expectedRecords(emitter.client, from, last, { address: emitter.address, topics: [PING, tagTopic(2)] }, 25));
    expect(await engine.cursor('all', 'chain:31337')).toMatchObject({ number: String(last) });
    await engine.stop();
  });
});

describe('chain bus: sources', () => {
  it('behavior: WebSocket (eth_subscribe) and HTTP polling produce the same deliveries for the same history', async () => {
    const emitter = await deployEmitter(testbed.anvil);
    const start = Number(emitter.deployedAt) + 1;
    const manifest = { name: 'w', startBlock: start, triggers: [{ kind: 'log' as const, chain: 31337, address: emitter.address }, { kind: 'block' as const, chain: 31337, every: 3 }] };
    const ws = await chainEngine(runtime, { rpcUrl: testbed.anvil.wsUrl }, [manifest]);
    const polling = await chainEngine(runtime, { rpcUrl: testbed.anvil.url, pollIntervalMs: 20 }, [manifest]);
    let last = 0n;
    for (let i = 0; i < 30; i++) last = await emitter.emit(i % 3, 1 + (i % 4));
    await Promise.all([ws.engine.reached('w', 31337, last), polling.engine.reached('w', 31337, last)]);
    const expected = await expectedRecords(emitter.client, BigInt(start), last, { address: emitter.address }, 3);
    expect(await recorded(ws.engine, 'w')).toEqual(expected);
    expect(await recorded(polling.engine, 'w')).toEqual(expected);
    expect(ws.engine.rpcStats().chains['31337']!.head!.eth_getBlockByNumber!.calls).toBeGreaterThan(0);
    await Promise.all([ws.engine.stop(), polling.engine.stop()]);
  });

  // Set on the trigger, or inherited from the chain's `confirmations` by a trigger that sets none.
  it.each(['trigger', 'chain'] as const)('behavior: with confirmations N (set on the %s), a block\'s events are delivered when it has N confirmations, not before', async (where) => {
    const emitter = await deployEmitter(testbed.anvil);
    const { engine } = await chainEngine(runtime, { rpcUrl: testbed.anvil.url, pollIntervalMs: 20, ...(where === 'chain' ? { confirmations: 3 } : {}) }, [
      { name: 'c', startBlock: Number(emitter.deployedAt) + 1, triggers: [{ kind: 'log', chain: 31337, address: emitter.address, ...(where === 'trigger' ? { confirmations: 3 } : {}) }] },
    ]);
    const block = await emitter.emit(7, 2);
    await testbed.anvil.rpc('anvil_mine', ['0x2']); // head = block + 2: two confirmations
    await engine.reached('c', 31337, block - 1n);
    // The feed has nothing more to do at this head: its target is head - 3 = block - 1.
    expect(await engine.cursor('c', 'chain:31337')).toMatchObject({ number: String(block - 1n) });
    expect(await recorded(engine, 'c')).toEqual([]);
    await testbed.anvil.rpc('anvil_mine', ['0x1']); // the third confirmation
    await engine.reached('c', 31337, block);
    expect(await recorded(engine, 'c')).toEqual(await expectedRecords(emitter.client, block, block, { address: emitter.address }));
    await engine.stop();
  });
});

describe('chain bus: observability', () => {
  it('behavior: engine.steps$ tells each committed step (block, hash, events, when the block was seen, when the guest started)', async () => {
    const emitter = await deployEmitter(testbed.anvil);
    const { engine } = await chainEngine(runtime, { rpcUrl: testbed.anvil.wsUrl }, [{ name: 's', startBlock: Number(emitter.deployedAt) + 1, triggers: [{ kind: 'log', chain: 31337, address: emitter.address }] }]);
    const steps: ChainStep[] = [];
    engine.steps$.subscribe((step) => steps.push(step));
    const blocks = [await emitter.emit(1, 3), await emitter.emit(2, 1)];
    await engine.reached('s', 31337, blocks[1]!);
    for (const [i, number] of blocks.entries()) {
      const step = steps.find((s) => s.number === number)!;
      const block = await emitter.client.getBlock({ blockNumber: number });
      // emitMany(tag, n) emits n Pings and a Pong after every second one.
      expect(step).toMatchObject({ module: 's', chainId: '31337', hash: block.hash, events: i === 0 ? 4 : 1 });
      expect(step.seenAt).toBeTypeOf('number');
      expect(step.startedAt).toBeTypeOf('number');
      expect(step.committedAt).toBeGreaterThanOrEqual(step.seenAt!); // both taken on the main thread
    }
    await engine.stop();
  });
});

describe('chain bus: backfill', () => {
  it('error: a node that refuses a log range as too large gets it halved until it answers; nothing is missed', async () => {
    const emitter = await deployEmitter(testbed.anvil);
    const start = Number(emitter.deployedAt) + 1;
    let last = 0n;
    for (let i = 0; i < 60; i++) last = await emitter.emit(1 + (i % 2), 2);
    await testbed.anvil.rpc('anvil_mine', ['0x10']); // every emitting block below head − reorg window: caught up by range
    const answered: number[] = [];
    // A proxy that refuses ranges wider than 16 blocks the way many providers do (anvil has no limit).
    const proxy = await startRpcProxy(testbed.anvil.url, (request, response) => {
      if (request.method !== 'eth_getLogs') return response;
      const [filter] = (request as unknown as { params: [{ fromBlock?: string; toBlock?: string }] }).params;
      if (filter.fromBlock === undefined || filter.toBlock === undefined) return response;
      const span = Number(BigInt(filter.toBlock) - BigInt(filter.fromBlock)) + 1;
      if (span > 16) return { jsonrpc: '2.0', id: (request as unknown as { id: number }).id, error: { code: -32005, message: `query exceeds max block range 16 (asked ${span})` } };
      answered.push(span);
      return response;
    });
    const { engine } = await chainEngine(runtime, { rpcUrl: proxy.url, pollIntervalMs: 20, reorgWindow: 4 }, [
      { name: 'b', startBlock: start, triggers: [{ kind: 'log', chain: 31337, address: emitter.address }] },
    ]);
    await engine.reached('b', 31337, last);
    expect(await recorded(engine, 'b')).toEqual(await expectedRecords(emitter.client, BigInt(start), last, { address: emitter.address }));
    const backfill = engine.rpcStats().chains['31337']!.backfill!.eth_getLogs!;
    expect(backfill.failed).toBeGreaterThan(0);
    expect(answered.length).toBeGreaterThan(0);
    expect(Math.max(...answered)).toBeLessThanOrEqual(16);
    await engine.stop();
    await proxy.close();
  });
});

describe('chain bus: bad input', () => {
  it('error: a malformed log from the RPC is rejected naming the field and chain; no guest sees it; delivery resumes', async () => {
    const emitter = await deployEmitter(testbed.anvil);
    const block = await emitter.emit(3, 2);
    let corrupt = 1; // the first eth_getLogs answer that carries logs loses a field
    // A proxy: anvil cannot be made to answer malformed data itself.
    const proxy = await startRpcProxy(testbed.anvil.url, (request, response) => {
      const logs = response.result as Record<string, unknown>[] | undefined;
      if (request.method === 'eth_getLogs' && Array.isArray(logs) && logs.length > 0 && corrupt-- > 0) {
        return { ...response, result: logs.map((log, i) => (i === 1 ? { ...log, logIndex: 'zz' } : log)) };
      }
      return response;
    });
    const { engine, records } = await chainEngine(runtime, { rpcUrl: proxy.url, pollIntervalMs: 20 }, [
      { name: 'm', startBlock: Number(block), triggers: [{ kind: 'log', chain: 31337, address: emitter.address }] },
      { name: 'other', topics: ['ping'] },
    ]);
    await engine.reached('m', 31337, block);
    const problem = records.find((r) => (r.err as { name?: string } | undefined)?.name === 'RpcDataError');
    expect(problem?.err).toMatchObject({ code: 'malformed', details: { chainId: '31337', method: 'eth_getLogs', field: 'logs[1].logIndex', value: '"zz"' } });
    // The retry fetched the block again: the module saw exactly the real logs, once.
    expect(await recorded(engine, 'm')).toEqual(await expectedRecords(emitter.client, block, block, { address: emitter.address }));
    // The engine kept serving everything else meanwhile.
    expect(await engine.deliver('other', { tag: 'custom', val: { topic: 'ping', payload: '' } }, { seq: 1 })).toMatchObject({ ok: true });
    // Near the head, logs are fetched per block ('live'); the malformed answer counts as a failure there.
    expect(engine.rpcStats().chains['31337']!.live!['eth_getLogs:malformed']).toMatchObject({ failed: 1 });
    await engine.stop();
    await proxy.close();
  });
});

describe('chain bus: modules at run time', () => {
  it('behavior: engine.load and engine.unload while the engine runs leave the other modules\' deliveries untouched; a reloaded module continues from its cursor', async () => {
    const emitter = await deployEmitter(testbed.anvil);
    const start = Number(emitter.deployedAt) + 1;
    const { engine } = await chainEngine(runtime, { rpcUrl: testbed.anvil.url, pollIntervalMs: 20 }, [{ name: 'steady', startBlock: start, triggers: [{ kind: 'log', chain: 31337, address: emitter.address }] }]);
    const restartsOf = () => engine.actors().find((a) => a.name === 'steady')!.restarts;
    let last = 0n;
    for (let i = 0; i < 5; i++) last = await emitter.emit(1, 1);
    const late = watcherManifest({ name: 'late', startBlock: start, triggers: [{ kind: 'log', chain: 31337, address: emitter.address, topics: [PING, tagTopic(2)] }] });
    await engine.load(late); // catches up from its start block while `steady` goes on
    for (let i = 0; i < 5; i++) last = await emitter.emit(2, 1);
    await Promise.all([engine.reached('steady', 31337, last), engine.reached('late', 31337, last)]);
    await engine.unload('late');
    expect(() => engine.reached('late', 31337, last)).toThrow(expect.objectContaining({ code: 'unknown-module' }));
    const unloadedAt = last;
    for (let i = 0; i < 3; i++) last = await emitter.emit(2, 1);
    await engine.reached('steady', 31337, last);
    await engine.load(late); // the same name again: its cursor and state were kept
    await engine.reached('late', 31337, last);
    const from = BigInt(start);
    expect(await recorded(engine, 'steady')).toEqual(await expectedRecords(emitter.client, from, last, { address: emitter.address }));
    expect(await recorded(engine, 'late')).toEqual(await expectedRecords(emitter.client, from, last, { topics: [PING, tagTopic(2)] }));
    expect(unloadedAt).toBeLessThan(last);
    expect(restartsOf()).toBe(0);
    await expect(engine.load(late)).rejects.toMatchObject({ code: 'duplicate-module' });
    await engine.stop();
  });
});

describe('chain bus: restart', () => {
  it('behavior: a restarted engine with no new block on its chain settles reached() at its saved cursor (it used to wait for the next block)', async () => {
    const emitter = await deployEmitter(testbed.anvil);
    const manifest = { name: 'r', startBlock: Number(emitter.deployedAt) + 1, triggers: [{ kind: 'log' as const, chain: 31337, address: emitter.address }] };
    const first = await chainEngine(runtime, { rpcUrl: testbed.anvil.wsUrl }, [manifest]);
    const last = await emitter.emit(3, 2);
    await first.engine.reached('r', 31337, last);
    await first.engine.stop();
    // Nothing is mined from here on: only the saved cursor can settle the wait.
    const second = await chainEngine(runtime, { rpcUrl: testbed.anvil.wsUrl }, [manifest], first.stateDir);
    await second.engine.reached('r', 31337, last);
    expect(await second.engine.cursor('r', 'chain:31337')).toMatchObject({ number: String(last) });
    await second.engine.stop();
  });
});
