import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/Engine.ts';
import { isReserved } from '../../src/store/reservedKeys.ts';
import { captureLogger, fixture } from '../helpers.ts';
import { chainTestbed } from './chainHarness.ts';

const testbed = chainTestbed();

async function blockTimerEngine(stateDir = mkdtempSync(join(tmpdir(), 'corral-block-timers-'))) {
  const engine = await Engine.start({
    runtime: testbed.runtime,
    stateDir,
    logger: captureLogger().logger,
    chains: { 31337: { rpcUrl: testbed.anvil.wsUrl } },
    modules: [{ name: 't', component: fixture('timer-probe'), grants: { store: true, timers: true }, topics: ['cmd'], triggers: [{ kind: 'block', chain: 31337 }] }],
  });
  let seq = 0;
  const run = (command: object) => engine.deliver('t', { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify(command) } }, { seq: ++seq });
  const fired = async (): Promise<string[]> => JSON.parse(new TextDecoder().decode((await engine.read('t', new TextEncoder().encode('fired'))) ?? new TextEncoder().encode('[]')));
  return { engine, run, fired, stateDir };
}
const mine = async (n: number): Promise<bigint> => {
  await testbed.anvil.rpc('anvil_mine', [`0x${n.toString(16)}`]);
  return BigInt(await testbed.anvil.rpc<string>('eth_blockNumber'));
};

describe('timers at a block', () => {
  it('default: a block timer fires once the module has handled that block, not before, and once', async () => {
    const { engine, run, fired } = await blockTimerEngine();
    const head = await mine(1);
    await engine.reached('t', 31337, head);
    expect(await run({ op: 'block', chain: 31337, number: Number(head + 3n), tag: 'b' })).toMatchObject({ ok: true });
    await engine.reached('t', 31337, await mine(2));
    await engine.settled('t');
    expect(await fired()).toEqual([]);
    await engine.reached('t', 31337, await mine(1));
    await engine.settled('t');
    expect(await fired()).toEqual(['b']);
    await engine.reached('t', 31337, await mine(3));
    await engine.settled('t');
    expect(await fired()).toEqual(['b']);
    await engine.stop();
  });

  it('behavior: a block timer passed while the engine was stopped fires once when it starts again', async () => {
    const first = await blockTimerEngine();
    const head = await mine(1);
    await first.engine.reached('t', 31337, head);
    await first.run({ op: 'block', chain: 31337, number: Number(head + 5n), tag: 'away' });
    await first.engine.stop();
    const later = await mine(10);
    const second = await blockTimerEngine(first.stateDir);
    await second.engine.reached('t', 31337, later);
    await second.engine.settled('t');
    expect(await second.fired()).toEqual(['away']);
    await second.engine.reached('t', 31337, await mine(2));
    await second.engine.settled('t');
    expect(await second.fired()).toEqual(['away']);
    await second.engine.stop();
  });

  it('error: a block timer on a chain the module does not follow is refused (the setting event fails, nothing is set)', async () => {
    const { engine, run, fired } = await blockTimerEngine();
    await engine.reached('t', 31337, await mine(1));
    await run({ op: 'block', chain: 1, number: 1, tag: 'elsewhere' });
    expect((await engine.entries('t')).filter(([k]) => isReserved(k))).toEqual([]);
    expect(await fired()).toEqual([]);
    await engine.stop();
  });
});
