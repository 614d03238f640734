import type { Hex } from 'viem';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/Engine.ts';
import type { ModuleManifest } from '../../src/index.ts';
import { CHILD_PREFIX, startsWith } from '../../src/store/reservedKeys.ts';
import { deployEmitter } from '../emitter.ts';
import { fixture } from '../helpers.ts';
import { chainEngine, chainTestbed, recorded, watcherManifest } from '../integration/chainHarness.ts';

const testbed = chainTestbed();
const { runtime } = testbed;
const text = (u: Uint8Array) => new TextDecoder().decode(u);
/** A small window: what happened before the engine started is caught up by ranges, the rest live. */
const chainOf = () => ({ rpcUrl: testbed.anvil.url, pollIntervalMs: 20, reorgWindow: 4, maxLogRange: 50 });
/** Emitter A's Ping tags: what the trig-probe module does on seeing one (fixtures/modules/trig-probe). */
const ADD = 1;
const REMOVE = 2;
const ADD_THEN_FAIL = 3;
const BAD = 4;
/** A Ping of emitter B: only ever a record. */
const NOTE = 9;

type Emitter = Awaited<ReturnType<typeof deployEmitter>>;

/** A trig-probe module whose trigger "watched" lists `a` and whose commands add and remove `b`. */
function probe(name: string, a: Emitter, b: Emitter, startBlock?: bigint): Partial<ModuleManifest> {
  const commands = { [a.address]: { [ADD]: 'add', [REMOVE]: 'remove', [ADD_THEN_FAIL]: 'add-then-fail', [BAD]: 'bad' } };
  return {
    name,
    component: fixture('trig-probe'),
    grants: { store: true, triggers: true },
    config: JSON.stringify({ trigger: 'watched', target: b.address, commands }),
    triggers: [{ kind: 'log', chain: 31337, address: a.address, name: 'watched', topics: [] }],
    ...(startBlock === undefined ? {} : { startBlock: Number(startBlock) }),
  } as Partial<ModuleManifest>;
}

/** Sends `calls` as transactions of one new block, in that order; resolves with its number. */
async function oneBlock(a: Emitter, calls: ReturnType<Emitter['call']>[]): Promise<bigint> {
  const { anvil } = testbed;
  await anvil.rpc('evm_setAutomine', [false]);
  try {
    for (const call of calls) await anvil.rpc('eth_sendTransaction', [call]);
    await anvil.rpc('evm_mine', []);
  } finally {
    await anvil.rpc('evm_setAutomine', [true]);
  }
  return a.client.getBlockNumber();
}

/** The logs of a block the module handled, as it records them: `<block>:<log index>:<address>`. */
async function logsOf(a: Emitter, block: bigint, addresses: Hex[]): Promise<string[]> {
  const logs = await a.client.getLogs({ fromBlock: block, toBlock: block });
  return logs.filter((l) => addresses.includes(l.address.toLowerCase() as Hex)).map((l) => `${block}:${l.logIndex}:${l.address.toLowerCase()}`);
}

/** The added addresses the module's state holds: address → `<block>:<position>`. */
const addedOf = async (engine: Engine, module: string) =>
  Object.fromEntries((await engine.entries(module)).filter(([k]) => startsWith(k, CHILD_PREFIX)).map(([k, v]) => [text(k).split('/').at(-1)!, text(v)]));
const outcomes = async (engine: Engine, module: string) => JSON.parse(text((await engine.read(module, new TextEncoder().encode('out'))) ?? new TextEncoder().encode('[]'))) as string[];

/**
 * Add B in block N (B's log in N after the add: not the module's), B logs in N + 1 (delivered), remove
 * B in block R (B's log in R: still the step's own), B in R + 1 (not delivered), an add in a failing
 * step, B after it (not delivered), malformed calls. Resolves with the records the module must have.
 */
