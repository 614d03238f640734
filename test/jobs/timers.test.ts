import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ModuleManifest, type Runtime, type Trigger } from '../../src/index.ts';
import { ManualClock } from '../../src/clock/Clock.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { inspectState } from '../../src/cli/inspect.ts';
import { TIMER_RETRY } from '../../src/limits/defaults.ts';
import { ModuleTimers } from '../../src/jobs/ModuleTimers.ts';
import type { TimerSpec } from '../../src/jobs/timerWrites.ts';
import { DEFAULT_MAX_PENDING_TIMERS, DEFAULT_TIMER_WINDOW } from '../../src/limits/defaults.ts';
import { LevelStore } from '../../src/store/LevelStore.ts';
import type { StoreOptions } from '../../src/store/openStore.ts';
import { captureLogger, fixture, newRuntime } from '../helpers.ts';
import { backends } from '../store/backends.ts';
import { seedTimers } from './seedTimers.ts';

const runtime: Runtime = newRuntime();
afterAll(() => runtime.close());

const text = (u: Uint8Array | undefined) => (u === undefined ? undefined : new TextDecoder().decode(u));

/** An engine with the timer-probe module on a ManualClock that starts at `start` (epoch ms); on LevelDB in `stateDir`, or on the store `store` names (test/store/backends.ts). */
async function timerEngine(start = 1_000_000, stateDir = mkdtempSync(join(tmpdir(), 'corral-timers-')), triggers: Trigger[] = [], extra: Partial<ModuleManifest> = {}, store: StoreOptions = { backend: 'level', stateDir }) {
  const clock = new ManualClock(start);
  const engine = await Engine.start({
    runtime,
    store,
    logger: captureLogger().logger,
    clock,
    modules: [{ name: 't', component: fixture('timer-probe'), grants: { store: true, timers: true }, topics: ['cmd'], triggers, ...extra }],
  });
  let seq = 0;
  const run = (command: object) => engine.deliver('t', { tag: 'custom', val: { topic: 'cmd', payload: JSON.stringify(command) } }, { seq: ++seq });
  /** Advances the clock and waits until the module has handled what fell due. */
  const advance = async (ms: number) => {
    clock.advance(ms);
    await engine.settled('t');
  };
  const fired = async (): Promise<string[]> => JSON.parse(text(await engine.read('t', new TextEncoder().encode('fired'))) ?? '[]');
  return { engine, clock, run, advance, fired, stateDir, store };
}

