/**
 * Factory triggers (issue 25): 1,000 children of one factory, backfilled from a fresh cursor, by a
 * module with the factory trigger beside the same module listing the 1,000 addresses statically, in
 * alternated rounds on one anvil. The factory's run also fetches the creation logs and asks for the
 * children in chunks of FACTORY_ADDRESSES_PER_REQUEST; the static one sends the whole list at once.
 * Each run's time is from `Engine.start` returning to the cursor on the last block; then, live, one
 * block in which every child logs once, from the transaction's send to the commit of its block.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { encodeFunctionData, getContractAddress, type Abi, type Hex } from 'viem';
import { Engine } from '../src/engine/Engine.ts';
import type { ModuleManifest, Runtime } from '../src/index.ts';
import { FACTORY_ADDRESSES_PER_REQUEST } from '../src/limits/defaults.ts';
import { startAnvil } from '../test/anvil.ts';
import { POOL_CREATED } from '../test/factory.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;
const hex = (n: bigint | number) => `0x${n.toString(16)}`;
const CHILDREN = 1_000;
/** Blocks in which every child pings once. */
const PING_BLOCKS = 10;
const ROUNDS = 3;

export async function benchFactory(runtime: Runtime, fixture: (name: string) => string, row: Row): Promise<Record<string, unknown>> {
  const anvil = await startAnvil({ args: ['--gas-limit', '1000000000', '--prune-history'] });
  try {
    const artifact = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/build/Factory.json', import.meta.url)), 'utf8')) as { abi: Abi; bytecode: Hex };
    const [from] = await anvil.rpc<Hex[]>('eth_accounts');
    const send = async (tx: { to?: Hex; data: Hex }) => {
      const hash = await anvil.rpc<Hex>('eth_sendTransaction', [{ from, gas: hex(900_000_000), ...tx }]);
      for (;;) {
        const receipt = await anvil.rpc<{ blockNumber: Hex; contractAddress: Hex | null; status: Hex } | null>('eth_getTransactionReceipt', [hash]);
        if (!receipt) continue;
        if (receipt.status !== '0x1') throw new Error('factory bench: a transaction reverted');
        return receipt;
      }
    };
    const deployed = await send({ data: artifact.bytecode });
    const factory = deployed.contractAddress!.toLowerCase() as Hex;
    const start = BigInt(deployed.blockNumber) + 1n;
    const call = (functionName: string, args: bigint[]) => send({ to: factory, data: encodeFunctionData({ abi: artifact.abi, functionName, args }) });
    // 1,000 children over 20 blocks (each with a Ping in its creation transaction), 5 empty blocks apart;
    // then PING_BLOCKS blocks in which every child pings: 11,000 child logs.
    for (let i = 0; i < CHILDREN / 50; i++) {
      await call('create', [50n, 1n]);
      await anvil.rpc('anvil_mine', [hex(5)]);
    }
    for (let b = 0; b < PING_BLOCKS; b++) await call('pingChildren', [0n, BigInt(CHILDREN), BigInt(2 + b)]);
    await anvil.rpc('anvil_mine', [hex(100)]); // every block below head − reorg window: all caught up by range
    const to = BigInt(await anvil.rpc<Hex>('eth_blockNumber')) - 70n;
    const children = Array.from({ length: CHILDREN }, (_, i) => getContractAddress({ from: factory, nonce: BigInt(i + 1) }).toLowerCase());
    const events = CHILDREN * (1 + PING_BLOCKS);

    const module = (triggers: ModuleManifest['triggers']): ModuleManifest => ({ name: 'children', component: fixture('store-probe'), grants: { store: true }, triggers, startBlock: Number(start) });
    const kinds = {
      factory: module([{ kind: 'log', chain: anvil.chainId, address: { factory, event: POOL_CREATED, parameter: 'pool' } }]),
      static: module([{ kind: 'log', chain: anvil.chainId, address: children }]),
    };
    const times: Record<keyof typeof kinds, number[]> = { factory: [], static: [] };
    const live: Record<keyof typeof kinds, number[]> = { factory: [], static: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of round % 2 === 0 ? (['factory', 'static'] as const) : (['static', 'factory'] as const)) {
        const engine = await Engine.start({ runtime, stateDir: mkdtempSync(join(tmpdir(), 'corral-bench-factory-')), logger: pino({ level: 'silent' }), chains: { [anvil.chainId]: { rpcUrl: anvil.url } }, modules: [kinds[kind]] });
        const t = performance.now();
        await engine.reached('children', anvil.chainId, to);
        times[kind].push(performance.now() - t);
        const delivered = engine.chainPositions().find((p) => p.module === 'children')?.events;
        if (delivered !== events) throw new Error(`factory bench: the ${kind} run delivered ${delivered} events, expected ${events}`);
        // Live: one block in which every child pings, from the transaction's send to the module's commit of its block.
        await engine.reached('children', anvil.chainId, BigInt(await anvil.rpc<Hex>('eth_blockNumber')));
        const sent = performance.now();
        const { blockNumber } = await call('pingChildren', [0n, BigInt(CHILDREN), 99n]);
        await engine.reached('children', anvil.chainId, BigInt(blockNumber));
        live[kind].push(performance.now() - sent);
        await engine.stop();
      }
    }
    const f = summarize(times.factory);
    const s = summarize(times.static);
    const ratios = times.factory.map((ms, i) => ms / times.static[i]!).sort((a, b) => a - b);
    const ratio = ratios[Math.floor(ratios.length / 2)]!;
    const perSecond = (ms: number) => Math.round(events / (ms / 1000)).toLocaleString('en');
    row(
      `factory trigger: backfill of ${CHILDREN.toLocaleString('en')} children (${events.toLocaleString('en')} logs, ${FACTORY_ADDRESSES_PER_REQUEST} addresses per request) vs the same addresses listed statically, median of ${ROUNDS}`,
      `${f.p50.toFixed(0)} ms vs ${s.p50.toFixed(0)} ms (${ratio.toFixed(2)}×; ${perSecond(f.p50)} vs ${perSecond(s.p50)} events/s)`,
      '≤ 1.5×',
      ratio <= 1.5,
    );
    const lf = summarize(live.factory);
    const ls = summarize(live.static);
    row(
      `factory trigger: one live block of ${CHILDREN.toLocaleString('en')} children's logs, send to commit, vs the same addresses listed statically, median of ${ROUNDS}`,
      `${lf.p50.toFixed(0)} ms vs ${ls.p50.toFixed(0)} ms (${(lf.p50 / ls.p50).toFixed(2)}×; ${Math.round(CHILDREN / (lf.p50 / 1000)).toLocaleString('en')} vs ${Math.round(CHILDREN / (ls.p50 / 1000)).toLocaleString('en')} events/s)`,
    );
    return { liveFactoryMs: lf, liveStaticMs: ls, factoryMs: f, staticMs: s, ratios, ratio, events, eventsPerSecond: { factory: events / (f.p50 / 1000), static: events / (s.p50 / 1000) } };
  } finally {
    await anvil.stop();
  }
}
