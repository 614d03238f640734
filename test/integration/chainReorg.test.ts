import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { filter, firstValueFrom } from 'rxjs';
import type { Hex } from 'viem';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/Engine.ts';
import type { ModuleManifest } from '../../src/index.ts';
import { isReserved } from '../../src/store/reservedKeys.ts';
import { EngineMetrics } from '../../src/metrics/EngineMetrics.ts';
import { startAnvil, type Anvil } from '../anvil.ts';
import { attachEmitter, deployEmitter } from '../emitter.ts';
import { captureLogger } from '../helpers.ts';
import { chainEngine, chainTestbed, expectedRecords, recorded, stateOf, watcherManifest } from './chainHarness.ts';
import { startRpcProxy } from './rpcProxy.ts';

const testbed = chainTestbed();
const text = (u: Uint8Array) => new TextDecoder().decode(u);
/** The module's own keys and values as text (corral's reserved keys left out: timers, tasks, reorg marks). */
const ownState = async (engine: Engine, module: string) => Object.fromEntries((await engine.entries(module)).filter(([k]) => !isReserved(k)).map(([k, v]) => [text(k), text(v)]));
const { runtime } = testbed;

type Log = { blockNumber: string; logIndex: string };
const removedLogs = (records: Record<string, unknown>[], module: string) =>
  records.filter((r) => r.module === module && r.msg === 'removed').map((r) => r.fields as { block: string; index: number });

/**
 * The Emitter on a node of any chain id, deployed and called through the node's own signing (the
 * helpers' wallet is bound to chain 31337); `emit` resolves with the block of its transaction.
 */
async function emitterOnAnyChain(node: Anvil) {
  const [from] = await node.rpc<Hex[]>('eth_accounts');
  const send = async (tx: { from: Hex; to?: Hex; data: Hex }) => {
    const hash = await node.rpc<Hex>('eth_sendTransaction', [tx]);
    // Mined as it arrives (automine), a moment after the send returns.
    for (;;) {
      const receipt = await node.rpc<{ blockNumber: Hex; contractAddress: Hex | null } | null>('eth_getTransactionReceipt', [hash]);
      if (receipt) return receipt;
    }
  };
  const { bytecode } = JSON.parse(readFileSync(fileURLToPath(new URL('../../fixtures/build/Emitter.json', import.meta.url)), 'utf8')) as { bytecode: Hex };
  const deployed = await send({ from: from!, data: bytecode });
  const emitter = attachEmitter(node.url, deployed.contractAddress!.toLowerCase() as Hex);
  return { address: emitter.address, deployedAt: BigInt(deployed.blockNumber), emit: async (tag: number, count: number) => BigInt((await send(emitter.call(tag, count))).blockNumber) };
}