describe('timers (ManualClock)', () => {
  it('default: a time timer fires once, when the clock reaches it, not before', async () => {
    const { engine, run, advance, fired } = await timerEngine();
    expect(await run({ op: 'at', at: 1_000_500, tag: 'a' })).toMatchObject({ ok: true });
    await advance(499);
    expect(await fired()).toEqual([]);
    await advance(1);
    expect(await fired()).toEqual(['a']);
    await advance(10_000);
    expect(await fired()).toEqual(['a']);
    await engine.stop();
  });

  it('behavior: timers fire in time order; setting a tag again moves it; cancel removes it', async () => {
    const { engine, run, advance, fired } = await timerEngine();
    await run({ op: 'at', at: 1_000_300, tag: 'late' });
    await run({ op: 'at', at: 1_000_100, tag: 'early' });
    await run({ op: 'at', at: 1_000_200, tag: 'moved' });
    await run({ op: 'at', at: 1_000_400, tag: 'moved' }); // moves it after 'late'
    await run({ op: 'at', at: 1_000_250, tag: 'cancelled' });
    await run({ op: 'cancel', tag: 'cancelled' });
    for (let i = 0; i < 10; i++) await advance(50);
    expect(await fired()).toEqual(['early', 'late', 'moved']);
    await engine.stop();
  });

  it('behavior: a timer moved while its event waited in the mailbox is not delivered stale, and fires at its new time', async () => {
    const { engine, clock, run, advance, fired } = await timerEngine();
    await run({ op: 'at', at: 1_000_100, tag: 'm' });
    // Queued first: a command that moves 'm'; then the clock fires the old 'm' behind it.
    const moving = run({ op: 'at', at: 1_005_000, tag: 'm' });
    clock.advance(100);
    await moving;
    await engine.settled('t');
    expect(await fired()).toEqual([]); // the old 'm' was stale when its turn came: refused, not delivered
    expect(engine.actors()[0]!.refused).toBe(1);
    await advance(4_899);
    expect(await fired()).toEqual([]);
    await advance(1);
    expect(await fired()).toEqual(['m']); // the moved timer was not wiped by the stale one
    expect(engine.storedBytes().t).toBe((await engine.entries('t')).reduce((sum, [k, v]) => sum + k.byteLength + v.byteLength, 0));
    await engine.stop();
  });

  it('error: a timer set by an event that then fails is not set (it was staged with the event\'s writes)', async () => {
    const { engine, run, advance, fired } = await timerEngine();
    expect(await run({ op: 'at-then-fail', at: 1_000_100, tag: 'never' })).toMatchObject({ ok: true }); // err: dropped, not a signal
    await advance(1_000);
    expect(await fired()).toEqual([]);
    await engine.stop();
  });

  describe.each(backends)('on $name', (backend) => {
    it('behavior: a timer due while the engine was stopped fires once when it starts again', async () => {
      const first = await timerEngine(undefined, undefined, [], {}, await backend.options());
      await first.run({ op: 'at', at: 1_000_100, tag: 'while-away' });
      await first.engine.stop();
      const second = await timerEngine(1_005_000, undefined, [], {}, first.store); // five seconds later
      await second.engine.settled('t');
      await second.advance(0);
      expect(await second.fired()).toEqual(['while-away']);
      await second.advance(10_000);
      expect(await second.fired()).toEqual(['while-away']);
      await second.engine.stop();
    });
  });

  it('behavior: a timer whose handler answers err is consumed like a custom event: its writes are dropped, it is not offered again', async () => {
    const { engine, run, advance, fired } = await timerEngine();
    await run({ op: 'at', at: 1_000_100, tag: 'fails' });
    await advance(100);
    expect(await fired()).toEqual([]); // the handler's append was dropped with its err
    expect(engine.actors()[0]!.invocations).toBe(2);
    await advance(5_000);
    expect(engine.actors()[0]!.invocations).toBe(2);
    await engine.stop();
  });

  it('behavior: a timer whose handler ends in a signal stays set and fires again after TIMER_RETRY.initialMs', async () => {
    const { engine, run, advance } = await timerEngine();
    await run({ op: 'at', at: 1_000_100, tag: 'spins' });
    await advance(100);
    expect(engine.actors()[0]!.failures).toEqual({ OutOfFuel: 1 });
    // Past the restart backoff (≤ 120 ms), a commit of another timer does not bring the retry forward.
    await advance(200);
    await run({ op: 'at', at: 9_000_000, tag: 'unrelated' });
    await advance(TIMER_RETRY.initialMs - 200 - 1);
    expect(engine.actors()[0]!.failures).toEqual({ OutOfFuel: 1 });
    await advance(1);
    expect(engine.actors()[0]!.failures).toEqual({ OutOfFuel: 2 });
    // Then twice as long.
    await advance(2 * TIMER_RETRY.initialMs - 1);
    expect(engine.actors()[0]!.failures).toEqual({ OutOfFuel: 2 });
    await advance(1);
    expect(engine.actors()[0]!.failures).toEqual({ OutOfFuel: 3 });
    await engine.stop();
  });

  it('behavior: corral inspect shows pending timers apart from the module\'s keys', async () => {
    const { engine, run, stateDir } = await timerEngine();
    await run({ op: 'at', at: 2_000_000, tag: 'later' });
    await engine.stop();
    const summary = (await inspectState(stateDir)) as { modules: { name: string; keys: number; timers: number }[] };
    expect(summary.modules).toEqual([expect.objectContaining({ name: 't', keys: 0, timers: 1 })]);
    expect(await inspectState(stateDir, { module: 't' })).toMatchObject({ entries: [], timers: [{ tag: 'later', spec: { at: 2_000_000 } }], cronTicks: {} });
  });

  it('error: a module cannot read, write, delete or list corral\'s reserved keys (its timers live there); its own 0xff keys are fine', async () => {
    const { engine, run } = await timerEngine();
    await run({ op: 'at', at: 2_000_000, tag: 'x' });
    await run({ op: 'reserved' });
    expect(JSON.parse(text(await engine.read('t', new TextEncoder().encode('reserved')))!)).toEqual({ get: 'invalid-input', set: 'invalid-input', delete: 'invalid-input', listed: ['255,1'] });
    await engine.stop();
  });
});

