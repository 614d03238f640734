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

describe('TWAP watcher (examples/twap-monitor): the demo scenario, 80 blocks, engine stopped and restarted mid-way', () => {
  let run: {
    scenario: Scenario;
    expected: Awaited<ReturnType<Scenario['expectedPosts']>>;
    state: Awaited<ReturnType<Awaited<ReturnType<typeof twapWorld>>['state']>>;
    accepted: string[];
    duplicates: number;
    calls: number;
    last: bigint;
  };
  // One run for the two tests below; each asserts its own part of it.
  beforeAll(async () => {
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
    run = {
      scenario,
      expected: await scenario.expectedPosts(last),
      state: await w.state(),
      accepted: w.orderBook.accepted.map((o) => `${o.owner} ${o.validTo}`).sort(),
      duplicates: w.orderBook.duplicates,
      calls,
      last,
    };
    await w.close();
    await anvil?.stop();
    world = undefined;
    anvil = undefined;
  });

  it('default: every part posted at its first tradeable block, and only then, none twice across the restart', () => {
    const { scenario, expected, state } = run;
    const createdAt = (label: string) => scenario.orders.find((o) => o.label === label)!.createdAt!;
    expect(asSchedule(scenario, state.posted)).toEqual(asSchedule(scenario, expected.map((e) => ({ ...e, createdAt: createdAt(e.label) }))));
    expect(expected).toHaveLength(22);
    // The order book received each of those parts exactly once: no DuplicatedOrder, no second uid.
    expect(run.duplicates).toBe(0);
    expect(run.accepted).toEqual(expected.map((e) => `${e.owner} ${e.validTo}`).sort());
    expect(new Set(state.posted.map((p: PostedPart) => p.uid)).size).toBe(state.posted.length);
    // Every order ended as its hint says.
    const endOf = (label: string) => state.done.get([...state.done.keys()].find((id) => BigInt(id.split('-')[0]!) === createdAt(label))!);
    expect(endOf('expired')).toMatch(/^PollNever/);
    expect(endOf('invalid')).toMatch(/^OrderNotValid/);
    expect(endOf('cancelled')).toMatch(/^ProofNotAuthed/);
    expect(state.stats).toMatchObject({ orders: 8, posted: 22 });
  });

  it('behavior: hints honoured: the eth_calls made are under 15% of what polling every order every block takes', () => {
    const naive = naiveCalls(run.scenario, run.last);
    expect(run.state.stats.calls).toBe(run.calls); // the module's own count agrees with the engine's RPC accounting
    expect(run.calls).toBeGreaterThan(0);
    expect(run.calls / naive).toBeLessThan(0.15);
  });
});

describe('TWAP watcher (examples/twap-monitor)', () => {
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
    expect(created).toBeGreaterThan(head - 3n); // the reorg did take the creation's block
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

  it('behavior: more orders due than maxPollsPerBlock wait for the next blocks (none lost, none twice); a revert it does not know drops the order; DuplicatedOrder counts as posted', async () => {
    const w = await setUp();
    const { cow } = w;
    await cow.client.request({ method: 'anvil_setBlockTimestampInterval', params: [BLOCK_SECONDS] } as never);
    await w.start({ maxPollsPerBlock: 2 });
    await cow.deposit(1, 10n ** 24n);
    const now = (await cow.client.getBlock()).timestamp;
    const twap = { sellToken: '0x000000000000000000000000000000000000c0de', buyToken: '0x000000000000000000000000000000000000beef', receiver: cow.owner(1), partSellAmount: 10n ** 18n, minPartLimit: 1n, t0: now, n: 2n, t: 3_600n, span: 0n, appData: `0x${'0'.repeat(64)}` } as const;
    const salt = (i: number) => `0x${String(i).padStart(64, '0')}` as const;
    // Six orders tradeable at once, and one whose static input is not a TWAP (the contract reverts with no data).
    const orders = [1, 2, 3, 4, 5, 6].map((i) => ({ owner: 1, twap, salt: salt(i) }));
    w.orderBook.claimDuplicates(1); // the first part posted was already there
    const [created] = await cow.createMany([...orders, { owner: 1, twap, salt: salt(7), staticInput: '0x1234' }]);
    await w.reached(created!);
    const perBlock: number[] = [];
    for (let i = 0; i < 6; i++) {
      const before = w.engine.rpcStats().modules[MODULE]?.eth_call?.calls ?? 0;
      await w.reached(await cow.mine());
      perBlock.push((w.engine.rpcStats().modules[MODULE]?.eth_call?.calls ?? 0) - before);
    }
    const { stats, posted, done } = await w.state();
    expect(Math.max(...perBlock)).toBeLessThanOrEqual(2);
    expect(stats).toMatchObject({ orders: 7, posted: 6, calls: 7 }); // each order asked once: 2 + 2 + 2 + 1
    expect(posted).toHaveLength(6);
    expect(posted.filter((p) => p.uid === 'duplicate')).toHaveLength(1);
    expect(w.orderBook.posts).toBe(6); // the duplicate was not retried
    expect(w.orderBook.accepted).toHaveLength(5);
    expect([...done.values()]).toEqual([expect.stringMatching(/^Reverted/)]);
  });
});

const BLOCK_SECONDS_N = BigInt(BLOCK_SECONDS);
