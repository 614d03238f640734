import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ModuleManifest } from '../../src/index.ts';
import { startAnvil } from '../anvil.ts';
import { deployEmitter, PING, tagTopic } from '../emitter.ts';
import { chainEngine, chainTestbed, expectedRecords, recorded, stateOf, watcherManifest } from './chainHarness.ts';

const testbed = chainTestbed();
const { runtime } = testbed;

const NAMES = ['logs', 'tag2', 'blocks'];
const modulesFrom = (address: `0x${string}`, start: number): Partial<ModuleManifest>[] => [
  { name: 'logs', startBlock: start, triggers: [{ kind: 'log', chain: 31337, address }] },
  { name: 'tag2', startBlock: start, triggers: [{ kind: 'log', chain: 31337, address, topics: [PING, tagTopic(2)] }] },
  { name: 'blocks', startBlock: start, triggers: [{ kind: 'block', chain: 31337, every: 1 }] },
];

/** The state an engine that never stopped produces over the same chain: a fresh run from the start block. */
async function uninterrupted(modules: Partial<ModuleManifest>[], last: bigint) {
  const { engine } = await chainEngine(runtime, { rpcUrl: testbed.anvil.url, pollIntervalMs: 20 }, modules);
  await Promise.all(NAMES.map((name) => engine.reached(name, 31337, last)));
  const states = Object.fromEntries(await Promise.all(NAMES.map(async (name) => [name, await stateOf(engine, name)] as const)));
  await engine.stop();
  return states;
}

async function emitBlocks(emitter: Awaited<ReturnType<typeof deployEmitter>>, count: number, offset = 0): Promise<bigint> {
  let last = 0n;
  for (let i = 0; i < count; i++) last = await emitter.emit(1 + ((i + offset) % 3), 1 + ((i + offset) % 4));
  return last;
}

describe('chain bus: restarts', () => {
  it('behavior: stopped gracefully mid-stream, restarted after the chain moved on: every module\'s state equals an uninterrupted run', async () => {
    const emitter = await deployEmitter(testbed.anvil);
    const start = Number(emitter.deployedAt) + 1;
    const modules = modulesFrom(emitter.address, start);
    await emitBlocks(emitter, 60);
    const first = await chainEngine(runtime, { rpcUrl: testbed.anvil.url, pollIntervalMs: 20 }, modules);
    await first.engine.reached('logs', 31337, start + 20);
    await first.engine.stop(); // the feeds are still catching up on the other 40 blocks
    const last = await emitBlocks(emitter, 30, 60);

    const second = await chainEngine(runtime, { rpcUrl: testbed.anvil.url, pollIntervalMs: 20 }, modules, first.stateDir);
    await Promise.all(NAMES.map((name) => second.engine.reached(name, 31337, last)));
    const expected = await uninterrupted(modules, last);
    for (const name of NAMES) expect(await stateOf(second.engine, name)).toEqual(expected[name]);
    expect(await recorded(second.engine, 'logs')).toEqual(await expectedRecords(emitter.client, BigInt(start), last, { address: emitter.address }));
    await second.engine.stop();
  });

  it('behavior: killed with SIGKILL mid-stream, restarted after the chain moved on: every module\'s state equals an uninterrupted run', async () => {
    const emitter = await deployEmitter(testbed.anvil);
    const start = Number(emitter.deployedAt) + 1;
    const modules = modulesFrom(emitter.address, start);
    await emitBlocks(emitter, 60);
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-kill-'));
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./engineProcess.ts', import.meta.url)), JSON.stringify({ rpcUrl: testbed.anvil.url, stateDir, modules: modules.map(watcherManifest), report: { module: 'logs', from: start } })], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    // Kill it the moment its `logs` module has handled 20 blocks: in the middle of catching up.
    await new Promise<void>((resolve, reject) => {
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes(`reached ${start + 20}\n`)) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      void exited.then(() => reject(new Error(`the engine process exited before block ${start + 20}: ${output.slice(-300)}`)));
    });
    expect(await exited).toBe('SIGKILL');
    const last = await emitBlocks(emitter, 30, 60);

    const restarted = await chainEngine(runtime, { rpcUrl: testbed.anvil.url, pollIntervalMs: 20 }, modules, stateDir);
    await Promise.all(NAMES.map((name) => restarted.engine.reached(name, 31337, last)));
    const expected = await uninterrupted(modules, last);
    for (const name of NAMES) expect(await stateOf(restarted.engine, name)).toEqual(expected[name]);
    expect(await recorded(restarted.engine, 'blocks')).toEqual(await expectedRecords(emitter.client, BigInt(start), last, null, 1));
    await restarted.engine.stop();
  });
});

describe('chain bus: node outage', () => {
  for (const transport of ['webSocket', 'polling'] as const) {
    it(`behavior: the node is stopped and restarted from its saved state while the engine runs (${transport}): it reconnects and backfills, nothing missed or applied twice`, async () => {
      const stateFile = join(mkdtempSync(join(tmpdir(), 'corral-anvil-')), 'state.json');
      let node = await startAnvil({ args: ['--state', stateFile] });
      try {
        const emitter = await deployEmitter(node);
        const start = Number(emitter.deployedAt) + 1;
        const chain = transport === 'webSocket' ? { rpcUrl: node.wsUrl, reconnect: { initialMs: 20, maxMs: 200 } } : { rpcUrl: node.url, pollIntervalMs: 20 };
        const { engine, records } = await chainEngine(runtime, chain, modulesFrom(emitter.address, start));
        let last = await emitBlocks(emitter, 20);
        await Promise.all(NAMES.map((name) => engine.reached(name, 31337, last)));

        await node.stop(); // anvil writes its state on SIGTERM
        node = await startAnvil({ port: node.port, args: ['--state', stateFile] });
        // The chain moves on, by more than the reorg window at once: the modules catch up by range.
        await emitBlocks(emitter, 10, 20);
        await node.rpc('anvil_mine', ['0x64']);
        last = await emitBlocks(emitter, 10, 30);

        await Promise.all(NAMES.map((name) => engine.reached(name, 31337, last)));
        const from = BigInt(start);
        expect(await recorded(engine, 'logs')).toEqual(await expectedRecords(emitter.client, from, last, { address: emitter.address }));
        expect(await recorded(engine, 'tag2')).toEqual(await expectedRecords(emitter.client, from, last, { topics: [PING, tagTopic(2)] }));
        expect(await recorded(engine, 'blocks')).toEqual(await expectedRecords(emitter.client, from, last, null, 1));
        // The socket's drop is certain; whether a poll falls into the outage is up to timing.
        if (transport === 'webSocket') expect(records.some((r) => r.msg === 'chain WebSocket lost; reconnecting')).toBe(true);
        await engine.stop();
      } finally {
        await node.stop();
      }
    });
  }
});
