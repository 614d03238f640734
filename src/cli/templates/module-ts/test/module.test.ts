// Runs the built module in a real corral engine (worker threads, LevelDB in a temp directory).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createEngine } from 'corral';
import { encodeAbiParameters, encodeEventTopics, erc20Abi } from 'viem';

const component = fileURLToPath(new URL('../build/__NAME__.wasm', import.meta.url));
const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (u: Uint8Array | undefined) => (u === undefined ? undefined : new TextDecoder().decode(u));
type Corral = ReturnType<typeof createEngine>;

/** An engine with the module on the `greet` and `transfer` topics, stopped and removed when the test ends. */
async function engine(t: TestContext): Promise<Corral> {
  const stateDir = await mkdtemp(join(tmpdir(), '__NAME__-'));
  const corral = createEngine({
    // A deadline well past the default 250 ms: this test checks what the module does, and a busy machine (CI
    // running tests side by side) must not fail it on time. Its speed is engine.toml's and a benchmark's business.
    engine: { stateDir, logLevel: 'warn', limits: { timeoutMs: 5_000 } },
    // Keep these grants in step with engine.toml's (e.g. `queue: true` when the module defers work).
    modules: [{ name: '__NAME__', component, grants: { store: true, logging: true }, triggers: [{ kind: 'custom', topic: 'greet' }, { kind: 'custom', topic: 'transfer' }], config: JSON.stringify({ greeting: 'hi' }) }],
  });
  await corral.start();
  t.after(async () => {
    await corral.stop();
    await rm(stateDir, { recursive: true, force: true });
  });
  return corral;
}

/** Resolves with the outcomes of the next `n` events the engine handles. */
function outcomes(corral: Corral, n: number): Promise<string[]> {
  return new Promise((resolve) => {
    const seen: string[] = [];
    const subscription = corral.engine.invocations$.subscribe((record) => {
      seen.push(record.outcome);
      if (seen.length === n) {
        subscription.unsubscribe();
        resolve(seen);
      }
    });
  });
}

test('greets each name it is sent, with the configured greeting, and counts them', async (t) => {
  const corral = await engine(t);
  const handled = outcomes(corral, 3);
  for (const name of ['ada', 'grace', 'ada']) await corral.publish('greet', JSON.stringify({ name }));
  assert.deepEqual(await handled, ['ok', 'ok', 'ok']);
  assert.equal(text(await corral.engine.read('__NAME__', utf8('count'))), '3');
  assert.equal(text(await corral.engine.read('__NAME__', utf8('greeted/grace'))), 'hi, grace');
});

test('a payload without a name fails that event and keeps none of its writes', async (t) => {
  const corral = await engine(t);
  const handled = outcomes(corral, 2);
  await corral.publish('greet', JSON.stringify({ name: 'ada' }));
  await corral.publish('greet', JSON.stringify({ nom: 'bob' }));
  assert.deepEqual(await handled, ['ok', 'rejected']);
  assert.equal(text(await corral.engine.read('__NAME__', utf8('count'))), '1');
});

test("decodes ERC-20 Transfer logs with viem's ABI functions inside the module and adds up what each address received", async (t) => {
  const corral = await engine(t);
  const from = '0x00000000000000000000000000000000000000a1';
  const to = '0x00000000000000000000000000000000000000b2';
  const transfer = (value: bigint) => ({
    topics: encodeEventTopics({ abi: erc20Abi, eventName: 'Transfer', args: { from, to } }),
    data: encodeAbiParameters([{ type: 'uint256' }], [value]),
  });
  const handled = outcomes(corral, 2);
  // 2^64 + 1 and 1: past a JavaScript number's precision, so only BigInt arithmetic adds them right.
  for (const value of [2n ** 64n + 1n, 1n]) await corral.publish('transfer', JSON.stringify(transfer(value)));
  assert.deepEqual(await handled, ['ok', 'ok']);
  assert.equal(text(await corral.engine.read('__NAME__', utf8(`received/${to}`))), String(2n ** 64n + 2n));
});
