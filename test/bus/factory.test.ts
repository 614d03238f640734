import type { Hex } from 'viem';
import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/Engine.ts';
import type { ModuleManifest } from '../../src/index.ts';
import { CHILD_PREFIX, isReserved, startsWith } from '../../src/store/reservedKeys.ts';
import { deployEmitter } from '../emitter.ts';
import { deployFactory, POOL_CREATED } from '../factory.ts';
import { chainEngine, chainTestbed, expectedRecords, recorded, stateOf } from '../integration/chainHarness.ts';

const testbed = chainTestbed();
const { runtime } = testbed;
const text = (u: Uint8Array) => new TextDecoder().decode(u);
/** A small window and range: the first blocks are caught up by ranges (fetched ahead), the rest live. */
const chainOf = () => ({ rpcUrl: testbed.anvil.url, pollIntervalMs: 20, reorgWindow: 16, maxLogRange: 50 });
const factoryTrigger = (address: Hex) => ({ kind: 'log' as const, chain: 31337, address: { factory: address, event: POOL_CREATED, parameter: 'pool' } });
/** The module's own keys and values (corral's reserved keys left out). */
const ownState = async (engine: Engine, module: string) => Object.fromEntries((await engine.entries(module)).filter(([k]) => !isReserved(k)).map(([k, v]) => [text(k), text(v)]));
/** The children the module's state holds: address → `<block>:<log index>` of its creation. */
const childrenOf = async (engine: Engine, module: string) =>
  Object.fromEntries((await engine.entries(module)).filter(([k]) => startsWith(k, CHILD_PREFIX)).map(([k, v]) => [text(k).split('/').at(-1)!, text(v)]));
const removedLogs = (records: Record<string, unknown>[], module: string) => records.filter((r) => r.module === module && r.msg === 'removed').map((r) => r.fields as { block: string; index: number });

