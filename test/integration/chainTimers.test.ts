import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/Engine.ts';
import { DEFAULT_MAX_PENDING_TIMERS } from '../../src/limits/defaults.ts';
import { AT_PREFIX, BLOCK_PREFIX, isReserved, startsWith, tagOfTimerKey, TIMER_COUNT_KEY, TIMER_PREFIX } from '../../src/store/reservedKeys.ts';
import { captureLogger, fixture } from '../helpers.ts';
import { seedTimers } from '../jobs/seedTimers.ts';
import { chainTestbed } from './chainHarness.ts';

const testbed = chainTestbed();

async function blockTimerEngine(stateDir = mkdtempSync(join(tmpdir(), 'corral-block-timers-'))) {
  const engine = await Engine.start({
    runtime: testbed.runtime,
    stateDir,
    logger: captureLogger().logger,
    chains: { 31337: { rpcUrl: testbed.anvil.wsUrl } },
    modules: [{ name: 't', component: fixture('timer-probe'), grants: { store: true, timers: true }, topics: ['cmd'], triggers: [{ kind: 'block', chain: 31337 }] }],
  });
  let seq = 0;
  const run = (command: object) => engine.deliver('t', { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify(command) } }, { seq: ++seq });
  const fired = async (): Promise<string[]> => JSON.parse(new TextDecoder().decode((await engine.read('t', new TextEncoder().encode('fired'))) ?? new TextEncoder().encode('[]')));
  return { engine, run, fired, stateDir };
}
const mine = async (n: number): Promise<bigint> => {
  await testbed.anvil.rpc('anvil_mine', [`0x${n.toString(16)}`]);
  return BigInt(await testbed.anvil.rpc<string>('eth_blockNumber'));
};

describe('timers at a block', () => {
  it('default: a block timer fires once the module has handled that block, not before, and once', async () => {
    const { engine, run, fired } = await blockTimerEngine();
    const head = await mine(1);
    await engine.reached('t', 31337, head);
    expect(await run({ op: 'block', chain: 31337, number: Number(head + 3n), tag: 'b' })).toMatchObject({ ok: true });
    await engine.reached('t', 31337, await mine(2));
    await engine.settled('t');
    expect(await fired()).toEqual([]);
    await engine.reached('t', 31337, await mine(1));
    await engine.settled('t');
    expect(await fired()).toEqual(['b']);
    await engine.reached('t', 31337, await mine(3));
    await engine.settled('t');
    expect(await fired()).toEqual(['b']);
    await engine.stop();
  });

  it('behavior: a block timer passed while the engine was stopped fires once when it starts again', async () => {
    const first = await blockTimerEngine();
    const head = await mine(1);
    await first.engine.reached('t', 31337, head);
    await first.run({ op: 'block', chain: 31337, number: Number(head + 5n), tag: 'away' });
    await first.engine.stop();
    const later = await mine(10);
    const second = await blockTimerEngine(first.stateDir);
    await second.engine.reached('t', 31337, later);
    await second.engine.settled('t');
    expect(await second.fired()).toEqual(['away']);
    await second.engine.reached('t', 31337, await mine(2));
    await second.engine.settled('t');
    expect(await second.fired()).toEqual(['away']);
    await second.engine.stop();
  });

  it('error: a block timer on a chain the module does not follow is refused (the setting event fails, nothing is set)', async () => {
    const { engine, run, fired } = await blockTimerEngine();
    await engine.reached('t', 31337, await mine(1));
    await run({ op: 'block', chain: 1, number: 1, tag: 'elsewhere' });
    expect((await engine.entries('t')).filter(([k]) => isReserved(k))).toEqual([]);
    expect(await fired()).toEqual([]);
    await engine.stop();
  });
});

/** The module's pending count as stored, its timers' tags and how many index entries it holds. */
async function timerState(engine: Engine) {
  const entries = await engine.entries('t');
  const count = entries.find(([key]) => Buffer.compare(key, TIMER_COUNT_KEY) === 0)?.[1];
  return {
    count: count === undefined ? 0 : Number(new TextDecoder().decode(count)),
    tags: entries.flatMap(([key]) => (startsWith(key, TIMER_PREFIX) ? [tagOfTimerKey(key)!] : [])).sort(),
    indexed: entries.filter(([key]) => startsWith(key, AT_PREFIX) || startsWith(key, BLOCK_PREFIX)).length,
  };
}

/** Far enough that no timer of these tests fires while they run. */
const FAR = 9_000_000_000_000;

