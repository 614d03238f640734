/**
 * The chain bus's figures against a real anvil: block-to-handler latency, fan-out of one block's
 * logs to many modules, and catching up a long range beside a bare viem `getLogs` over the same range.
 * Every module is the store-probe WAT fixture, whose handler returns `ok` at once for chain events:
 * what is measured is the engine (source, follower, feed, mailbox, worker trip, commit), not a guest.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { filter, firstValueFrom } from 'rxjs';
import { createPublicClient, http, webSocket } from 'viem';
import { type ChainConfig, type ChainStep, type ModuleManifest, type Runtime } from '../src/index.ts';
import { Engine } from '../src/engine/Engine.ts';
import { startAnvil, type Anvil } from '../test/anvil.ts';
import { deployEmitter, PING } from '../test/emitter.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;
const ms = (x: number) => `${x.toFixed(2)} ms`;
const hex = (n: bigint) => `0x${n.toString(16)}`;

export async function benchChain(runtime: Runtime, fixture: (name: string) => string, row: Row): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {};
  const anvil = await startAnvil({ args: ['--gas-limit', '100000000', '--prune-history'] });
  const probe = (name: string, triggers: ModuleManifest['triggers'], startBlock?: number): ModuleManifest => ({
    name,
    component: fixture('store-probe'),
    grants: { store: true },
    triggers,
    ...(startBlock === undefined ? {} : { startBlock }),
  });
  const start = (chain: ChainConfig, modules: ModuleManifest[]) =>
    Engine.start({ runtime, stateDir: mkdtempSync(join(tmpdir(), 'corral-bench-chain-')), logger: pino({ level: 'silent' }), chains: { [anvil.chainId]: chain }, modules });
  try {
    const emitter = await deployEmitter(anvil);
    results.latency = await latency(anvil, emitter, start, probe, row);
    results.fanOut = await fanOut(emitter, start, probe, anvil, row);
    results.backfill = await backfill(anvil, emitter, start, probe, row);
  } finally {
    await anvil.stop();
  }
  return results;
}

type Start = (chain: ChainConfig, modules: ModuleManifest[]) => Promise<Engine>;
type Probe = (name: string, triggers: ModuleManifest['triggers'], startBlock?: number) => ModuleManifest;
type Emitter = Awaited<ReturnType<typeof deployEmitter>>;

/** Resolves with the step that takes `module`'s cursor to `number`. */
const stepAt = (engine: Engine, module: string, number: bigint) => firstValueFrom(engine.steps$.pipe(filter((s: ChainStep) => s.module === module && s.number === number)));

/**
 * 1. Block-to-handler latency: a head arrives on the WebSocket (`seenAt`) → the guest's handler starts
 * in its worker (`startedAt`). One block at a time, so each is measured alone. A block trigger needs
 * no log fetch; a log trigger adds one `eth_getLogs` by block hash (anvil's round trip included).
 */
async function latency(anvil: Anvil, emitter: Emitter, start: Start, probe: Probe, row: Row) {
  const engine = await start({ rpcUrl: anvil.wsUrl }, [
    probe('latency-blocks', [{ kind: 'block', chain: anvil.chainId }]),
    probe('latency-logs', [{ kind: 'log', chain: anvil.chainId, address: emitter.address }]),
  ]);
  const blocks: number[] = [];
  const logs: number[] = [];
  const fetchAlone: number[] = [];
  /** The head's arrival after the call that mined its block returned: a node holding its message shows here. */
  const arrival: number[] = [];
  const socket = createPublicClient({ transport: webSocket(anvil.wsUrl) });
  try {
    for (let i = 0; i < 330; i++) {
      const head = BigInt(await anvil.rpc<string>('eth_blockNumber')) + 1n;
      const step = stepAt(engine, 'latency-blocks', head);
      await anvil.rpc('evm_mine');
      const s = await step;
      if (i >= 30) blocks.push(s.startedAt! - s.seenAt!);
    }
    for (let i = 0; i < 330; i++) {
      const head = BigInt(await anvil.rpc<string>('eth_blockNumber')) + 1n;
      const step = stepAt(engine, 'latency-logs', head);
      await anvil.rpc('eth_sendTransaction', [emitter.call(1, 1)]); // anvil signs and mines it; nothing else polls
      const mined = performance.timeOrigin + performance.now();
      const s = await step;
      const t = performance.now();
      await socket.request({ method: 'eth_getLogs', params: [{ address: emitter.address, blockHash: s.hash as `0x${string}` }] });
      if (i >= 30) {
        logs.push(s.startedAt! - s.seenAt!);
        arrival.push(Math.max(0, s.seenAt! - mined));
        fetchAlone.push(performance.now() - t);
      }
    }
  } finally {
    await engine.stop();
    await (await socket.transport.getRpcClient()).close();
  }
  const b = summarize(blocks);
  const l = summarize(logs);
  const f = summarize(fetchAlone);
  const a = summarize(arrival);
  row('block-to-handler latency, block trigger (WebSocket head → guest starts), p50 / p99', `${ms(b.p50)} / ${ms(b.p99)}`, '≤ 5 ms p99', b.p99 <= 5);
  row('  same, log trigger (plus eth_getLogs by block hash), p50 / p99', `${ms(l.p50)} / ${ms(l.p99)} (that eth_getLogs alone, viem → anvil: ${ms(f.p50)} / ${ms(f.p99)})`, '≤ 5 ms p99', l.p99 <= 5);
  row('    head reaches the engine after its transaction call returned, p50 / p99', `${ms(a.p50)} / ${ms(a.p99)} (~40 ms when the node holds it behind our delayed ACK)`);
  return { blockTriggerMs: b, logTriggerMs: l, getLogsAloneMs: f, headArrivalMs: a };
}