async function scenario(a: Emitter, b: Emitter): Promise<{ expected: string[]; last: bigint }> {
  const both: Hex[] = [a.address, b.address];
  const expected: string[] = [];
  await b.emit(NOTE, 1);
  const added = await oneBlock(a, [a.call(ADD, 1), b.call(NOTE, 1)]);
  expected.push(...(await logsOf(a, added, [a.address])));
  const seen = await b.emit(NOTE, 2);
  expected.push(...(await logsOf(a, seen, both)));
  const removed = await oneBlock(a, [a.call(REMOVE, 1), b.call(NOTE, 1)]);
  expected.push(...(await logsOf(a, removed, both)));
  await b.emit(NOTE, 1);
  // The failing step's event is dropped with its writes: neither its record nor B's address stands.
  await a.emit(ADD_THEN_FAIL, 1);
  await b.emit(NOTE, 1);
  const bad = await a.emit(BAD, 1);
  expected.push(...(await logsOf(a, bad, both)));
  return { expected, last: bad };
}

describe('trigger addresses added at run time', () => {
  it('behavior: an address added in block N is followed from N + 1, removed in R it is followed through R only; an add in a failing step adds nothing; caught up by ranges and live alike', async () => {
    const [a, b] = [await deployEmitter(testbed.anvil), await deployEmitter(testbed.anvil)];
    const start = (await a.client.getBlockNumber()) + 1n;
    const before = await scenario(a, b);
    // Past the reorg window by the engine's start: the first run is caught up by ranges.
    await testbed.anvil.rpc('anvil_mine', ['0xa']);
    const { engine } = await chainEngine(runtime, chainOf(), [probe('caught', a, b, start)]);
    await engine.reached('caught', 31337, before.last + 10n);
    await engine.load(watcherManifest(probe('live', a, b)));
    const after = await scenario(a, b);
    await Promise.all([engine.reached('caught', 31337, after.last), engine.reached('live', 31337, after.last)]);

    expect(await recorded(engine, 'caught')).toEqual([...before.expected, ...after.expected]);
    expect(await recorded(engine, 'live')).toEqual(after.expected);
    expect(await outcomes(engine, 'live')).toEqual(['ok', 'ok', 'not-found', 'invalid-input']);
    expect(await addedOf(engine, 'live')).toEqual({});
    await engine.stop();
  });

  it("behavior: a reorg abandoning the block whose step added an address removes it (its logs' records undone, its later logs not delivered); a restart keeps an added address", async () => {
    const [a, b] = [await deployEmitter(testbed.anvil), await deployEmitter(testbed.anvil)];
    const start = (await a.client.getBlockNumber()) + 1n;
    const modules = [probe('reorged', a, b, start)];
    const first = await chainEngine(runtime, chainOf(), modules);
    const added = await a.emit(ADD, 1);
    const seen = await b.emit(NOTE, 1);
    await first.engine.reached('reorged', 31337, seen);
    expect(Object.keys(await addedOf(first.engine, 'reorged'))).toEqual([b.address]);
    expect(await recorded(first.engine, 'reorged')).toEqual([...(await logsOf(a, added, [a.address])), ...(await logsOf(a, seen, [b.address]))]);

    // The new branch has B's Ping where the add was, and no add: B is no longer followed.
    await testbed.anvil.rpc('anvil_reorg', [2, [[b.call(NOTE, 1), 0]]]);
    const head = await a.client.getBlock();
    await first.engine.reached('reorged', 31337, seen, head.hash);
    expect(await addedOf(first.engine, 'reorged')).toEqual({});
    await b.emit(NOTE, 1);
    const again = await a.emit(ADD, 1);
    await first.engine.reached('reorged', 31337, again);
    expect(await recorded(first.engine, 'reorged')).toEqual(await logsOf(a, again, [a.address]));
    await first.engine.stop();

    // Restarted from its state: B, added in the step of `again`, is followed.
    const late = await b.emit(NOTE, 1);
    const second = await chainEngine(runtime, chainOf(), modules, first.stateDir);
    await second.engine.reached('reorged', 31337, late);
    expect(await recorded(second.engine, 'reorged')).toEqual([...(await logsOf(a, again, [a.address])), ...(await logsOf(a, late, [b.address]))]);
    expect(await addedOf(second.engine, 'reorged')).toEqual({ [b.address]: `${again}:${Number.MAX_SAFE_INTEGER}` });
    await second.engine.stop();
  });
});
