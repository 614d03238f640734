import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { PublicClient } from 'viem';
import { type ChainConfig, type ModuleManifest, type Runtime } from '../../src/index.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { afterAll, beforeAll } from 'vitest';
import { startAnvil, type Anvil } from '../anvil.ts';
import { captureLogger, fixture, newRuntime } from '../helpers.ts';

/** The records the watcher module (fixtures/modules/watcher) wrote, in the order it handled them. */
export async function recorded(engine: Engine, module: string): Promise<string[]> {
  const text = (u: Uint8Array | undefined) => (u === undefined ? undefined : new TextDecoder().decode(u));
  const n = Number(text(await engine.read(module, new TextEncoder().encode('n'))) ?? 0);
  const out: string[] = [];
  for (let i = 1; i <= n; i++) out.push(text(await engine.read(module, new TextEncoder().encode(`ev/${String(i).padStart(6, '0')}`)))!);
  return out;
}

/**
 * What the watcher must have recorded for blocks [from, to], asked of the node directly: each block's
 * matching logs by index, then the block itself when a block trigger picks it.
 */
export async function expectedRecords(
  client: PublicClient,
  from: bigint,
  to: bigint,
  filter: { address?: `0x${string}`; topics?: (`0x${string}` | null)[] } | null,
  everyBlocks?: number,
): Promise<string[]> {
  const logs = filter ? ((await client.request({ method: 'eth_getLogs', params: [{ ...filter, fromBlock: `0x${from.toString(16)}`, toBlock: `0x${to.toString(16)}` }] } as never)) as { blockNumber: string; logIndex: string; data: string }[]) : [];
  const out: string[] = [];
  let i = 0;
  for (let n = from; n <= to; n++) {
    for (; i < logs.length && BigInt(logs[i]!.blockNumber) === n; i++) out.push(`log:${n}:${Number(logs[i]!.logIndex)}:${logs[i]!.data.slice(-8)}`);
    if (everyBlocks && n % BigInt(everyBlocks) === 0n) {
      const block = await client.getBlock({ blockNumber: n });
      out.push(`block:${n}:-:${block.hash.slice(2, 10)}`);
    }
  }
  return out;
}

/** The watcher module's manifest (fixtures/modules/watcher), with `overrides`. */
export function watcherManifest(overrides: Partial<ModuleManifest>): ModuleManifest {
  return { name: 'watcher', component: fixture('watcher'), grants: { store: true, logging: true }, limits: { fuel: 1e10, timeoutMs: 5_000 }, ...overrides };
}

/** An engine over one chain with watcher modules; `modules` override the watcher manifest. */
export async function chainEngine(runtime: Runtime, chain: ChainConfig, modules: Partial<ModuleManifest>[], stateDir = mkdtempSync(join(tmpdir(), 'corral-chain-'))) {
  const { logger, records } = captureLogger();
  const engine = await Engine.start({ runtime, stateDir, logger: logger as Logger, chains: { 31337: chain }, modules: modules.map(watcherManifest) });
  return { engine, records, stateDir };
}

/** A module's whole committed state as text (key → value), to compare two runs. */
export async function stateOf(engine: Engine, module: string): Promise<Record<string, string>> {
  const text = (u: Uint8Array) => new TextDecoder().decode(u);
  return Object.fromEntries((await engine.entries(module)).map(([k, v]) => [text(k), text(v)]));
}

/** A file's runtime and anvil, started before its tests and stopped after them (`anvil` once started). */
export function chainTestbed(): { readonly runtime: Runtime; readonly anvil: Anvil } {
  const runtime = newRuntime();
  let anvil: Anvil | undefined;
  beforeAll(async () => {
    anvil = await startAnvil();
  });
  afterAll(async () => {
    await runtime.close();
    await anvil?.stop();
  });
  return {
    runtime,
    get anvil() {
      return anvil!;
    },
  };
}
