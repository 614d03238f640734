/**
 * The TWAP watcher (examples/twap-monitor) on a chain with 1,000 TWAP orders on the stand-in contracts,
 * the scenario's shapes mixed in (t0 in the future, span > 0, t0 = 0 through createWithContext,
 * expired, cancelled mid-run, an owner funded late): per-block processing time and eth_calls per
 * block, beside a naive poller that asks the contract about every order at every block (what a watcher
 * without a schedule does), measured on the same blocks in the same run. The naive poller only calls;
 * its answers are the oracle: each part is due at the first block the contract returns it (for the
 * owner funded late, the first block after the funds), and the module's posts are checked against it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { encodeFunctionData, pad, toHex, type Hex } from 'viem';
import { buildFixtures } from '../fixtures/build.ts';
import { loadConfig } from '../src/config/loadConfig.ts';
import { startConfigured } from '../src/app/startConfigured.ts';
import { startAnvil } from '../src/chain/embeddedAnvil.ts';
import type { InvocationRecord } from '../src/engine/Engine.ts';
import { deployComposableCow, type Twap } from '../examples/twap-monitor/demo/composableCow.ts';
import { startOrderBook } from '../examples/twap-monitor/demo/orderBook.ts';
import { monitorState } from '../examples/twap-monitor/demo/view.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;
const ORDERS = 1_000;
const BLOCKS = 60;
const MODULE = 'twap-monitor';
/** The owner funded late (its token arrives at this block of the run) and the block of the run at which every 20th order is cancelled. */
const LATE_OWNER = 9;
const FUNDED_AT = 30;
const CANCEL_AT = 20;
const example = (path: string) => fileURLToPath(new URL(`../examples/twap-monitor/${path}`, import.meta.url));

/**
 * The TWAP scenario's chain before the run: anvil with the stand-in contracts, the order book, the
 * owners funded, the 1,000 orders (not yet created) and the example's engine.toml set up for them.
 * benchmarks/rpcCache.ts runs two watchers on it. The caller stops `anvil` (and `orderBook`).
 */
export async function setupTwap() {
  await buildFixtures(['ComposableCoW', 'DemoOnly', 'twap-monitor']);
  const anvil = await startAnvil();
  const cow = await deployComposableCow(anvil.url);
  const orderBook = await startOrderBook({ balanceOf: (owner) => cow.balanceOf(owner as `0x${string}`) });
  await cow.client.request({ method: 'anvil_setBlockTimestampInterval', params: [12] } as never);
  for (let owner = 1; owner < 10; owner++) if (owner !== LATE_OWNER) await cow.fund(owner, 10n ** 30n);
  const now = (await cow.client.getBlock()).timestamp;
  // Long TWAPs (50 parts) with parts every 10 to 39 blocks, starting over the next 20 blocks, about
  // 40 parts due per block; one in ten each: t0 = 0 (createWithContext), span a third of t, expired.
  const orders = Array.from({ length: ORDERS }, (_, i) => {
    const owner = 1 + (i % 9);
    const t = BigInt(12 * (10 + (i % 30)));
    const shape = i % 10 === 0 ? 'context' : i % 10 === 1 ? 'span' : i % 10 === 2 ? 'expired' : 'future';
    const twap: Twap = {
      sellToken: cow.token,
      buyToken: '0x000000000000000000000000000000000000beef',
      receiver: cow.owner(owner),
      partSellAmount: 10n ** 18n,
      minPartLimit: 1n,
      t0: shape === 'context' ? 0n : shape === 'expired' ? now - 864_000n : now + BigInt(12 * (i % 20)),
      n: 50n,
      t,
      span: shape === 'span' ? t / 3n : 0n,
      appData: pad('0x0b', { size: 32 }),
    };
    return { owner, twap, salt: pad(toHex(i + 1), { size: 32 }) as Hex, withContext: shape === 'context', cancel: i % 20 === 5 };
  });

  const env = { TWAP_STATE_DIR: mkdtempSync(join(tmpdir(), 'corral-bench-twap-')), TWAP_RPC_URL: anvil.wsUrl, TWAP_ORDERBOOK_URL: orderBook.url, COMPOSABLE_COW: cow.address };
  const { config } = await loadConfig(example('engine.toml'), env);
  // Setup blocks carry ~200 new orders each (about 20 M fuel apiece): room for them, here only.
  const module = config.modules[0]!;
  module.limits = { ...module.limits, fuel: 50_000_000_000, timeoutMs: 120_000 };
  module.caps = { ...module.caps, storeOps: 1_000_000, storeBytesWritten: 100_000_000, logRecords: 100_000, logBytes: 100_000_000, httpFetches: 10_000, chainRequests: 10_000 };
  module.config = JSON.stringify({ composableCow: cow.address, maxPollsPerBlock: ORDERS });
  return { anvil, cow, orderBook, orders, config };
}

