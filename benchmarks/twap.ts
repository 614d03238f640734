/**
 * The TWAP watcher (examples/twap-monitor) on a chain with 1,000 active TWAP orders: per-block
 * processing time and eth_calls per block, beside a naive poller that asks the contract about every
 * order at every block (what a watcher that ignores the poll hints does), measured on the same
 * blocks in the same run. The naive poller only calls; it posts nothing.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { encodeFunctionData, pad, toHex, type Abi, type Hex } from 'viem';
import { buildFixtures } from '../fixtures/build.ts';
import { loadConfig } from '../src/config/loadConfig.ts';
import { startConfigured } from '../src/config/startConfigured.ts';
import { startAnvil } from '../src/chain/embeddedAnvil.ts';
import type { InvocationRecord } from '../src/engine/Engine.ts';
import { deployComposableCow, type Twap } from '../examples/twap-monitor/demo/composableCow.ts';
import { startOrderBook } from '../examples/twap-monitor/demo/orderBook.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;
const ORDERS = 1_000;
const BLOCKS = 60;
const MODULE = 'twap-monitor';
const example = (path: string) => fileURLToPath(new URL(`../examples/twap-monitor/${path}`, import.meta.url));

export async function benchTwap(row: Row): Promise<Record<string, unknown>> {
  await buildFixtures(['ComposableCoW', 'twap-monitor']);
  const anvil = await startAnvil();
  const orderBook = await startOrderBook();
  try {
    const cow = await deployComposableCow(anvil.url);
    await cow.client.request({ method: 'anvil_setBlockTimestampInterval', params: [12] } as never);
    for (let owner = 1; owner < 10; owner++) await cow.deposit(owner, 10n ** 30n);
    const now = (await cow.client.getBlock()).timestamp;
    // Long TWAPs (50 parts) with parts every 10 to 39 blocks, starting over the next 20 blocks: all
    // active for the whole run, about 40 parts due per block.
    const orders = Array.from({ length: ORDERS }, (_, i) => {
      const owner = 1 + (i % 9);
      const twap: Twap = {
        sellToken: '0x000000000000000000000000000000000000c0de',
        buyToken: '0x000000000000000000000000000000000000beef',
        receiver: cow.owner(owner),
        partSellAmount: 10n ** 18n,
        minPartLimit: 1n,
        t0: now + BigInt(12 * (i % 20)),
        n: 50n,
        t: BigInt(12 * (10 + (i % 30))),
        span: 0n,
        appData: pad('0x0b', { size: 32 }),
      };
      return { owner, twap, salt: pad(toHex(i + 1), { size: 32 }) as Hex };
    });

    const env = { TWAP_STATE_DIR: mkdtempSync(join(tmpdir(), 'corral-bench-twap-')), TWAP_RPC_URL: anvil.wsUrl, TWAP_ORDERBOOK_URL: orderBook.url, COMPOSABLE_COW: cow.address };
    const { config } = await loadConfig(example('engine.toml'), env);
    // Setup blocks carry ~200 new orders each (about 20 M fuel apiece): room for them, here only.
    const module = config.modules[0]!;
    module.limits = { ...module.limits, fuel: 50_000_000_000, timeoutMs: 120_000 };
    module.caps = { ...module.caps, storeOps: 1_000_000, storeBytesWritten: 100_000_000, logRecords: 100_000, logBytes: 100_000_000, httpFetches: 10_000, chainRequests: 10_000 };
    module.config = JSON.stringify({ composableCow: cow.address, maxPollsPerBlock: ORDERS });
    const corral = await startConfigured(config, { logger: pino({ level: 'silent' }) });
    const { engine } = corral;
    const setupStarted = performance.now();
    const created = await cow.createMany(orders);
    await engine.reached(MODULE, 31337, created.at(-1)!);
    const setupMs = performance.now() - setupStarted;

    const artifact = JSON.parse(readFileSync(example('build/ComposableCoW.json'), 'utf8')) as { abi: Abi };
    const calldata = orders.map((o) =>
      encodeFunctionData({ abi: artifact.abi, functionName: 'getTradeableOrderWithSignature', args: [cow.owner(o.owner), cow.params(o.twap, o.salt).params, '0x', []] }),
    );
    const invocations: InvocationRecord[] = [];
    engine.invocations$.subscribe((i) => invocations.push(i));
    const corralMs: number[] = [];
    const corralCalls: number[] = [];
    const naiveMs: number[] = [];
    const posted: number[] = [];
    const stuck: string[] = [];
    for (let i = 0; i < BLOCKS; i++) {
      const callsBefore = engine.rpcStats().modules[MODULE]?.eth_call?.calls ?? 0;
      const postedBefore = orderBook.accepted.length;
      const seen = invocations.length;
      const block = await cow.mine();
      await engine.reached(MODULE, 31337, block);
      const step = invocations.slice(seen);
      if (step.some((s) => s.outcome !== 'ok')) stuck.push(`${block}: ${step.map((s) => s.outcome).join(',')}`);
      corralMs.push(step.reduce((sum, s) => sum + s.durationMs, 0));
      corralCalls.push((engine.rpcStats().modules[MODULE]?.eth_call?.calls ?? 0) - callsBefore);
      posted.push(orderBook.accepted.length - postedBefore);
      // The naive poller on the same block: every order, 16 requests in flight.
      const tag = `0x${block.toString(16)}`;
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < calldata.length) {
            const data = calldata[next++]!;
            await cow.client.request({ method: 'eth_call', params: [{ to: cow.address, data }, tag] } as never).catch(() => undefined);
          }
        }),
      );
      naiveMs.push(performance.now() - t0);
    }
    await corral.stop();
    const c = summarize(corralMs);
    const n = summarize(naiveMs);
    const calls = summarize(corralCalls);
    const parts = summarize(posted);
    row('twap: 1,000 orders, corral module per block (p50 / p99)', `${c.p50.toFixed(1)} ms / ${c.p99.toFixed(1)} ms`);
    row('twap: naive poller per block, same blocks (p50 / p99)', `${n.p50.toFixed(1)} ms / ${n.p99.toFixed(1)} ms`);
    row('twap: eth_calls per block, corral (p50 / p99) vs naive', `${calls.p50} / ${calls.p99} vs ${ORDERS}`);
    row('twap: parts posted per block (p50 / p99)', `${parts.p50} / ${parts.p99}`);
    row('twap: setup, 1,000 orders created and recorded', `${(setupMs / 1000).toFixed(1)} s`);
    if (stuck.length > 0) row('twap: steps that did not end ok', stuck.join('; '), 'none', false);
    return { orders: ORDERS, blocks: BLOCKS, corralMs: c, naiveMs: n, corralCalls: calls, naiveCalls: ORDERS, posted: parts, setupMs, stuck };
  } finally {
    await orderBook.close();
    await anvil.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const results = await benchTwap((name, value, target, ok) => console.log(`${ok === false ? '✗' : ' '} ${name}: ${value}${target ? ` (target ${target})` : ''}`));
  console.log(JSON.stringify(results));
}