/** Replaces the head block by one with a transfer in it (the same number, another hash); resolves with the new head. */
async function replaceHead() {
  const account = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266';
  await testbed.anvil.rpc('anvil_reorg', [1, [[{ from: account, to: account, value: '0x1' }, 0]]]);
  const head = await testbed.anvil.rpc<{ number: string; hash: string }>('eth_getBlockByNumber', ['latest', false]);
  return { number: BigInt(head.number), hash: head.hash };
}

/** The tag of the timer block `hash` sets when told to (fixtures/modules/timer-probe). */
const blockTag = (hash: string) => `blk-${hash.slice(2, 10)}`;

describe('timers and reorgs: the pending count always equals the timers stored', () => {
  /** A module told to have block `head + 1` run `order`; that block mined and handled. */
  async function blockActs(order: object, stateDir?: string) {
    const bed = await blockTimerEngine(stateDir);
    const head = await mine(1);
    await bed.engine.reached('t', 31337, head);
    await bed.run({ op: 'on-block', number: Number(head + 1n), ...order });
    const block = await mine(1);
    await bed.engine.reached('t', 31337, block);
    await bed.engine.settled('t');
    return { ...bed, block };
  }

  /** Replaces the block that acted and waits until its replacement (which acts again) is handled. */
  async function reorg(engine: Engine, block: bigint) {
    const replaced = await replaceHead();
    expect(replaced.number).toBe(block);
    await engine.reached('t', 31337, block, replaced.hash);
    await engine.settled('t');
    return replaced;
  }

  it('behavior: a block that set a timer is undone after another source wrote the count: the count drops with the timer', async () => {
    const { engine, run, block } = await blockActs({ at: FAR });
    await run({ op: 'at', at: FAR, tag: 'custom' }); // writes the count after the block did: the undo keeps it
    expect((await timerState(engine)).count).toBe(2);
    const replaced = await reorg(engine, block);
    expect(await timerState(engine)).toEqual({ count: 2, tags: [blockTag(replaced.hash), 'custom'].sort(), indexed: 2 });
    await engine.stop();
  });

  it('behavior: a block that cancelled a timer is undone after another source wrote the count: the count rises with the timer restored', async () => {
    const bed = await blockTimerEngine();
    await bed.run({ op: 'at', at: FAR, tag: 'victim' });
    await bed.engine.stop();
    const { engine, run, block } = await blockActs({ cancel: 'victim' }, bed.stateDir);
    expect((await timerState(engine)).tags).toEqual([]);
    await run({ op: 'at', at: FAR, tag: 'other' }); // writes the count after the block did
    await reorg(engine, block); // the undo brings 'victim' back; its replacement cancels it again
    expect(await timerState(engine)).toEqual({ count: 1, tags: ['other'], indexed: 1 });
    await engine.stop();
  });

  it('behavior: a timer a block set, moved by another source since, survives the block\'s undo and is still counted', async () => {
    const { engine, run, block } = await blockActs({ at: FAR });
    const [set] = (await timerState(engine)).tags;
    await run({ op: 'at', at: FAR + 1, tag: set }); // moves it: its key is kept on undo, the count (0 before the block) is not
    const replaced = await reorg(engine, block);
    expect(await timerState(engine)).toEqual({ count: 2, tags: [set!, blockTag(replaced.hash)].sort(), indexed: 2 });
    await engine.stop();
  });

  it('behavior: at the cap, a timer a reorg undid frees its place (the replacement block sets one) and one more is refused', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-block-timers-'));
    await seedTimers(stateDir, Array.from({ length: DEFAULT_MAX_PENDING_TIMERS - 2 }, (_, i) => [`seed${i}`, { at: FAR }]));
    const { engine, run, block } = await blockActs({ at: FAR }, stateDir);
    await run({ op: 'at', at: FAR, tag: 'last' }); // the cap reached
    expect((await timerState(engine)).count).toBe(DEFAULT_MAX_PENDING_TIMERS);
    const replaced = await reorg(engine, block);
    await run({ op: 'at', at: FAR, tag: 'over' }); // refused: limit("pending-timers")
    const state = await timerState(engine);
    expect(state.tags).toContain(blockTag(replaced.hash));
    expect(state.tags).not.toContain('over');
    expect(state.tags).toHaveLength(DEFAULT_MAX_PENDING_TIMERS);
    expect(state.count).toBe(DEFAULT_MAX_PENDING_TIMERS);
    await engine.stop();
  });
});