export async function benchTwap(row: Row): Promise<Record<string, unknown>> {
  const { anvil, cow, orderBook, orders, config } = await setupTwap();
  try {
    const corral = await startConfigured(config, { logger: pino({ level: 'silent' }) });
    const { engine } = corral;
    const setupStarted = performance.now();
    const created = await cow.createMany(orders);
    await engine.reached(MODULE, 31337, created.at(-1)!);
    const setupMs = performance.now() - setupStarted;

    const calldata = orders.map((o) =>
      encodeFunctionData({ abi: cow.abi, functionName: 'getTradeableOrderWithSignature', args: [cow.owner(o.owner), cow.params(o.twap, o.salt).params, '0x', []] }),
    );
    const invocations: InvocationRecord[] = [];
    engine.invocations$.subscribe((i) => invocations.push(i));
    const corralMs: number[] = [];
    const corralCalls: number[] = [];
    const naiveMs: number[] = [];
    const posted: number[] = [];
    const stuck: string[] = [];
    /** The oracle: `<order> <validTo>` → the block it is due (first returned, with the owner funded). */
    const due = new Map<string, bigint>();
    let fundedFrom: bigint | undefined;
    const askAll = async (block: bigint) => {
      const tag = `0x${block.toString(16)}`;
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < calldata.length) {
            const index = next++;
            const result = (await cow.client.request({ method: 'eth_call', params: [{ to: cow.address, data: calldata[index]! }, tag] } as never).catch(() => undefined)) as Hex | undefined;
            if (!result) continue;
            const key = `${index} ${Number.parseInt(result.slice(2 + 5 * 64, 2 + 6 * 64), 16)}`;
            const funded = orders[index]!.owner !== LATE_OWNER || fundedFrom !== undefined;
            if (funded && !due.has(key)) due.set(key, block);
          }
        }),
      );
    };
    // The oracle over the setup's blocks too: parts due as the orders are created are posted then.
    for (let b = created[0]!; b <= created.at(-1)!; b++) await askAll(b);
    for (let i = 0; i < BLOCKS; i++) {
      const callsBefore = engine.rpcStats().modules[MODULE]?.eth_call?.calls ?? 0;
      const postedBefore = orderBook.accepted.length;
      const seen = invocations.length;
      // The run's events are blocks of their own (automine): a cancellation of every 20th order, the late owner's funds.
      const block =
        i === CANCEL_AT
          ? (await cow.removeMany(orders.filter((o) => o.cancel).map((o) => ({ owner: o.owner, hash: cow.params(o.twap, o.salt).hash })))).at(-1)!
          : i === FUNDED_AT
            ? (fundedFrom = await cow.fund(LATE_OWNER, 10n ** 30n))
            : await cow.mine();
      await engine.reached(MODULE, 31337, block);
      const step = invocations.slice(seen);
      if (step.some((s) => s.outcome !== 'ok')) stuck.push(`${block}: ${step.map((s) => s.outcome).join(',')}`);
      corralMs.push(step.reduce((sum, s) => sum + s.durationMs, 0));
      corralCalls.push((engine.rpcStats().modules[MODULE]?.eth_call?.calls ?? 0) - callsBefore);
      posted.push(orderBook.accepted.length - postedBefore);
      // The naive poller on the same block: every order, 16 requests in flight.
      const t0 = performance.now();
      await askAll(block);
      naiveMs.push(performance.now() - t0);
    }
    // What the module posted, by order (its ids are the creating logs' block and index).
    const logs = await cow.client.getContractEvents({ address: cow.address, abi: cow.abi, eventName: 'ConditionalOrderCreated', fromBlock: created[0]!, toBlock: created.at(-1)! });
    const orderOfId = new Map(logs.map((l) => [`${String(l.blockNumber).padStart(12, '0')}-${String(l.logIndex).padStart(5, '0')}`, Number(BigInt((l.args as { params: { salt: Hex } }).params.salt)) - 1]));
    const { posted: parts } = await monitorState(engine, MODULE);
    await corral.stop();
    await orderBook.close();
    const got = new Map(parts.map((p) => [`${orderOfId.get(p.id)} ${p.validTo}`, p.block]));
    let onTime = 0;
    let afterFunds = 0;
    const missed: string[] = [];
    for (const [key, block] of due) {
      const at = got.get(key);
      const late = orders[Number(key.split(' ')[0])]!.owner === LATE_OWNER && block === fundedFrom;
      if (at === block) onTime++;
      else if (late && at !== undefined && at <= block + 16n) afterFunds++;
      else missed.push(`${key}: due ${block}, posted ${at ?? 'never'}`);
    }
    const extra = [...got.keys()].filter((k) => !due.has(k)).length;
    const c = summarize(corralMs);
    const n = summarize(naiveMs);
    const calls = summarize(corralCalls);
    const perBlock = summarize(posted);
    const total = corralCalls.reduce((a, b) => a + b, 0);
    row('twap: 1,000 orders of every shape, corral module per block (p50 / p99)', `${c.p50.toFixed(1)} ms / ${c.p99.toFixed(1)} ms`);
    row('twap: naive poller per block, same blocks (p50 / p99)', `${n.p50.toFixed(1)} ms / ${n.p99.toFixed(1)} ms`);
    row('twap: eth_calls per block, corral (p50 / p99, mean) vs naive', `${calls.p50} / ${calls.p99}, ${(total / BLOCKS).toFixed(1)} vs ${ORDERS}`);
    row('twap: parts posted per block (p50 / p99)', `${perBlock.p50} / ${perBlock.p99}`);
    row(
      'twap: parts posted on their due block (the contract as oracle)',
      `${onTime} / ${due.size - afterFunds} (${((100 * onTime) / Math.max(1, due.size - afterFunds)).toFixed(1)} %); ${afterFunds} refused for funds posted within 16 blocks of them; ${extra} not due`,
      '100 %',
      missed.length === 0 && extra === 0,
    );
    if (missed.length > 0) row('twap: parts not posted on their due block', missed.slice(0, 5).join('; '), 'none', false);
    row('twap: setup, 1,000 orders created and recorded', `${(setupMs / 1000).toFixed(1)} s`);
    if (stuck.length > 0) row('twap: steps that did not end ok', stuck.join('; '), 'none', false);
    return { orders: ORDERS, blocks: BLOCKS, corralMs: c, naiveMs: n, corralCalls: calls, naiveCalls: ORDERS, posted: perBlock, due: due.size, onTime, afterFunds, missed: missed.length, extra, setupMs, stuck };
  } finally {
    await anvil.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const results = await benchTwap((name, value, target, ok) => console.log(`${ok === false ? '✗' : ' '} ${name}: ${value}${target ? ` (target ${target})` : ''}`));
  console.log(JSON.stringify(results));
}