describe('factory triggers', () => {
  it('behavior: children created over 200 blocks are followed from their creation block, caught up and live (a log in its creation block included); the state equals a module listing the children statically', async () => {
    const factory = await deployFactory(testbed.anvil);
    const start = Number(factory.deployedAt) + 1;
    const children = Array.from({ length: 20 }, (_, i) => factory.child(i + 1));
    // Twelve children over ~190 blocks, before the engine starts: caught up by ranges.
    const created: bigint[] = [];
    for (let i = 0; i < 12; i++) {
      created.push(await factory.create(1, i % 2 === 0 ? 10 + i : 0));
      if (i >= 2) await factory.ping(children[i - 2]!, 50 + i, 1 + (i % 3));
      await testbed.anvil.rpc('anvil_mine', ['0xe']);
    }
    const modules: Partial<ModuleManifest>[] = [
      { name: 'factory', startBlock: start, triggers: [factoryTrigger(factory.address)] },
      { name: 'static', startBlock: start, triggers: [{ kind: 'log', chain: 31337, address: children }] },
    ];
    const { engine } = await chainEngine(runtime, chainOf(), modules);
    // Eight more near the head, live: every other one pings in the block that creates it.
    let last = 0n;
    for (let i = 12; i < 20; i++) {
      created.push((last = await factory.create(1, i % 2 === 0 ? 10 + i : 0)));
      last = await factory.ping(children[i - 1]!, 70 + i);
    }
    expect(last - BigInt(start)).toBeGreaterThanOrEqual(200n);
    await Promise.all([engine.reached('factory', 31337, last), engine.reached('static', 31337, last)]);

    const records = await recorded(engine, 'factory');
    expect(records).toEqual(await expectedRecords(factory.client, BigInt(start), last, { address: children } as never));
    // A child's Ping in the block (and transaction) that created it: caught up (child 1) and live (child 13).
    for (const i of [0, 12]) expect(records.some((r) => r.startsWith(`log:${created[i]}:`))).toBe(true);
    expect(await ownState(engine, 'factory')).toEqual(await ownState(engine, 'static'));
    const followed = await childrenOf(engine, 'factory');
    expect(Object.keys(followed).sort()).toEqual([...children].sort());
    expect(followed[children[12]!]!.split(':')[0]).toBe(String(created[12]));
    await engine.stop();
  });

  it("behavior: a reorg removing a creation removes the child and its logs' effects (re-delivered as removed); the child created again later is followed from its new block", async () => {
    const factory = await deployFactory(testbed.anvil);
    const start = Number(factory.deployedAt) + 1;
    const [first, second] = [factory.child(1), factory.child(2)];
    const modules: Partial<ModuleManifest>[] = [{ name: 'factory', startBlock: start, triggers: [factoryTrigger(factory.address)] }];
    const { engine, records } = await chainEngine(runtime, chainOf(), modules);
    await factory.create(1, 5);
    await factory.ping(first, 6);
    const b = await factory.create(1, 7); // the second child, with a Ping in its creation block
    const last = await factory.ping(second, 8);
    await engine.reached('factory', 31337, last);
    expect(Object.keys(await childrenOf(engine, 'factory')).sort()).toEqual([first, second].sort());
    const abandoned = (await testbed.anvil.rpc<{ blockNumber: string; logIndex: string }[]>('eth_getLogs', [{ address: second, fromBlock: `0x${b.toString(16)}`, toBlock: `0x${last.toString(16)}` }])).map((l) => ({
      block: String(BigInt(l.blockNumber)),
      index: Number(l.logIndex),
    }));
    expect(abandoned).toHaveLength(2);

    // The new branch: the first child pings where the second was created; the creation is gone.
    await testbed.anvil.rpc('anvil_reorg', [2, [[factory.pingCall(first, 9), 0]]]);
    const head = await factory.client.getBlock();
    await engine.reached('factory', 31337, last, head.hash);
    expect(Object.keys(await childrenOf(engine, 'factory'))).toEqual([first]);
    expect(removedLogs(records, 'factory')).toEqual(abandoned.reverse());
    expect(await recorded(engine, 'factory')).toEqual(await expectedRecords(factory.client, BigInt(start), last, { address: [first, second] } as never));

    // The factory's nonce went back with the reorg: its next child has the second one's address again.
    const again = await factory.create(1, 11);
    await engine.reached('factory', 31337, again);
    expect((await childrenOf(engine, 'factory'))[second]!.split(':')[0]).toBe(String(again));
    const fresh = await chainEngine(runtime, chainOf(), modules);
    await fresh.engine.reached('factory', 31337, again);
    expect(await stateOf(engine, 'factory')).toEqual(await stateOf(fresh.engine, 'factory'));
    await Promise.all([engine.stop(), fresh.engine.stop()]);
  });

  it('behavior: restarted after the chain moved on, the module resumes with its children (and learns the ones created meanwhile); an address named after it logged is followed from its naming only', async () => {
    const factory = await deployFactory(testbed.anvil);
    const start = Number(factory.deployedAt) + 1;
    const outsider = await deployEmitter(testbed.anvil);
    let before = 0n;
    for (let i = 0; i < 4; i++) {
      await factory.create(1, 20 + i);
      // Logged after the first child's creation (inside the range its chunk is asked for), before the factory names it: not the module's.
      if (i === 0) before = await outsider.emit(3, 2);
      await testbed.anvil.rpc('anvil_mine', ['0xa']);
    }
    await factory.announce(outsider.address);
    await outsider.emit(4, 1);
    const modules: Partial<ModuleManifest>[] = [{ name: 'factory', startBlock: start, triggers: [factoryTrigger(factory.address)] }];
    const first = await chainEngine(runtime, chainOf(), modules);
    await first.engine.reached('factory', 31337, await factory.client.getBlockNumber());
    await first.engine.stop();

    await factory.create(2, 30);
    await factory.ping(factory.child(1), 31);
    await outsider.emit(5, 1);
    await testbed.anvil.rpc('anvil_mine', ['0x28']);
    const last = await factory.ping(factory.child(6), 32);
    const second = await chainEngine(runtime, chainOf(), modules, first.stateDir);
    await second.engine.reached('factory', 31337, last);

    const addresses = [...Array.from({ length: 6 }, (_, i) => factory.child(i + 1)), outsider.address];
    const expected = (await expectedRecords(factory.client, BigInt(start), last, { address: addresses } as never)).filter((r) => !r.startsWith(`log:${before}:`));
    expect(await recorded(second.engine, 'factory')).toEqual(expected);
    const fresh = await chainEngine(runtime, chainOf(), modules);
    await fresh.engine.reached('factory', 31337, last);
    expect(await stateOf(second.engine, 'factory')).toEqual(await stateOf(fresh.engine, 'factory'));
    expect(Object.keys(await childrenOf(second.engine, 'factory'))).toHaveLength(7);
    await Promise.all([second.engine.stop(), fresh.engine.stop()]);
  });

  it("error: a factory's children past the module's storedBytes cap end the step as HostLimitExceeded storedBytes: none of them is committed, the module stays before the block, and a module without the cap follows them all", async () => {
    const factory = await deployFactory(testbed.anvil);
    const start = Number(factory.deployedAt) + 1;
    // Each child is a reserved key of ~80 bytes (toward storedBytes like the module's own writes): 40 of them pass 2,000.
    const modules: Partial<ModuleManifest>[] = [
      { name: 'capped', startBlock: start, triggers: [factoryTrigger(factory.address)], caps: { storedBytes: 2_000 } },
      { name: 'factory', startBlock: start, triggers: [factoryTrigger(factory.address)] },
    ];
    const { engine } = await chainEngine(runtime, chainOf(), modules);
    const capped = firstValueFrom(engine.signals$.pipe(filter((s) => s.actor === 'capped' && s.type === 'HostLimitExceeded')));
    const created = await factory.create(40);
    await engine.reached('factory', 31337, created);
    // Without the cap on the feed's writes, the module would pass the block with every child stored.
    const first = await Promise.race([capped, engine.reached('capped', 31337, created).then(() => 'passed the block' as const)]);
    expect(first).not.toBe('passed the block');
    const signal = first as { signal: { limit?: string; max?: number; observed?: number } };
    expect(signal.signal).toMatchObject({ limit: 'storedBytes', max: 2_000 });
    expect(signal.signal.observed).toBeGreaterThan(2_000);
    expect(Object.keys(await childrenOf(engine, 'factory'))).toHaveLength(40);
    expect(await childrenOf(engine, 'capped')).toEqual({});
    const cursor = (await engine.cursor('capped', 'chain:31337')) as { number?: string } | undefined;
    expect(BigInt(cursor?.number ?? 0)).toBeLessThan(created);
    expect(engine.storedBytes().capped).toBeLessThanOrEqual(2_000);
    await engine.stop();
  });
});
