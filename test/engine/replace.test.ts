import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/Clock.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { EngineError } from '../../src/errors/EngineError.ts';
import { ReplaceError } from '../../src/errors/ReplaceError.ts';
import type { Runtime } from '../../src/index.ts';
import { captureLogger, fixture, newRuntime } from '../helpers.ts';

const runtime: Runtime = newRuntime();
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (u: Uint8Array | undefined) => (u === undefined ? undefined : new TextDecoder().decode(u));
const counter = { name: 'counter', component: fixture('counter'), grants: { store: true, logging: true }, topics: ['cmd'] };
const incr = JSON.stringify({ op: 'incr' });

// One engine for the file: each test leaves `counter` serving the counter fixture.
let engine: Engine;
const clock = new ManualClock();
/** A counter whose circuit opens at its second signal. */
const fragile = { ...counter, name: 'fragile', topics: ['fragile'], supervision: { intensity: 1 }, limits: { timeoutMs: 30_000 } };
beforeAll(async () => {
  engine = await Engine.start({ runtime, stateDir: mkdtempSync(join(tmpdir(), 'corral-replace-')), logger: captureLogger().logger, clock, modules: [counter, fragile] });
});
afterAll(async () => {
  await engine.stop();
  await runtime.close();
});

const count = async () => Number(text(await engine.read('counter', bytes('count'))) ?? '0');
async function publishIncr(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await engine.publish('cmd', incr);
  await engine.settled('counter');
}

