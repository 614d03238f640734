import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/index.ts';
import { startAnvil, type Anvil } from '../anvil.ts';
import { deployEmitter, PING, tagTopic } from '../emitter.ts';
import { newRuntime } from '../helpers.ts';
import { chainEngine, expectedRecords, recorded } from './chainHarness.ts';

const runtime: Runtime = newRuntime();
let anvil: Anvil;
beforeAll(async () => {
  anvil = await startAnvil();
});
afterAll(async () => {
  await runtime.close();
  await anvil.stop();
});

describe('chain bus: delivery', () => {
  it('default: 1,000 events over 200 blocks; each module receives exactly its events, in order', async () => {
    const emitter = await deployEmitter(anvil);
    const start = Number(emitter.deployedAt) + 1;
    const { engine } = await chainEngine(runtime, { rpcUrl: anvil.url, pollIntervalMs: 20 }, [
      { name: 'all', startBlock: start, triggers: [{ kind: 'log', chain: 31337, address: emitter.address }] },
      { name: 'tag1', startBlock: start, triggers: [{ kind: 'log', chain: 31337, topics: [PING, tagTopic(1)] }] },
      { name: 'blocks', startBlock: start, triggers: [{ kind: 'block', chain: 31337, every: 10 }] },
      { name: 'both', startBlock: start, triggers: [{ kind: 'block', chain: 31337, every: 25 }, { kind: 'log', chain: 31337, address: emitter.address, topics: [PING, tagTopic(2)] }] },
    ]);
    let last = 0n;
    for (let i = 0; i < 200; i++) last = await emitter.emit(1 + (i % 2), 5);
    for (const name of ['all', 'tag1', 'blocks', 'both']) await engine.reached(name, 31337, last);
    const from = BigInt(start);
    expect(await recorded(engine, 'all')).toEqual(await expectedRecords(emitter.client, from, last, { address: emitter.address }));
    const tag1 = await recorded(engine, 'tag1');
    expect(tag1).toHaveLength(500);
    expect(tag1).toEqual(await expectedRecords(emitter.client, from, last, { topics: [PING, tagTopic(1)] }));
    expect(await recorded(engine, 'blocks')).toEqual(await expectedRecords(emitter.client, from, last, null, 10));
    expect(await recorded(engine, 'both')).toEqual(await expectedRecords(emitter.client, from, last, { address: emitter.address, topics: [PING, tagTopic(2)] }, 25));
    expect(await engine.cursor('all', 'chain:31337')).toMatchObject({ number: String(last) });
    await engine.stop();
  });
});
