/**
 * The block-pinned response cache (src/chain/ResponseCache.ts): two TWAP watchers (examples/twap-monitor,
 * 1,000 orders, benchmarks/twap.ts's scenario) sharing a chain, each asking the contract about the
 * orders due at every block at `0x<n>`, which the chain host pins to the step's block hash. The
 * upstream eth_calls per block (those that reached the node) with the cache on and off, and the
 * module calls the cache answered.
 */
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { startConfigured } from '../src/app/startConfigured.ts';
import { setupTwap } from './twap.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;
const BLOCKS = 40;
const WATCHERS = ['twap-a', 'twap-b'];

/** One run on a fresh chain: both watchers recorded every order, then BLOCKS blocks; upstream and cached eth_calls per block. */
async function run(cache: boolean) {
  const { anvil, cow, orderBook, orders, config } = await setupTwap();
  try {
    const [module] = config.modules;
    config.modules = WATCHERS.map((name) => ({ ...module!, name }));
    config.engine.rpcCache = { ...config.engine.rpcCache, enabled: cache };
    const corral = await startConfigured(config, { logger: pino({ level: 'silent' }) });
    const { engine } = corral;
    const created = await cow.createMany(orders);
    for (const name of WATCHERS) await engine.reached(name, 31337, created.at(-1)!);
    const count = () => engine.rpcStats().chains['31337']?.module?.eth_call ?? { calls: 0, cached: 0 };
    const upstream: number[] = [];
    const cached: number[] = [];
    for (let i = 0; i < BLOCKS; i++) {
      const before = count();
      const block = await cow.mine();
      for (const name of WATCHERS) await engine.reached(name, 31337, block);
      const after = count();
      upstream.push(after.calls - before.calls);
      cached.push(after.cached - before.cached);
    }
    await corral.stop();
    return { upstream, cached, mean: upstream.reduce((a, b) => a + b, 0) / BLOCKS, cachedMean: cached.reduce((a, b) => a + b, 0) / BLOCKS };
  } finally {
    await orderBook.close();
    await anvil.stop();
  }
}

export async function benchRpcCache(row: Row): Promise<Record<string, unknown>> {
  const on = await run(true);
  const off = await run(false);
  const saved = off.mean > 0 ? 1 - on.mean / off.mean : 0;
  const u = (r: typeof on) => summarize(r.upstream);
  row('rpcCache: upstream eth_calls per block, two TWAP watchers (1,000 orders), cache on (p50 / p99, mean)', `${u(on).p50} / ${u(on).p99}, ${on.mean.toFixed(1)}`);
  row('rpcCache: upstream eth_calls per block, cache off (p50 / p99, mean)', `${u(off).p50} / ${u(off).p99}, ${off.mean.toFixed(1)}`);
  row('rpcCache: module eth_calls answered by the cache per block (mean)', on.cachedMean.toFixed(1));
  row('rpcCache: upstream eth_calls saved by the cache', `${(100 * saved).toFixed(1)} %`, '≈ 50 % (two identical watchers)', saved >= 0.45);
  return { blocks: BLOCKS, on: { upstream: u(on), mean: on.mean, cachedMean: on.cachedMean }, off: { upstream: u(off), mean: off.mean }, saved };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const results = await benchRpcCache((name, value, target, ok) => console.log(`${ok === false ? '✗' : ' '} ${name}: ${value}${target ? ` (target ${target})` : ''}`));
  console.log(JSON.stringify(results));
}
