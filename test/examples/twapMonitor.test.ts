import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeAbiParameters, pad, type Hex } from 'viem';
import { startAnvil, type Anvil } from '../../src/chain/embeddedAnvil.ts';
import { buildFixtures } from '../../fixtures/build.ts';
import { BLOCK_SECONDS, Scenario, type ExpectedPost } from '../../examples/twap-monitor/demo/scenario.ts';
import { checkSchedule, FUNDS_RETRY_BLOCKS, naiveCalls, type PostedPart } from '../../examples/twap-monitor/demo/view.ts';
import type { Twap } from '../../examples/twap-monitor/demo/composableCow.ts';
import { MODULE, twapWorld } from './twapHarness.ts';
import { loadSdk } from './twapSdk.ts';

// The chain (anvil) and the contracts are real, and so is the module (built from examples/twap-monitor
// and run by corral from the example's engine.toml). The order book is a local stand-in on loopback
// (demo/orderBook.ts): api.cow.fi is the one part that cannot run here.
// A fresh anvil per test: each scenario sets its own block timestamps, and one test reorganises the chain.
type World = Awaited<ReturnType<typeof twapWorld>>;
let anvil: Anvil | undefined;
let world: World | undefined;
beforeAll(() => buildFixtures(['ComposableCoW', 'DemoOnly', 'twap-monitor']));
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

const sdk = await loadSdk();
const RICH = 10n ** 24n;
const salt = (i: number) => pad(`0x${i.toString(16)}`, { size: 32 });
const twapOf = (w: World, owner: number, fields: Partial<Twap> & Pick<Twap, 't0' | 'n' | 't'>): Twap => ({
  sellToken: w.cow.token,
  buyToken: '0x000000000000000000000000000000000000beef',
  receiver: w.cow.owner(owner),
  partSellAmount: 10n ** 18n,
  minPartLimit: 1n,
  span: 0n,
  appData: `0x${'0'.repeat(64)}`,
  ...fields,
});
const ethCalls = (w: World) => w.engine.rpcStats().modules[MODULE]?.eth_call?.calls ?? 0;

