import { describe, expect, it } from 'vitest';
import { renderStatus } from '../../src/cli/status.ts';
import { deployEmitter } from '../emitter.ts';
import { chainEngine, chainTestbed } from '../integration/chainHarness.ts';

const testbed = chainTestbed();
const { runtime } = testbed;

describe('corral run: live status', () => {
  it('behavior: shows each chain\'s head, and per module its state, breaker, invocations, chain events, block and lag, and the latest warnings', async () => {
    const emitter = await deployEmitter(testbed.anvil);
    const { engine } = await chainEngine(runtime, { rpcUrl: testbed.anvil.url, pollIntervalMs: 20 }, [
      { name: 'watch', startBlock: Number(emitter.deployedAt) + 1, triggers: [{ kind: 'log', chain: 31337, address: emitter.address }] },
    ]);
    let last = 0n;
    for (let i = 0; i < 3; i++) last = await emitter.emit(1, 2); // 3 logs each
    await engine.reached('watch', 31337, last);
    const head = engine.chainPositions()[0]!.head!;
    const text = renderStatus(engine, { config: 'engine.toml', startedAt: 0, now: 3_723_000, anvils: { 31337: testbed.anvil.url }, logFile: 'state/corral.log', warnings: ['12:00:00 watch: a warning'] });
    expect(text).toContain('corral · engine.toml · up 01:02:03');
    expect(text).toMatch(new RegExp(`^31337\\s+${head}\\s+embedded anvil ${testbed.anvil.url}`, 'm'));
    const row = text.split('\n').find((l) => l.startsWith('watch'))!;
    expect(row.split(/\s{2,}|\s(?=\S)/).filter(Boolean)).toEqual(expect.arrayContaining(['watch', 'closed', '9', `${last}`, `(${head - last})`]));
    expect(text).toContain('recent warnings\n  12:00:00 watch: a warning');
    await engine.stop();
  });
});
