import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAnvil, type Anvil } from '../../src/chain/embeddedAnvil.ts';
import { buildFixtures } from '../../fixtures/build.ts';
import { BLOCK_SECONDS, Scenario } from '../../examples/twap-monitor/demo/scenario.ts';
import { naiveCalls, type PostedPart } from '../../examples/twap-monitor/demo/view.ts';
import { MODULE, twapWorld } from './twapHarness.ts';

// A fresh anvil per test: each scenario sets its own block timestamps, and one test reorganises the chain.
let anvil: Anvil | undefined;
let world: Awaited<ReturnType<typeof twapWorld>> | undefined;
beforeAll(() => buildFixtures(['ComposableCoW', 'twap-monitor']));
afterEach(async () => {
  await world?.close();
  await anvil?.stop();
  world = undefined;
  anvil = undefined;
});
async function setUp() {
  anvil = await startAnvil();
  world = await twapWorld(anvil);
  return world;
}

/** Posted parts as `label part-validTo@block`, for readable diffs. */
function asSchedule(scenario: Scenario, posted: { createdAt: bigint; validTo: number; block: bigint }[]): string[] {
  return posted
    .map((p) => `${scenario.orders.find((o) => o.createdAt === p.createdAt)?.label ?? '?'} ${p.validTo}@${p.block}`)
    .sort();
}

describe('TWAP watcher (examples/twap-monitor)', () => {
  let measured: { calls: number; moduleCalls: number; naive: number } | undefined;

  it('default: the demo scenario, 80 blocks, engine restarted in the middle: every part posted at its first tradeable block, and only then, none twice', async () => {
    const w = await setUp();
    const scenario = Scenario.standard(w.cow);
    let calls = 0;
    await w.start();
    await scenario.run(0, 35, (_tick, block) => w.reached(block));
    calls += w.engine.rpcStats().modules[MODULE]?.eth_call?.calls ?? 0;
    await w.stop();
    // The chain moves on while the engine is down (orders created, parts due): it catches up on restart.
    await scenario.run(35, 50);
    await w.start();
    await scenario.run(50, 80, (_tick, block) => w.reached(block));
    const last = scenario.start!.block + 79n;
    await w.reached(last);
    calls += w.engine.rpcStats().modules[MODULE]?.eth_call?.calls ?? 0;

    const expected = await scenario.expectedPosts(last);
    const { stats, posted, done } = await w.state();
    expect(asSchedule(scenario, posted)).toEqual(asSchedule(scenario, expected.map((e) => ({ ...e, createdAt: scenario.orders.find((o) => o.label === e.label)!.createdAt! }))));
    expect(expected).toHaveLength(22);
    // The order book received each of those parts exactly once: no DuplicatedOrder, no second uid.
    expect(w.orderBook.duplicates).toBe(0);
    expect(w.orderBook.accepted.map((o) => `${o.owner} ${o.validTo}`).sort()).toEqual(expected.map((e) => `${e.owner} ${e.validTo}`).sort());
    expect(new Set(posted.map((p: PostedPart) => p.uid)).size).toBe(posted.length);
    // Every order ended as its hint says.
    const endOf = (label: string) => done.get([...done.keys()].find((id) => BigInt(id.split('-')[0]!) === scenario.orders.find((o) => o.label === label)!.createdAt)!);
    expect(endOf('expired')).toMatch(/^PollNever/);
    expect(endOf('invalid')).toMatch(/^OrderNotValid/);
    expect(endOf('cancelled')).toMatch(/^ProofNotAuthed/);
    expect(stats).toMatchObject({ orders: 8, posted: 22 });
    measured = { calls, moduleCalls: stats.calls, naive: naiveCalls(scenario, last) };
  });

  it('behavior: hints honoured: the eth_calls made are under 15% of what polling every order every block takes', () => {
    expect(measured, 'needs the scenario run of the test before').toBeDefined();
    const { calls, moduleCalls, naive } = measured!;
    expect(moduleCalls).toBe(calls); // the module's own count agrees with the engine's RPC accounting
    expect(calls).toBeGreaterThan(0);
    expect(calls / naive).toBeLessThan(0.15);
  });

  it('behavior: a reorg that removes an order\'s creation takes the order out of the module\'s state, and none of its parts is posted', async () => {
    const w = await setUp();
    const { cow } = w;
    await cow.client.request({ method: 'anvil_setBlockTimestampInterval', params: [BLOCK_SECONDS] } as never);
    await w.start();
    await cow.deposit(1, 10n ** 24n);
    const now = (await cow.client.getBlock()).timestamp;
    const twap = { sellToken: '0x000000000000000000000000000000000000c0de', buyToken: '0x000000000000000000000000000000000000beef', receiver: cow.owner(1), partSellAmount: 10n ** 18n, minPartLimit: 1n, t0: now + 5n * BLOCK_SECONDS_N, n: 3n, t: 60n, span: 0n, appData: `0x${'0'.repeat(64)}` } as const;
    const created = await cow.create(1, twap, `0x${'1'.padStart(64, '0')}`);
    await cow.mine();
    const head = await cow.mine();
    await w.reached(head);
    expect((await w.state()).stats.orders).toBe(1);

    // The last three blocks, the creation among them, are replaced by empty ones.
    await cow.client.request({ method: 'anvil_reorg', params: [3, []] } as never);
    const replaced = await cow.client.getBlock({ blockNumber: head });
    await w.engine.reached(MODULE, 31337, head, replaced.hash);
    const after = await w.state();
    expect(after.stats.orders).toBe(0);
    expect((await w.engine.entries(MODULE)).map(([k]) => new TextDecoder().decode(k)).filter((k) => k.startsWith('order/') || k.startsWith('due/'))).toEqual([]);

    // Past the order's start and through all its parts: nothing is posted for it.
    let last = head;
    for (let i = 0; i < 25; i++) last = await cow.mine();
    await w.reached(last);
    expect(created).toBeLessThanOrEqual(head);
    expect(w.orderBook.accepted).toEqual([]);
    expect((await w.state()).posted).toEqual([]);
  });

  it('behavior: the order book down for three blocks: the module retries, later each time, and posts the part once it is back; nothing is lost', async () => {
    const w = await setUp();
    const scenario = Scenario.standard(w.cow);
    await w.start();
    // The steady order's part 2 is due at tick 30; the order book is down for ticks 29–31.
    await scenario.run(0, 80, async (tick, block) => {
      if (tick === 29) w.orderBook.setDown(true);
      if (tick === 32) w.orderBook.setDown(false);
      await w.reached(block);
    });
    const last = scenario.start!.block + 79n;
    const expected = await scenario.expectedPosts(last);
    const { posted } = await w.state();
    const steady = scenario.orders.find((o) => o.label === 'steady')!;
    const part2 = expected.find((e) => e.label === 'steady' && e.part === 2)!;
    const late = posted.find((p) => p.createdAt === steady.createdAt && p.validTo === part2.validTo)!;
    expect(late, 'part 2 of the steady order was posted').toBeDefined();
    // Tried at tick 30 (down), retried at 31 (down), then 33 (1, then 2 blocks later): up again.
    expect(late.block - scenario.start!.block).toBe(33n);
    // Everything else as scheduled; every part (the late one included) accepted exactly once.
    expect(w.orderBook.duplicates).toBe(0);
    expect(w.orderBook.accepted.map((o) => `${o.owner} ${o.validTo}`).sort()).toEqual(expected.map((e) => `${e.owner} ${e.validTo}`).sort());
  });
});

const BLOCK_SECONDS_N = BigInt(BLOCK_SECONDS);