describe('chain bus: reorgs', () => {
  for (const depth of [1, 5, 20]) {
    it(`behavior: a reorg of depth ${depth} re-delivers the abandoned logs as removed, newest first, and leaves each module's state as a run that only saw the new chain`, async () => {
      const emitter = await deployEmitter(testbed.anvil);
      const start = Number(emitter.deployedAt) + 1;
      const manifests: Partial<ModuleManifest>[] = [
        { name: 'logs', startBlock: start, triggers: [{ kind: 'log', chain: 31337, address: emitter.address }] },
        { name: 'blocks', startBlock: start, triggers: [{ kind: 'block', chain: 31337 }] },
        { name: 'confirmed', startBlock: start, triggers: [{ kind: 'log', chain: 31337, address: emitter.address, confirmations: 3 }] },
      ];
      const { engine, records } = await chainEngine(runtime, { rpcUrl: testbed.anvil.url, pollIntervalMs: 20 }, manifests);
      let last = 0n;
      for (let i = 0; i < 24; i++) last = await emitter.emit(i % 3, 1 + (i % 3));
      await Promise.all([engine.reached('logs', 31337, last), engine.reached('blocks', 31337, last), engine.reached('confirmed', 31337, last - 3n)]);
      const fork = last - BigInt(depth) + 1n; // the first block replaced
      const abandoned = (await testbed.anvil.rpc<Log[]>('eth_getLogs', [{ address: emitter.address, fromBlock: `0x${fork.toString(16)}`, toBlock: `0x${last.toString(16)}` }])).map((l) => ({
        block: String(BigInt(l.blockNumber)),
        index: Number(l.logIndex),
      }));
      expect(abandoned.length).toBeGreaterThan(0);

      // The new branch: as long as the old one (same height), with different logs at its first and last block.
      await testbed.anvil.rpc('anvil_reorg', [depth, [[emitter.call(7, 2), 0], [emitter.call(8, 1), depth - 1]]]);
      const head = await emitter.client.getBlock();
      expect(head.number).toBe(last);
      const confirmedAt = await emitter.client.getBlock({ blockNumber: last - 3n });
      await Promise.all([engine.reached('logs', 31337, last, head.hash), engine.reached('blocks', 31337, last, head.hash), engine.reached('confirmed', 31337, last - 3n, confirmedAt.hash)]);

      expect(removedLogs(records, 'logs')).toEqual(abandoned.reverse());
      // A module three confirmations behind only saw (and now undoes) the abandoned blocks at or below head - 3.
      expect(removedLogs(records, 'confirmed')).toEqual(abandoned.filter((l) => BigInt(l.block) <= last - 3n));
      const from = BigInt(start);
      expect(await recorded(engine, 'logs')).toEqual(await expectedRecords(emitter.client, from, last, { address: emitter.address }));
      expect(await recorded(engine, 'blocks')).toEqual(await expectedRecords(emitter.client, from, last, null, 1));
      expect(await recorded(engine, 'confirmed')).toEqual(await expectedRecords(emitter.client, from, last - 3n, { address: emitter.address }));

      // The same modules, run from scratch over the new chain only: the same state, key for key.
      const fresh = await chainEngine(runtime, { rpcUrl: testbed.anvil.url, pollIntervalMs: 20 }, manifests);
      await Promise.all([fresh.engine.reached('logs', 31337, last), fresh.engine.reached('blocks', 31337, last), fresh.engine.reached('confirmed', 31337, last - 3n)]);
      for (const name of ['logs', 'blocks', 'confirmed']) expect(await stateOf(engine, name)).toEqual(await stateOf(fresh.engine, name));
      await Promise.all([engine.stop(), fresh.engine.stop()]);
    });
  }

  for (const restart of [false, true]) {
    it(`behavior: undoing a reorged block keeps a key a custom event wrote since, restores the keys only the block wrote, and names the kept key to the module (and in the metric)${restart ? '; across an engine restart in between' : ''}`, async () => {
      const emitter = await deployEmitter(testbed.anvil);
      const start = Number(emitter.deployedAt) + 1;
      const chain = { rpcUrl: testbed.anvil.url, pollIntervalMs: 20 };
      const manifests: Partial<ModuleManifest>[] = [{ name: 'w', startBlock: start, triggers: [{ kind: 'log', chain: 31337, address: emitter.address }, { kind: 'custom', topic: 'tick' }] }];
      const first = await chainEngine(runtime, chain, manifests);
      let engine = first.engine;
      let last = 0n;
      for (let i = 0; i < 2; i++) last = await emitter.emit(1, 1);
      await engine.reached('w', 31337, last);
      const before = await ownState(engine, 'w'); // n = 2, ev/000001, ev/000002
      expect(before.n).toBe('2');

      // Block B's log writes K = `n` (3) and J = `ev/000003`; then a custom event writes K (4) and ev/000004.
      const b = await emitter.emit(1, 1);
      await engine.reached('w', 31337, b);
      const abandoned = await emitter.client.getBlock({ blockNumber: b });
      await engine.publish('tick', '{}');
      await engine.settled('w');
      expect((await ownState(engine, 'w')).n).toBe('4');
      if (restart) {
        await engine.stop();
        engine = (await chainEngine(runtime, chain, manifests, first.stateDir)).engine;
      }
      // One more block, without logs: the (restarted) engine follows the chain again before the reorg.
      await testbed.anvil.rpc('anvil_mine', ['0x1']);
      const c = b + 1n;
      await engine.reached('w', 31337, c);
      const metrics = new EngineMetrics(engine);

      await testbed.anvil.rpc('anvil_reorg', [2, []]); // B and the block after it replaced by blocks without logs
      const head = await emitter.client.getBlock();
      expect(head.number).toBe(c);
      await engine.reached('w', 31337, c, head.hash);
      await engine.settled('w');

      const after = await ownState(engine, 'w');
      const notice = after[`kept/${b}`];
      // K keeps the custom event's value; J, which only B wrote, is gone again (it did not exist before B);
      // the custom event's own key stands; nothing else changed.
      expect(after).toEqual({ ...before, n: '4', 'ev/000004': 'custom:tick', [`kept/${b}`]: notice });
      expect(after['ev/000003']).toBeUndefined();
      expect(JSON.parse(notice!)).toEqual({ chainId: '31337', block: String(b), hash: abandoned.hash, keys: [Buffer.from('n').toString('hex')] });
      expect(engine.chainPositions().find((p) => p.module === 'w')?.keptOnUndo).toBe(1);
      const counted = await metrics.registry.getSingleMetric('corral_reorg_kept_keys_total')!.get();
      expect(counted.values).toEqual([{ labels: { module: 'w', chain: '31337' }, value: 1 }]);
      metrics.close();
      await engine.stop();
    });
  }

  it('behavior: a module on two chains whose blocks on both wrote the same key ends on the state from before both once a reorg on each took them away', async () => {
    const a = await deployEmitter(testbed.anvil);
    const other = await startAnvil({ chainId: 31338 });
    try {
      const b = await emitterOnAnyChain(other);
      const engine = await Engine.start({
        runtime,
        stateDir: mkdtempSync(join(tmpdir(), 'corral-two-chains-')),
        logger: captureLogger().logger as Logger,
        chains: { 31337: { rpcUrl: testbed.anvil.url, pollIntervalMs: 20 }, 31338: { rpcUrl: other.url, pollIntervalMs: 20 } },
        modules: [
          watcherManifest({
            name: 'w',
            startBlock: { '31337': Number(a.deployedAt) + 1, '31338': Number(b.deployedAt) + 1 },
            triggers: [
              { kind: 'log', chain: 31337, address: a.address },
              { kind: 'log', chain: 31338, address: b.address },
            ],
          }),
        ],
      });
      // a1 on chain 31337 writes n = 1 and ev/000001; then b1 on chain 31338 writes n = 2 and ev/000002.
      const a1 = await a.emit(1, 1);
      await engine.reached('w', 31337, a1);
      const b1 = await b.emit(1, 1);
      await engine.reached('w', 31338, b1);
      const both = await ownState(engine, 'w');
      expect(Object.keys(both).sort()).toEqual(['ev/000001', 'ev/000002', 'n']);
      expect(both.n).toBe('2');

      // a1 goes: n keeps b1's value (b1 stands) and is named in the notice; ev/000001 goes.
      await testbed.anvil.rpc('anvil_reorg', [1, []]);
      await engine.reached('w', 31337, a1, (await a.client.getBlock()).hash);
      await engine.settled('w');
      const notice = (await ownState(engine, 'w'))[`kept/${a1}`];
      expect(JSON.parse(notice!)).toMatchObject({ chainId: '31337', block: String(a1), keys: [Buffer.from('n').toString('hex')] });
      expect(await ownState(engine, 'w')).toEqual({ n: '2', 'ev/000002': both['ev/000002'], [`kept/${a1}`]: notice });
      // b1 goes: n is back to what stood before both (absent), not to a1's value.
      await other.rpc('anvil_reorg', [1, []]);
      await engine.reached('w', 31338, b1, (await other.rpc<{ hash: string }>('eth_getBlockByNumber', ['latest', false])).hash);
      await engine.settled('w');
      expect(await ownState(engine, 'w')).toEqual({ [`kept/${a1}`]: notice });
      await engine.stop();
    } finally {
      await other.stop();
    }
  });

  it('error: a reorg deeper than the window gives ReorgBeyondWindow and halts that module; the others keep working', async () => {
    const emitter = await deployEmitter(testbed.anvil);
    const start = Number(emitter.deployedAt) + 1;
    const { engine, records } = await chainEngine(runtime, { rpcUrl: testbed.anvil.url, pollIntervalMs: 20, reorgWindow: 4 }, [
      { name: 'near', startBlock: start, triggers: [{ kind: 'log', chain: 31337, address: emitter.address }] },
      // Ten confirmations: it never handled the blocks the reorg replaces.
      { name: 'far', startBlock: start, triggers: [{ kind: 'log', chain: 31337, address: emitter.address, confirmations: 10 }] },
      { name: 'app', triggers: [{ kind: 'custom', topic: 'tick' }] },
    ]);
    let last = 0n;
    for (let i = 0; i < 16; i++) last = await emitter.emit(1, 2);
    await Promise.all([engine.reached('near', 31337, last), engine.reached('far', 31337, last - 10n)]);
    const nearBefore = await stateOf(engine, 'near');
    const signal = firstValueFrom(engine.signals$.pipe(filter((s) => s.type === 'ReorgBeyondWindow')));
    const stopped = firstValueFrom(engine.signals$.pipe(filter((s) => s.type === 'Stopped' && s.actor === 'near')));

    await testbed.anvil.rpc('anvil_reorg', [8, [[emitter.call(9, 1), 0]]]);
    expect(await signal).toMatchObject({ type: 'ReorgBeyondWindow', actor: 'near', chainId: '31337', cursor: { number: String(last) }, windowBlocks: 4 });
    expect(await stopped).toMatchObject({ reason: 'halted' });
    expect(records.some((r) => r.module === 'near' && r.msg === 'reorg deeper than the module can undo; module halted')).toBe(true);

    // The chain goes on: `far` follows the new chain, `app` serves embedder events, `near` is left as it was.
    let next = last;
    for (let i = 0; i < 12; i++) next = await emitter.emit(2, 1);
    await engine.reached('far', 31337, next - 10n);
    expect(await recorded(engine, 'far')).toEqual(await expectedRecords(emitter.client, BigInt(start), next - 10n, { address: emitter.address }));
    await engine.publish('tick', '{}');
    await engine.settled('app');
    expect(await recorded(engine, 'app')).toEqual(['custom:tick']);
    expect(await stateOf(engine, 'near')).toEqual(nearBefore);
    expect(await engine.cursor('near', 'chain:31337')).toMatchObject({ number: String(last) });
    await engine.stop();
  });

  it('behavior: a reorg that replaces a new module\'s start block moves its origin to the new block; it is not halted', async () => {
    const emitter = await deployEmitter(testbed.anvil);
    for (let i = 0; i < 4; i++) await emitter.emit(1, 1);
    const head = await emitter.client.getBlockNumber();
    const { engine } = await chainEngine(runtime, { rpcUrl: testbed.anvil.url, pollIntervalMs: 20, reorgWindow: 8 }, [
      { name: 'fresh', startBlock: Number(head) + 1, triggers: [{ kind: 'log', chain: 31337, address: emitter.address }] },
    ]);
    await engine.reached('fresh', 31337, head); // its origin: the block before its first
    const halted: string[] = [];
    engine.signals$.subscribe((s) => s.type === 'ReorgBeyondWindow' && halted.push(s.actor));
    await testbed.anvil.rpc('anvil_reorg', [3, [[emitter.call(5, 1), 0]]]); // replaces head − 2 … head, the origin among them
    const origin = await emitter.client.getBlock({ blockNumber: head });
    await engine.reached('fresh', 31337, head, origin.hash);
    let last = head;
    for (let i = 0; i < 3; i++) last = await emitter.emit(2, 2);
    await engine.reached('fresh', 31337, last);
    expect(halted).toEqual([]);
    expect(await recorded(engine, 'fresh')).toEqual(await expectedRecords(emitter.client, head + 1n, last, { address: emitter.address }));
    await engine.stop();
  });

  it('error: a reorg reaching below the blocks a restarted module caught up by range halts it (it cannot undo them), rather than applying them twice', async () => {
    const emitter = await deployEmitter(testbed.anvil);
    const start = Number(emitter.deployedAt) + 1;
    const chain = { rpcUrl: testbed.anvil.url, pollIntervalMs: 20, reorgWindow: 4 };
    const manifest = { name: 'm', startBlock: start, triggers: [{ kind: 'log' as const, chain: 31337, address: emitter.address }] };
    const first = await chainEngine(runtime, chain, [manifest]);
    let last = 0n;
    for (let i = 0; i < 6; i++) last = await emitter.emit(1, 1); // handled live: undo records
    await first.engine.reached('m', 31337, last);
    await first.engine.stop();
    for (let i = 0; i < 12; i++) last = await emitter.emit(2, 1); // while stopped: more than the window
    const second = await chainEngine(runtime, chain, [manifest], first.stateDir);
    await second.engine.reached('m', 31337, last); // by range up to head − 4, then block by block
    const signal = firstValueFrom(second.engine.signals$.pipe(filter((s) => s.type === 'ReorgBeyondWindow')));
    await testbed.anvil.rpc('anvil_reorg', [6, [[emitter.call(9, 1), 0]]]); // forks two blocks into the caught-up range
    expect(await signal).toMatchObject({ actor: 'm', cursor: { number: String(last) }, windowBlocks: 4 });
    // Nothing was applied twice: the state still holds each original block's log exactly once.
    const seqs = (await recorded(second.engine, 'm')).map((r) => r.split(':')[3]);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs).toHaveLength(18);
    await second.engine.stop();
  });

  it('behavior: a stale head from a lagging node does not shorten the chain: ignored once the node\'s latest block says so', async () => {
    const emitter = await deployEmitter(testbed.anvil);
    const start = Number(emitter.deployedAt) + 1;
    let last = 0n;
    for (let i = 0; i < 30; i++) last = await emitter.emit(1, 1);
    const stale = await testbed.anvil.rpc<Record<string, unknown>>('eth_getBlockByNumber', [`0x${(last - 25n).toString(16)}`, false]);
    let lie = false;
    // A proxy answers one poll for the latest block with a block 25 below the head (as a lagging backend would).
    const proxy = await startRpcProxy(testbed.anvil.url, (request, response) => {
      const params = (request as unknown as { params?: unknown[] }).params;
      if (lie && request.method === 'eth_getBlockByNumber' && params?.[0] === 'latest') {
        lie = false;
        return { ...response, result: stale };
      }
      return response;
    });
    const { engine, records } = await chainEngine(runtime, { rpcUrl: proxy.url, pollIntervalMs: 20, reorgWindow: 8 }, [
      { name: 'm', startBlock: start, triggers: [{ kind: 'log', chain: 31337, address: emitter.address }] },
    ]);
    await engine.reached('m', 31337, last);
    const halted: string[] = [];
    engine.signals$.subscribe((s) => s.type === 'ReorgBeyondWindow' && halted.push(s.actor));
    lie = true;
    for (let i = 0; i < 3; i++) last = await emitter.emit(2, 1);
    await engine.reached('m', 31337, last);
    expect(lie).toBe(false); // the stale head was served
    expect(records.some((r) => r.msg === 'stale head ignored')).toBe(true);
    expect(halted).toEqual([]);
    expect(records.some((r) => r.module === 'm' && r.msg === 'undoing abandoned blocks')).toBe(false);
    expect(await recorded(engine, 'm')).toEqual(await expectedRecords(emitter.client, BigInt(start), last, { address: emitter.address }));
    await engine.stop();
    await proxy.close();
  });
});