describe('TWAP watcher (examples/twap-monitor) on the faithful stand-in: the demo scenario, 80 blocks, engine stopped and restarted mid-way', () => {
  // One run for the tests below (each asserts its own part of it); the chain stays up for the oracle's questions.
  let w: World;
  let chain: Anvil | undefined;
  let scenario: Scenario;
  let last: bigint;
  let calls = 0;
  let expected: ExpectedPost[];
  let state: Awaited<ReturnType<World['state']>>;
  type QueriedOrder = { id: string; owner: string; twap?: { t0: number; n: number; t: number; span: number }; nextPoll: { block?: number; time?: number; failures?: number } | null; posted: { validTo: number; uid: string; block: number }[] };
  const pages: QueriedOrder[][] = [];
  let midKeys: string[] = [];
  let midState: Awaited<ReturnType<World['state']>>;
  beforeAll(async () => {
    w = await setUp();
    chain = anvil!;
    world = undefined; // both kept until afterAll
    anvil = undefined;
    scenario = Scenario.standard(w.cow);
    await w.start();
    await scenario.run(0, 35, (_tick, block) => w.reached(block));
    calls += ethCalls(w);
    // Mid-run, orders are being watched: the module's `/orders` query, page by page, and its state as the engine reads it.
    let cursor: string | null = null;
    do {
      const result = await w.engine.query(MODULE, '/orders', [['limit', '3'], ...(cursor ? [['cursor', cursor] as const] : [])]);
      if (result.kind !== 'answer') throw new Error(`/orders: ${JSON.stringify(result)}`);
      const page = JSON.parse(result.answer) as { orders: QueriedOrder[]; next: string | null };
      pages.push(page.orders);
      cursor = page.next;
    } while (cursor);
    midKeys = (await w.engine.entries(MODULE)).map(([k]) => new TextDecoder().decode(k));
    midState = await w.state();
    await w.stop();
    // The chain moves on while the engine is down (a root replaced, parts due): it catches up on restart.
    await scenario.run(35, 50);
    await w.start();
    await scenario.run(50, 80, (_tick, block) => w.reached(block));
    last = scenario.start!.block + 79n;
    await w.reached(last);
    calls += ethCalls(w);
    expected = await scenario.expectedPosts(last);
    state = await w.state();
  });
  afterAll(async () => {
    await w?.close();
    await chain?.stop();
  });
  const label = (p: { id: string }) => scenario.orderOf(p.id)?.label;

  it('default: every part posted at the first block the contract returns it, none twice, across the restart; every shape present', async () => {
    const check = await checkSchedule({ scenario, engine: w.engine, module: MODULE }, last);
    expect({ missing: check.missing, late: check.late, extra: check.extra }).toEqual({ missing: [], late: [], extra: [] });
    // Each shape has parts due: t0 in the future, span > 0, t0 = 0 through createWithContext, cancelled
    // after two, funded late, created mid-run, Merkle leaves; the expired and the invalid have none.
    const due = (l: string) => expected.filter((e) => e.label === l).length;
    expect(Object.fromEntries(scenario.orders.map((o) => [o.label, due(o.label)]))).toEqual({
      future: 6, expired: 0, spanned: 4, cancelled: 2, 'at-mining': 5, 'funded-late': 3, invalid: 0, 'root-a': 4, 'root-b': 3, 'root-c': 3, late: 4,
    });
    // Only the funded-late order's first part waited for funds: refused while the owner had none, posted after.
    expect(expected.filter((e) => e.afterFunds).map((e) => `${e.label} ${e.part}`)).toEqual(['funded-late 0']);
    expect(w.orderBook.unfunded.length).toBeGreaterThan(0);
    expect(new Set(w.orderBook.unfunded.map((u) => u.owner))).toEqual(new Set([w.cow.owner(5)]));
    // The order book received each part exactly once: no DuplicatedOrder, no second uid.
    expect(w.orderBook.duplicates).toBe(0);
    expect(w.orderBook.accepted.map((o) => `${o.owner} ${o.validTo}`).sort()).toEqual(expected.map((e) => `${e.owner} ${e.validTo}`).sort());
    expect(new Set(state.posted.map((p: PostedPart) => p.uid)).size).toBe(state.posted.length);
    expect(state.stats).toMatchObject({ orders: 11, active: 0, posted: expected.length });
  });

  it("behavior: the module's `/orders` query answers from its state mid-run: every watched order, its next poll and parts posted, paged", async () => {
    const orders = pages.flat();
    expect(pages.length).toBeGreaterThan(1);
    expect(pages.slice(0, -1).every((p) => p.length === 3)).toBe(true);
    // Every order it watches (its `order/` key), each once, in id order: as many as the module counts active.
    const watched = midKeys.filter((k) => k.startsWith('order/')).map((k) => k.slice('order/'.length));
    expect(orders.map((o) => o.id)).toEqual(watched);
    expect(orders.length).toBe(midState.stats.active);
    expect(orders.length).toBeGreaterThan(0);
    for (const order of orders) {
      // Its one due key is the next poll the query reports.
      const due = midKeys.filter((k) => k.startsWith('due/') && k.endsWith(`/${order.id}`));
      expect(due, order.id).toHaveLength(1);
      const [, kind, at] = due[0]!.split('/');
      expect(order.nextPoll, order.id).toMatchObject(kind === 'b' ? { block: Number(at) } : { time: Number(at) });
      const posted = midState.posted.filter((p) => p.id === order.id).map((p) => ({ validTo: p.validTo, uid: p.uid, block: Number(p.block) }));
      expect(order.posted, order.id).toEqual(posted);
      expect(order.owner).toBe(w.cow.owner(scenario.orderOf(order.id)!.owner).toLowerCase());
    }
    expect(orders.some((o) => o.posted.length > 0)).toBe(true);
    expect(orders.some((o) => o.twap !== undefined)).toBe(true);
  });

  it('behavior: no order dropped before its end: after t0 + n·t, or once the owner revoked it; the invalid one at once', async () => {
    const ends = new Map<string, string>();
    for (const [id, why] of state.done) {
      const order = scenario.orderOf(id)!;
      const at = state.doneAt.get(id)!;
      const time = (await w.cow.client.getBlock({ blockNumber: at })).timestamp;
      ends.set(order.label, why.split(':')[0] === 'OrderNotValid' ? why : why.split(':')[0]!);
      if (why === 'OrderNotValid: after twap finish') expect(time, order.label).toBeGreaterThanOrEqual(order.start! + order.twap.n * order.twap.t);
      else if (why.startsWith('SingleOrderNotAuthed') || why.startsWith('ProofNotAuthed')) expect(at, order.label).toBeGreaterThanOrEqual(order.removedAt!);
      else expect(at, order.label).toBe(order.createdAt);
    }
    expect(Object.fromEntries(ends)).toEqual({
      future: 'OrderNotValid: after twap finish',
      expired: 'OrderNotValid: after twap finish',
      spanned: 'OrderNotValid: after twap finish',
      cancelled: 'SingleOrderNotAuthed',
      'at-mining': 'OrderNotValid: after twap finish',
      'funded-late': 'OrderNotValid: after twap finish',
      invalid: 'OrderNotValid: invalid num parts',
      'root-a': 'OrderNotValid: after twap finish',
      'root-b': 'ProofNotAuthed',
      'root-c': 'OrderNotValid: after twap finish',
      late: 'OrderNotValid: after twap finish',
    });
  });

  it('behavior: a Merkle root of three TWAPs: every part posted with its proof; a new root without one stops it, the two kept go on', () => {
    const rerooted = scenario.orders.find((o) => o.label === 'root-b')!.removedAt!;
    const byLabel = (l: string) => state.posted.filter((p) => label(p) === l);
    expect(byLabel('root-a')).toHaveLength(4);
    expect(byLabel('root-c')).toHaveLength(3);
    expect(byLabel('root-a').some((p) => p.block > rerooted)).toBe(true); // kept across the new root, with its new proof
    expect(byLabel('root-b').length).toBeGreaterThan(0);
    expect(byLabel('root-b').every((p) => p.block < rerooted)).toBe(true);
    // root-b had parts left: the contract would have returned them under the old root.
    expect(scenario.orders.find((o) => o.label === 'root-b')!.twap.n).toBeGreaterThan(BigInt(byLabel('root-b').length));
  });

  it('behavior: the schedule costs under 10% of the eth_calls of polling every order every block; the module\'s count agrees with the engine\'s', () => {
    expect(state.stats.calls).toBe(calls);
    expect(calls).toBeGreaterThan(0);
    expect(calls / naiveCalls(scenario, last)).toBeLessThan(0.1);
  });

  it('behavior: the schedule agrees with the public SDK\'s TWAP encoding and validation (@cowprotocol/sdk-composable) at every block', async () => {
    const { composable, ViemAdapter } = sdk;
    const adapter = new ViemAdapter({ provider: w.cow.client });
    const times = new Map<bigint, number>();
    for (let b = scenario.start!.block; b <= last; b++) times.set(b, Number((await w.cow.client.getBlock({ blockNumber: b })).timestamp));
    const disagreements: string[] = [];
    const verdicts = new Map<string, number>();
    for (const order of scenario.orders) {
      // The SDK's encoding of the same TWAP is byte for byte what was created on chain, and its id is ComposableCoW.hash.
      const twap = new composable.Twap({ handler: composable.TWAP_ADDRESS, salt: order.salt, data: composable.transformStructToData({ ...order.twap }) }, adapter);
      expect(twap.serialize(), order.label).toBe(encodeAbiParameters([{ type: 'tuple', components: [{ name: 'handler', type: 'address' }, { name: 'salt', type: 'bytes32' }, { name: 'staticInput', type: 'bytes' }] }], [order.params!]));
      const owner = w.cow.owner(order.owner);
      const posted = state.posted.filter((p) => scenario.orderOf(p.id) === order);
      const doneAt = [...state.doneAt].find(([id]) => scenario.orderOf(id) === order)?.[1];
      const valid = twap.isValid();
      let sdkDoneAt: bigint | undefined;
      for (let b = order.createdAt!; b <= last; b++) {
        const blockInfo = { blockNumber: Number(b), blockTimestamp: times.get(b)! };
        // chainId 1: the SDK looks the contracts up by chain, and the stand-ins sit at mainnet's addresses.
        const verdict = valid.isValid ? await twap.pollValidate({ owner, chainId: 1, provider: w.cow.client, blockInfo }) : { result: 'DONT_TRY_AGAIN' as const, reason: valid.reason };
        verdicts.set(verdict?.result ?? 'poll', (verdicts.get(verdict?.result ?? 'poll') ?? 0) + 1);
        const here = posted.find((p) => p.block === b);
        const say = (what: string) => disagreements.push(`${order.label} at block +${b - scenario.start!.block}: ${what} (SDK: ${verdict?.result ?? 'poll'}${verdict ? `, ${verdict.reason}` : ''})`);
        if (verdict?.result === 'UNEXPECTED_ERROR') say('the SDK failed');
        if (verdict?.result === 'DONT_TRY_AGAIN') sdkDoneAt ??= b;
        if (here && verdict) say('posted where the SDK says not to poll');
        // Where the SDK says to poll, a part the contract returns and the module has not posted yet is
        // posted now (unless the order book wants funds first); one it posted before is, for the SDK,
        // "already in the order book": wait for the next part, as the module does.
        if (!verdict && !here && order.removedAt === undefined) {
          const answer = await w.cow.tradeable(owner, order.params!, order.proofs?.findLast((p) => p.since <= b)?.proof ?? [], b);
          if ('validTo' in answer) {
            const before = posted.find((p) => p.validTo === answer.validTo && p.block < b);
            if (before) {
              const next = await twap.handlePollFailedAlreadyPresent('0x', {}, { owner, chainId: 1, provider: w.cow.client, blockInfo });
              if (next?.result === 'TRY_AT_EPOCH' && next.epoch! <= blockInfo.blockTimestamp) say('a part posted before, where the SDK wants its next');
            } else if ((await w.cow.balanceOf(owner, b)) >= order.twap.partSellAmount) {
              // A part the order book refused for funds is asked for again with backoff: posted soon after, not at once.
              const refused = w.orderBook.unfunded.some((u) => u.owner === owner && u.validTo === answer.validTo);
              const after = posted.find((p) => p.validTo === answer.validTo && p.block > b && p.block <= b + BigInt(FUNDS_RETRY_BLOCKS));
              if (!(refused && after)) say('a tradeable part the SDK would post was not posted');
            }
          }
        }
      }
      // The module drops an order no earlier than the SDK gives up on it (the SDK ends a span order at its last span; the module at t0 + n·t).
      if (doneAt !== undefined && order.removedAt === undefined && sdkDoneAt !== undefined) expect(doneAt, order.label).toBeGreaterThanOrEqual(sdkDoneAt);
      if (sdkDoneAt === undefined && order.removedAt === undefined) expect(doneAt, `${order.label}: the SDK still polls it`).toBeUndefined();
    }
    expect(disagreements).toEqual([]);
    // Every verdict occurred, over every (order, block) of the run.
    expect([...verdicts.keys()].sort()).toEqual(['DONT_TRY_AGAIN', 'TRY_AT_EPOCH', 'poll']);
    expect([...verdicts.values()].reduce((a, b) => a + b)).toBe(naiveCalls(scenario, last));
  });
});