describe('engine.replace', () => {
  it('default: the new build takes over from the same state and cursor, and is kept after its first invocations', async () => {
    await publishIncr(2);
    const before = await count();
    const cursor = (await engine.cursor('counter')) as { seq: number };
    const swapped = await engine.replace({ ...counter, component: fixture('counter-v2') });
    expect(swapped.previous).not.toBe(swapped.version);
    // counter-v2 is built against counter's world: the same imports.
    expect(swapped.capabilities).toEqual({ added: [], removed: [], ungranted: [] });
    await publishIncr(3);
    expect(await swapped.probation).toEqual({ result: 'kept', outcomes: ['ok', 'ok', 'ok'] });
    // counter-v2 counts in steps of two, from where counter left it; the cursor goes on from its own.
    expect(await count()).toBe(before + 6);
    expect(await engine.cursor('counter')).toEqual({ seq: cursor.seq + 3 });
    await engine.replace(counter);
  });

  it('behavior: a signal in the new version\'s first events swaps the previous one back, which handles the event the new one failed', async () => {
    await publishIncr(1);
    const before = await count();
    const cursor = (await engine.cursor('counter')) as { seq: number };
    // The same component under a fuel budget it cannot run on: its first event ends in OutOfFuel.
    const starved = await engine.replace({ ...counter, limits: { fuel: 1_000 } });
    await engine.publish('cmd', incr);
    expect(await starved.probation).toEqual({ result: 'rolled-back', outcomes: ['OutOfFuel'], signal: 'OutOfFuel', redelivered: 1 });
    await engine.settled('counter');
    // Handled once, by the previous version: its write and its cursor committed, nothing lost or twice.
    expect(await count()).toBe(before + 1);
    expect(await engine.cursor('counter')).toEqual({ seq: cursor.seq + 1 });
    await publishIncr(1);
    expect(await count()).toBe(before + 2);
  });

  it('behavior: a rollback after the file was rebuilt in place loads the previous build from the bytes kept since it was loaded: it serves again, with its state and cursor', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-replace-inplace-'));
    const path = join(dir, 'module.wasm');
    copyFileSync(fixture('counter'), path);
    const inPlace = { ...counter, component: path };
    const own = await Engine.start({ runtime, stateDir: join(dir, 'state'), logger: captureLogger().logger, clock: new ManualClock(), modules: [inPlace] });
    const owned = async () => Number(text(await own.read('counter', bytes('count'))) ?? '0');
    try {
      await own.publish('cmd', incr);
      await own.settled('counter');
      const cursor = (await own.cursor('counter')) as { seq: number };
      // Rebuilt in place: counter-v2 (steps of two) at the same path, under a fuel budget it cannot run on.
      copyFileSync(fixture('counter-v2'), path);
      const swapped = await own.replace({ ...inPlace, limits: { fuel: 1_000 } });
      await own.publish('cmd', incr);
      expect(await swapped.probation).toEqual({ result: 'rolled-back', outcomes: ['OutOfFuel'], signal: 'OutOfFuel', redelivered: 1 });
      await own.settled('counter');
      // The event the new build failed was handled once, by the previous build (a step of one), with its cursor.
      expect(await owned()).toBe(2);
      expect(await own.cursor('counter')).toEqual({ seq: cursor.seq + 1 });
      await own.publish('cmd', incr);
      await own.settled('counter');
      expect(await owned()).toBe(3);
      // The rebuilt file is left as the build wrote it.
      expect(readFileSync(path).equals(readFileSync(fixture('counter-v2')))).toBe(true);
    } finally {
      await own.stop();
    }
  });

  it('behavior: events published while the swap runs wait for it: each is handled once, by one version or the other', async () => {
    const before = await count();
    let swapped = false;
    const swap = engine.replace({ ...counter, config: 'v2' }).then((r) => (swapped = true) && r);
    let published = 0;
    for (; !swapped && published < 500; published++) await engine.publish('cmd', incr);
    await swap;
    await engine.settled('counter');
    expect(published).toBeGreaterThan(0);
    expect(await count()).toBe(before + published);
    await engine.replace(counter);
  });

  it('behavior: a swap closes the circuit the previous version opened: the new version gets its events', async () => {
    let seq = 0;
    const deliver = (command: object) => engine.deliver('fragile', { tag: 'custom', val: { topic: 'fragile', payload: JSON.stringify(command) } }, { seq: ++seq });
    // Past its store-op cap: HostLimitExceeded, twice (the second after the restart's backoff) opens the circuit.
    const exceed = { op: 'write-many', n: 1, then: 'exceed' };
    expect(await deliver(exceed)).toMatchObject({ ok: false, signal: { name: 'HostLimitExceeded' } });
    clock.advance(1_000);
    expect(await deliver(exceed)).toMatchObject({ ok: false, signal: { name: 'HostLimitExceeded' } });
    expect(engine.actors().find((a) => a.name === 'fragile')?.breaker).toBe('open');
    await engine.replace(fragile);
    expect(engine.actors().find((a) => a.name === 'fragile')?.breaker).toBe('closed');
    expect(await deliver({ op: 'incr' })).toMatchObject({ ok: true });
    expect(text(await engine.read('fragile', bytes('count')))).toBe('1');
  });

  it('error: a build importing an interface its manifest does not grant is refused with the diff, and the old version serves on', async () => {
    const error = await engine.replace({ ...counter, grants: { store: true } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplaceError);
    expect((error as ReplaceError).code).toBe('capability-not-granted');
    expect((error as ReplaceError).details).toMatchObject({ module: 'counter', capabilities: { ungranted: [{ import: 'corral:module/logging', grant: 'logging' }] } });
    const before = await count();
    await publishIncr(1);
    expect(await count()).toBe(before + 1);
  });

  it('error: a new manifest whose messages grant names a module that is not there is refused as at load (invalid-grant), and the old version serves on', async () => {
    const error = await engine.replace({ ...counter, grants: { ...counter.grants, messages: ['nowhere'] } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect(error).toMatchObject({ code: 'invalid-grant', details: { module: 'counter', to: 'nowhere' } });
    const before = await count();
    await publishIncr(1);
    expect(await count()).toBe(before + 1);
  });

  it('error: a build that cannot be loaded is refused before the old version stops, which serves on', async () => {
    const broken = join(mkdtempSync(join(tmpdir(), 'corral-replace-')), 'broken.wasm');
    writeFileSync(broken, 'not a component');
    const error = await engine.replace({ ...counter, component: broken }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplaceError);
    expect((error as ReplaceError).code).toBe('load-failed');
    const before = await count();
    await publishIncr(1);
    expect(await count()).toBe(before + 1);
  });
});