/**
 * 2. Fan-out: one block with 1,000 matching logs (and 500 that do not match) to 10 modules, end to
 * end: from the head reaching the engine to the last module's commit, the log fetch included.
 */
async function fanOut(emitter: Emitter, start: Start, probe: Probe, anvil: Anvil, row: Row) {
  const names = Array.from({ length: 10 }, (_, i) => `fan-${i}`);
  const engine = await start({ rpcUrl: anvil.wsUrl }, names.map((name) => probe(name, [{ kind: 'log', chain: anvil.chainId, address: emitter.address, topics: [PING] }])));
  const rates: number[] = [];
  const spans: number[] = [];
  try {
    for (let round = 0; round < 12; round++) {
      const block = BigInt(await anvil.rpc<string>('eth_blockNumber')) + 1n;
      const steps = Promise.all(names.map((name) => stepAt(engine, name, block)));
      await emitter.emit(1, 1_000);
      const done = await steps;
      if (done.some((s) => s.events !== 1_000)) throw new Error(`fan-out: expected 1,000 events per module, got ${done.map((s) => s.events).join(',')}`);
      const span = Math.max(...done.map((s) => s.committedAt)) - done[0]!.seenAt!;
      if (round >= 2) {
        spans.push(span);
        rates.push((names.length * 1_000) / (span / 1000));
      }
    }
  } finally {
    await engine.stop();
  }
  const s = summarize(spans);
  const r = summarize(rates);
  row('fan-out: 1 block × 1,000 logs × 10 modules, head → last commit, p50 / worst', `${ms(s.p50)} / ${ms(s.max)} (${Math.round(r.p50).toLocaleString('en')} logs/s at p50)`, '≥ 50,000 logs/s', r.p50 >= 50_000);
  return { spanMs: s, logsPerSecond: r };
}

/**
 * 3. Catching up 10,000 blocks (500 of them with 10 matching logs) from a fresh cursor, beside viem's
 * bare `getLogs` over the same range in the same 2,000-block chunks, alternated five times.
 * The engine's time runs from `Engine.start` returning (its feed has begun) to its cursor on the last block.
 */
async function backfill(anvil: Anvil, emitter: Emitter, start: Start, probe: Probe, row: Row) {
  const from = BigInt(await anvil.rpc<string>('eth_blockNumber')) + 1n;
  // Each transaction waits in the pool for the next mined block: 20 blocks per round, the first with 10 logs.
  await anvil.rpc('evm_setAutomine', [false]);
  for (let i = 0; i < 500; i++) {
    await anvil.rpc('eth_sendTransaction', [emitter.call(2, 7)]); // 7 Pings and 3 Pongs: 10 logs
    await anvil.rpc('anvil_mine', [hex(20n)]);
  }
  await anvil.rpc('anvil_mine', [hex(100n)]); // all 10,000 blocks below head − reorg window
  await anvil.rpc('evm_setAutomine', [true]);
  const to = from + 9_999n;
  const client = createPublicClient({ transport: http(anvil.url) });
  const chunk = 2_000n;
  const bare: number[] = [];
  const engineMs: number[] = [];
  let logCount = 0;
  for (let round = 0; round < 5; round++) {
    let t = performance.now();
    logCount = 0;
    for (let a = from; a <= to; a += chunk) logCount += (await client.getLogs({ address: emitter.address, fromBlock: a, toBlock: a + chunk - 1n < to ? a + chunk - 1n : to })).length;
    bare.push(performance.now() - t);

    const engine = await start({ rpcUrl: anvil.url, maxLogRange: Number(chunk) }, [probe('backfill', [{ kind: 'log', chain: anvil.chainId, address: emitter.address }], Number(from))]);
    t = performance.now();
    await engine.reached('backfill', anvil.chainId, to);
    engineMs.push(performance.now() - t);
    await engine.stop();
  }
  if (logCount !== 5_000) throw new Error(`backfill: expected 5,000 logs, got ${logCount}`);
  const b = summarize(bare);
  const e = summarize(engineMs);
  const ratio = e.p50 / b.p50;
  const blocksPerSecond = 10_000 / (e.p50 / 1000);
  row('backfill 10,000 blocks (5,000 logs), engine vs bare viem getLogs, median of 5', `${ms(e.p50)} vs ${ms(b.p50)} (${ratio.toFixed(2)}×; ${Math.round(blocksPerSecond).toLocaleString('en')} blocks/s, ${Math.round(5_000 / (e.p50 / 1000)).toLocaleString('en')} logs/s)`, '≤ 1.5×', ratio <= 1.5);
  return { engineMs: e, bareGetLogsMs: b, ratio, blocksPerSecond, logsPerSecond: 5_000 / (e.p50 / 1000) };
}