describe('TWAP watcher (examples/twap-monitor)', () => {
  it('behavior: a handler reverting with a custom error the module does not know: asked again later, with backoff, not dropped, and no other order waits for it', async () => {
    const w = await setUp();
    const { cow } = w;
    await cow.client.request({ method: 'anvil_setBlockTimestampInterval', params: [BLOCK_SECONDS] } as never);
    await cow.fund(1, RICH);
    await w.start();
    const now = (await cow.client.getBlock()).timestamp;
    const flaky = { handler: cow.flaky, salt: salt(1), staticInput: encodeAbiParameters([{ type: 'address' }, { type: 'address' }, { type: 'uint256' }, { type: 'uint32' }], [cow.token, '0x000000000000000000000000000000000000beef', 1n, Number(now) + 3_600]) };
    const flakyAt = await cow.createParams(1, flaky);
    // A TWAP beside it, one part every 2 blocks from the next block.
    const twap = twapOf(w, 1, { t0: now + 3n * BigInt(BLOCK_SECONDS), n: 6n, t: 2n * BigInt(BLOCK_SECONDS) });
    const twapAt = await cow.create(1, twap, salt(2));
    const twapParts: { validTo: number; due: bigint }[] = [];
    let head = twapAt;
    for (let i = 0; i < 14; i++) {
      // The oracle: where the contract first returns each part.
      const answer = await cow.tradeable(cow.owner(1), cow.params(twap, salt(2)).params, [], head);
      if ('validTo' in answer && !twapParts.some((p) => p.validTo === answer.validTo)) twapParts.push({ validTo: answer.validTo, due: head });
      head = await cow.mine();
      await w.reached(head);
    }
    const { posted, done } = await w.state();
    const keys = (await w.engine.entries(MODULE)).map(([k]) => new TextDecoder().decode(k));
    expect(keys.some((k) => k.startsWith(`order/${String(flakyAt).padStart(12, '0')}-`)), 'the flaky order is still watched').toBe(true);
    expect([...done.keys()].filter((id) => BigInt(id.split('-')[0]!) === flakyAt)).toEqual([]);
    // Asked at its creation and then 1, 2, 4, 8 blocks later: 4 or 5 times in 16 blocks, not 16.
    const askedFlaky = (await w.state()).stats.calls - posted.length;
    expect(askedFlaky).toBeGreaterThanOrEqual(4);
    expect(askedFlaky).toBeLessThanOrEqual(5);
    // Every TWAP part at the block the contract first returned it.
    const twapPosted = posted.filter((p) => p.createdAt === twapAt).map((p) => `${p.validTo}@${p.block}`);
    expect(twapPosted).toEqual(twapParts.map((p) => `${p.validTo}@${p.due}`));
    expect(twapParts.length).toBeGreaterThanOrEqual(5);

    // The handler recovers: its order is posted at the next retry (at most 16 blocks on).
    const recovered = await cow.setFlakyDown(false);
    for (let i = 0; i < 16; i++) await w.reached((head = await cow.mine()));
    const flakyPart = (await w.state()).posted.find((p) => p.createdAt === flakyAt);
    expect(flakyPart, 'the flaky order\'s part').toBeDefined();
    expect(flakyPart!.block).toBeGreaterThanOrEqual(recovered);
    expect(flakyPart!.block).toBeLessThanOrEqual(recovered + 16n);
  });

  it('error: `/orders` with a limit out of range is an `invalid-input` fault and another path `not-found`, the module\'s own (Fault.toWit(): an Error thrown from `query` traps)', async () => {
    const w = await setUp();
    await w.start();
    expect(await w.engine.query(MODULE, '/orders', [['limit', '0']])).toMatchObject({ kind: 'fault', fault: { tag: 'invalid-input' } });
    expect(await w.engine.query(MODULE, '/nope', [])).toMatchObject({ kind: 'fault', fault: { tag: 'not-found' } });
    expect(await w.engine.query(MODULE, '/orders', [])).toMatchObject({ kind: 'answer', answer: JSON.stringify({ orders: [], next: null }) });
  });

  it('behavior: a reorg that removes an order\'s creation takes the order out of the module\'s state, and none of its parts is posted', async () => {
    const w = await setUp();
    const { cow } = w;
    await cow.client.request({ method: 'anvil_setBlockTimestampInterval', params: [BLOCK_SECONDS] } as never);
    await w.start();
    await cow.fund(1, RICH);
    const now = (await cow.client.getBlock()).timestamp;
    const created = await cow.create(1, twapOf(w, 1, { t0: now + 5n * BigInt(BLOCK_SECONDS), n: 3n, t: 60n }), salt(1));
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
    // The future order's part 2 is due at tick 30; the order book is down for ticks 29–31.
    await scenario.run(0, 80, async (tick, block) => {
      if (tick === 29) w.orderBook.setDown(true);
      if (tick === 32) w.orderBook.setDown(false);
      await w.reached(block);
    });
    const last = scenario.start!.block + 79n;
    const expected = await scenario.expectedPosts(last);
    const { posted } = await w.state();
    const part2 = expected.find((e) => e.label === 'future' && e.part === 2)!;
    const late = posted.find((p) => scenario.orderOf(p.id)?.label === 'future' && p.validTo === part2.validTo)!;
    expect(late, 'part 2 of the future order was posted').toBeDefined();
    // Tried at tick 30 (down), retried 12 s later at 31 (down), then 24 s later at 33: up again.
    expect(late.block - scenario.start!.block).toBe(33n);
    // Everything else posted; every part (the late one included) accepted exactly once.
    expect(w.orderBook.duplicates).toBe(0);
    expect(w.orderBook.accepted.map((o) => `${o.owner} ${o.validTo}`).sort()).toEqual(expected.map((e) => `${e.owner} ${e.validTo}`).sort());
  });

  it('behavior: more orders due than maxPollsPerBlock wait for the next blocks (none lost, none twice); a static input that is no TWAP is done at once; DuplicatedOrder counts as posted', async () => {
    const w = await setUp();
    const { cow } = w;
    await cow.client.request({ method: 'anvil_setBlockTimestampInterval', params: [BLOCK_SECONDS] } as never);
    await cow.fund(1, RICH);
    await w.start({ maxPollsPerBlock: 2 });
    const now = (await cow.client.getBlock()).timestamp;
    const twap = twapOf(w, 1, { t0: now, n: 2n, t: 3_600n });
    // Six orders tradeable at once, and one whose static input is not a TWAP (never asked about).
    const orders = [1, 2, 3, 4, 5, 6].map((i) => ({ owner: 1, twap, salt: salt(i) }));
    w.orderBook.claimDuplicates(1); // the first part posted was already there
    const [created] = await cow.createMany([...orders, { owner: 1, twap, salt: salt(7), staticInput: '0x1234' as Hex }]);
    await w.reached(created!);
    const perBlock: number[] = [];
    for (let i = 0; i < 6; i++) {
      const before = ethCalls(w);
      await w.reached(await cow.mine());
      perBlock.push(ethCalls(w) - before);
    }
    const { stats, posted, done } = await w.state();
    expect(Math.max(...perBlock)).toBeLessThanOrEqual(2);
    expect(stats).toMatchObject({ orders: 7, posted: 6, calls: 6 }); // each TWAP asked once: 2 + 2 + 2
    expect(posted).toHaveLength(6);
    expect(posted.filter((p) => p.uid === 'duplicate')).toHaveLength(1);
    expect(w.orderBook.posts).toBe(6); // the duplicate was not retried
    expect(w.orderBook.accepted).toHaveLength(5);
    expect([...done.values()]).toEqual(['OrderNotValid: static input is not a TWAP']);
  });
});
