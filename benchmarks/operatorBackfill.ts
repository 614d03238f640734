/**
 * Backfill as an operator meets it: `corral run` (the CLI, a child process) on an engine.toml with the
 * scaffold's JavaScript module (`corral new`'s src/module.js, built as its build.mjs builds it, with a
 * log trigger added), catching up ~5,000 blocks of a real anvil beside a bare viem `getLogs` of the same
 * range in the same chunks (`max_log_range`), alternated. The CLI's start-up (tsx, loading, anvil
 * check) is not counted: the engine's time runs from its log line 'chain feed starts' (the module's
 * feed has begun, as `Engine.start` returning does in benchmarks/chain.ts) to the line of the step
 * that commits the last block, both by the engine's own clock (pino's `time`).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { componentize } from 'componentize-qjs';
import { createPublicClient, http } from 'viem';
import { scaffoldModule } from '../src/cli/scaffoldModule.ts';
import { startAnvil, type Anvil } from '../test/anvil.ts';
import { deployEmitter } from '../test/emitter.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;
const root = fileURLToPath(new URL('..', import.meta.url));
const hex = (n: bigint) => `0x${n.toString(16)}`;
const BLOCKS = 5_001n;
const CHUNK = 2_000n;
const ROUNDS = 3;

export async function benchOperatorBackfill(row: Row): Promise<Record<string, unknown>> {
  const anvil = await startAnvil({ args: ['--gas-limit', '100000000', '--prune-history'] });
  try {
    const emitter = await deployEmitter(anvil);
    const from = BigInt(await anvil.rpc<string>('eth_blockNumber')) + 1n;
    // 250 blocks with 10 logs each (7 Pings, 3 Pongs), one every 20 blocks: 2,500 logs over 5,001 blocks.
    await anvil.rpc('evm_setAutomine', [false]);
    for (let i = 0n; i < BLOCKS / 20n; i++) {
      await anvil.rpc('eth_sendTransaction', [emitter.call(2, 7)]);
      await anvil.rpc('anvil_mine', [hex(20n)]);
    }
    await anvil.rpc('anvil_mine', [hex(BLOCKS % 20n + 100n)]); // every block below head − reorg window: all caught up by range
    await anvil.rpc('evm_setAutomine', [true]);
    const to = from + BLOCKS - 1n;
    const dir = await scaffold(emitter.address, from, anvil);
    const client = createPublicClient({ transport: http(anvil.url) });
    const bare: number[] = [];
    const engine: number[] = [];
    const events: number[] = [];
    let logs = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const t = performance.now();
      logs = 0;
      for (let a = from; a <= to; a += CHUNK) logs += (await client.getLogs({ address: emitter.address, fromBlock: a, toBlock: a + CHUNK - 1n < to ? a + CHUNK - 1n : to })).length;
      bare.push(performance.now() - t);
      const run = await corralRun(dir, round, to);
      engine.push(run.ms);
      events.push(run.events);
    }
    if (logs !== 2_500 || events.some((n) => n !== logs)) throw new Error(`operator backfill: expected 2,500 logs, got ${logs} bare and ${events.join(', ')} through corral run`);
    const b = summarize(bare);
    const e = summarize(engine);
    const ratios = engine.map((ms, i) => ms / bare[i]!).sort((x, y) => x - y);
    const ratio = ratios[Math.floor(ratios.length / 2)]!;
    row(
      `operator backfill: corral run, scaffold's JS module, ${BLOCKS.toLocaleString('en')} blocks (2,500 logs) vs bare getLogs, median of ${ROUNDS}`,
      `${e.p50.toFixed(0)} ms vs ${b.p50.toFixed(1)} ms (${ratio.toFixed(2)}×, from the engine's start; ${Math.round(2_500 / (e.p50 / 1000)).toLocaleString('en')} logs/s)`,
      '≤ 3×',
      ratio <= 3,
    );
    return { engineMs: e, bareGetLogsMs: b, ratios, ratio };
  } finally {
    await anvil.stop();
  }
}

/** The scaffold (`corral new`) with its module built as its build.mjs does, and a log trigger on the emitter from `from`. */
async function scaffold(address: string, from: bigint, anvil: Anvil): Promise<string> {
  const dir = join(mkdtempSync(join(tmpdir(), 'corral-bench-operator-')), 'watcher');
  await scaffoldModule(dir, { js: true });
  const jsPath = join(dir, 'src', 'module.js');
  const { component } = await componentize({ witPath: join(dir, 'wit'), jsSource: readFileSync(jsPath, 'utf8'), jsPath, stubWasi: true, sync: true });
  await mkdir(join(dir, 'build'), { recursive: true });
  writeFileSync(join(dir, 'build', 'watcher.wasm'), component);
  const toml = (round: number) => `[engine]
state_dir = "./state-${round}"
log_level = "debug"

[chains.${anvil.chainId}]
rpc_url = "${anvil.url}"
max_log_range = ${CHUNK}

[[modules]]
name = "watcher"
component = "build/watcher.wasm"
grants = { store = true, logging = true }
triggers = [{ kind = "log", chain = ${anvil.chainId}, address = "${address}" }]
start_block = ${from}
`;
  for (let round = 0; round < ROUNDS; round++) writeFileSync(join(dir, `engine-${round}.toml`), toml(round));
  return dir;
}

/** One `corral run` from a fresh state until the module's cursor passes `to`; then SIGTERM. */
function corralRun(dir: string, round: number, to: bigint): Promise<{ ms: number; events: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'corral.mjs'), 'run', `engine-${round}.toml`, '--json'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
    let startedAt: number | undefined;
    let events = 0;
    let buffered = '';
    let result: { ms: number; events: number } | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith('{') || result) continue;
        const entry = JSON.parse(line) as { msg?: string; time: number; block?: string; events?: number };
        if (entry.msg === 'chain feed starts') startedAt = entry.time;
        if (entry.msg !== 'chain step committed') continue;
        events += entry.events ?? 0;
        if (startedAt !== undefined && BigInt(entry.block!) >= to) {
          result = { ms: entry.time - startedAt, events };
          child.kill('SIGTERM');
        }
      }
    });
    child.on('exit', (code) => (result ? resolve(result) : reject(new Error(`corral run exited (${code}) before block ${to}`))));
  });
}