describe('timer bounds (ManualClock)', () => {
  it('error: a timer bomb is refused at its cap with limit("pending-timers"); pending timers stay bounded and the module still takes its other events', async () => {
    // 200 timer calls take a QuickJS guest past the default 250 ms on a loaded machine: the deadline is not what this tests.
    const { engine, clock, run, stateDir } = await timerEngine(undefined, undefined, [], { limits: { timeoutMs: 10_000 } });
    await run({ op: 'bomb', n: 200 }); // each of these sets 200 more, due at once, when it fires
    clock.advance(0);
    const refused = async () => JSON.parse(text(await engine.read('t', new TextEncoder().encode('bomb-refused'))) ?? 'null');
    await expect.poll(refused, { timeout: 60_000 }).toEqual({ tag: 'limit', val: 'pending-timers' });
    // The bomb keeps firing at its cap (each timer sets one more); a custom event still gets its turn.
    expect(await run({ op: 'note', text: 'still here' })).toMatchObject({ ok: true });
    expect(text(await engine.read('t', new TextEncoder().encode('note')))).toBe('still here');
    await engine.stop();
    const summary = (await inspectState(stateDir)) as { modules: { timers: number }[] };
    expect(summary.modules[0]!.timers).toBeLessThanOrEqual(DEFAULT_MAX_PENDING_TIMERS);
    expect(summary.modules[0]!.timers).toBeGreaterThan(DEFAULT_MAX_PENDING_TIMERS - 200);
  });

  it("behavior: a start on the cap's worth of pending timers reads a bounded number of them", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-timers-'));
    const half = DEFAULT_MAX_PENDING_TIMERS / 2;
    await seedTimers(stateDir, [
      ...Array.from({ length: half }, (_, i): [string, TimerSpec] => [`time${i}`, { at: 2_000_000 + i }]),
      ...Array.from({ length: half }, (_, i): [string, TimerSpec] => [`block${i}`, { chain: '31337', block: String(100 + i) }]),
    ]);
    const store = await LevelStore.open(stateDir);
    const timers = await ModuleTimers.load(await store.module('t'));
    expect(timers.keysRead).toBeLessThanOrEqual(2 * DEFAULT_TIMER_WINDOW);
    expect(timers.held).toBeLessThanOrEqual(2 * DEFAULT_TIMER_WINDOW);
    expect(timers.next()).toBe(2_000_000);
    await store.close();
  });

  it('behavior: timers past the ones held in memory still fire, in due order, in bounded batches', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-timers-'));
    const count = 2 * DEFAULT_TIMER_WINDOW + 300;
    const tags = Array.from({ length: count }, (_, i) => `ord${String(i).padStart(5, '0')}`);
    // Seeded in reverse tag order: due order, not tag order, decides.
    await seedTimers(stateDir, tags.map((tag, i): [string, TimerSpec] => [tag, { at: 1_000_000 + count - i }]).reverse());
    const { engine, clock } = await timerEngine(1_000_000, stateDir);
    clock.advance(count);
    const handled = async () => Number(text(await engine.read('t', new TextEncoder().encode('ord-count'))) ?? 0);
    await expect.poll(handled, { timeout: 60_000 }).toBe(count);
    const order = (await engine.entries('t')).filter(([key]) => text(key)!.startsWith('ord/')).map(([, value]) => text(value));
    expect(order).toEqual([...tags].reverse()); // entries come in key order: ord/00000000, ord/00000001, …
    await engine.stop();
  });
});

describe('cron triggers (ManualClock)', () => {
  const minute = 60_000;
  const start = Date.UTC(2026, 0, 1, 0, 0, 30); // 30 s into a minute
  const everyMinute = [{ kind: 'cron' as const, schedule: '* * * * *', name: 'minutely' }];

  it('default: a cron trigger delivers a schedule event at each tick, none before the module existed', async () => {
    const { engine, advance, fired } = await timerEngine(start, undefined, everyMinute);
    await advance(29_999);
    expect(await fired()).toEqual([]); // the 00:00 tick was before the engine started
    await advance(1);
    expect(await fired()).toEqual([`minutely@${start + 30_000}`]);
    await advance(minute);
    await advance(minute);
    expect(await fired()).toEqual([`minutely@${start + 30_000}`, `minutely@${start + 30_000 + minute}`, `minutely@${start + 30_000 + 2 * minute}`]);
    await engine.stop();
  });

  describe.each(backends)('on $name', (backend) => {
    it('behavior: ticks missed while the engine was stopped are coalesced into one, the latest, at start', async () => {
      const first = await timerEngine(start, undefined, everyMinute, {}, await backend.options());
      await first.advance(30_000);
      expect(await first.fired()).toHaveLength(1);
      await first.engine.stop();
      const later = start + 30_000 + 10 * minute + 5_000; // ten ticks missed
      const second = await timerEngine(later, undefined, everyMinute, {}, first.store);
      await second.advance(0);
      expect(await second.fired()).toEqual([`minutely@${start + 30_000}`, `minutely@${start + 30_000 + 10 * minute}`]);
      await second.advance(minute);
      expect((await second.fired()).at(-1)).toBe(`minutely@${start + 30_000 + 11 * minute}`);
      await second.engine.stop();
    });
  });

  it('behavior: a time zone moves the ticks ("0 9 * * *" at 09:00 in Tokyo is 00:00 UTC)', async () => {
    const midnight = Date.UTC(2026, 0, 2, 0, 0, 0);
    const { engine, advance, fired } = await timerEngine(midnight - 1_000, undefined, [{ kind: 'cron', schedule: '0 9 * * *', timezone: 'Asia/Tokyo', name: 'tokyo-morning' }]);
    await advance(1_000);
    expect(await fired()).toEqual([`tokyo-morning@${midnight}`]);
    await engine.stop();
  });
});
