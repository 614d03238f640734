// Runs the built module in a real corral engine (worker threads, LevelDB in a temp directory).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createEngine } from 'corral';

const component = fileURLToPath(new URL('../build/__NAME__.wasm', import.meta.url));
const utf8 = (s) => new TextEncoder().encode(s);
const text = (u) => (u === undefined ? undefined : new TextDecoder().decode(u));

/** An engine with the module on the `greet` topic, stopped and removed when the test ends. */
async function engine(t) {
  const stateDir = await mkdtemp(join(tmpdir(), '__NAME__-'));
  const corral = createEngine({
    // A deadline well past the default 250 ms: this test checks what the module does, and a busy machine (CI
    // running tests side by side) must not fail it on time. Its speed is engine.toml's and a benchmark's business.
    engine: { stateDir, logLevel: 'warn', limits: { timeoutMs: 5_000 } },
    // Keep these grants in step with engine.toml's (e.g. `queue: true` when the module defers work).
    modules: [{ name: '__NAME__', component, grants: { store: true, logging: true }, triggers: [{ kind: 'custom', topic: 'greet' }], config: JSON.stringify({ greeting: 'hi' }) }],
  });
  await corral.start();
  t.after(async () => {
    await corral.stop();
    await rm(stateDir, { recursive: true, force: true });
  });
  return corral;
}

/** Resolves with the outcomes of the next `n` events the engine handles. */
function outcomes(corral, n) {
  return new Promise((resolve) => {
    const seen = [];
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
