import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { componentize } from 'componentize-qjs';
import { firstValueFrom, filter } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ChainStep, InvocationRecord } from '../../src/index.ts';
import { chainEngine, chainTestbed } from './chainHarness.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const testbed = chainTestbed();
const BLOCKS = 3_000;

/**
 * The module `corral new --js` scaffolds, built as its own build.mjs builds it (componentize-qjs): the
 * JavaScript module a new user starts from, not a WAT fixture. (The TypeScript scaffold bundles first;
 * test/cli/new.test.ts runs it.)
 */
let component: string;
beforeAll(() => {
  const dir = join(mkdtempSync(join(tmpdir(), 'corral-catchup-')), 'greeter');
  const made = spawnSync(process.execPath, [join(root, 'bin', 'corral.mjs'), 'new', dir, '--js'], { encoding: 'utf8' });
  expect(made.status, made.stderr).toBe(0);
  return (async () => {
    const jsPath = join(dir, 'src', 'module.js');
    const built = await componentize({ witPath: join(dir, 'wit'), jsSource: readFileSync(jsPath, 'utf8'), jsPath, stubWasi: true, sync: true });
    mkdirSync(join(dir, 'build'), { recursive: true });
    component = join(dir, 'build', 'greeter.wasm');
    writeFileSync(component, built.component);
  })();
}, 120_000);

describe('catch-up', () => {
  it('behavior: the scaffold\'s JavaScript module catches up on thousands of blocks under the default limits, many events per step, none failing', async () => {
    await testbed.anvil.rpc('anvil_mine', [`0x${BLOCKS.toString(16)}`]);
    const tip = BigInt(await testbed.anvil.rpc('eth_blockNumber', []));
    const failures: InvocationRecord[] = [];
    const steps: ChainStep[] = [];
    const { engine, records } = await chainEngine(testbed.runtime, { rpcUrl: testbed.anvil.url, pollIntervalMs: 20 }, [
      // No `limits`: the engine's defaults (fuel, a 250 ms deadline per event).
      { name: 'greeter', component, limits: undefined, startBlock: 0, config: JSON.stringify({ greeting: 'hi' }), triggers: [{ kind: 'block', chain: 31337 }] },
    ]);
    engine.invocations$.subscribe((r) => r.outcome !== 'ok' && failures.push(r));
    engine.steps$.subscribe((s) => steps.push(s));
    // On main the first step past 250 ms in total failed every host call after it, was retried and
    // quarantined, and the cursor never reached the tip: ends as soon as the module is quarantined.
    const quarantined = firstValueFrom(engine.signals$.pipe(filter((s) => s.actor === 'greeter' && s.type === 'Quarantined')));
    const ended = await Promise.race([engine.reached('greeter', 31337, tip).then(() => 'reached' as const), quarantined.then(() => 'quarantined' as const)]);
    if (failures.length > 0) console.log('catch-up: invocations that did not end ok', JSON.stringify(failures));
    expect(ended).toBe('reached');
    // The deadline is wall-clock (250 ms an event): with the suite's other files on both cores, one
    // event past it is the deadline working, and its step runs again. Nothing else may fail: not fuel,
    // not memory, not a trap, not an `err` (it tripped in two full runs this session; alone, never).
    expect(failures.filter((r) => r.outcome !== 'ExecutionTimeout')).toEqual([]);
    const text = (u: Uint8Array | undefined) => (u === undefined ? undefined : new TextDecoder().decode(u));
    expect(text(await engine.read('greeter', new TextEncoder().encode('last-block')))).toBe(String(tip));
    expect(text(await engine.read('greeter', new TextEncoder().encode('blocks')))).toBe(String(tip + 1n)); // blocks 0…tip, each once
    // The first step only placed the origin: its debug line names the first block, not a block "-1".
    expect(records.find((r) => r.msg === 'chain feed starts')).toMatchObject({ module: 'greeter', firstBlock: '0' });
    expect(records.filter((r) => r.block === '-1')).toEqual([]);
    // The catch-up really handed the module many events per invocation (a step is one invocation).
    expect(Math.max(...steps.map((s) => s.events))).toBeGreaterThanOrEqual(500);
    await engine.stop();
  }, 300_000); // thousands of headers fetched and 3,000 QuickJS events: ~40 s on a loaded 2-core machine
});
