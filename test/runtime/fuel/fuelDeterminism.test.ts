import { afterAll, describe, expect, it } from 'vitest';
import { ExecutionTimeout, OutOfFuel, Recorder, replay, type CallFailure, type Runtime } from '../../../src/index.ts';
import { FUEL_SLICE } from '../../../src/limits/defaults.ts';
import { fixture, newRuntime } from '../../helpers.ts';

/*
 * Metering of the three kinds of guest corral meets: hand-written WAT, QuickJS (componentize-qjs) and
 * StarlingMonkey (componentize-js). Fuel is charged by region (fuel/chargePlan.ts) and refuelled in
 * slices that grow while they run out quickly (worker/Meter.ts): neither may make a call's fuel depend on
 * the instance, the slice it started with, or the run.
 */

const runtime: Runtime = newRuntime({ threads: 1 });
afterAll(() => runtime.close());

const json = JSON.stringify({ orders: Array.from({ length: 8 }, (_, i) => ({ id: i, owner: '0xabc', amounts: [i, i * 2] })) });

interface Guest {
  name: string;
  fixture: Parameters<typeof fixture>[0];
  imports?: Record<string, Record<string, (...args: never[]) => unknown>>;
  /** A call with some work, and the same export with more (run first on a warm instance so its slice has grown). */
  call: [string, unknown[]];
  longCall: [string, unknown[]];
  loop: [string, unknown[]];
  recurse: [string, unknown[]];
  /** A budget the guest's start-up fits in, that recursion or a loop soon spends. */
  smallFuel: number;
}

const guests: Guest[] = [
  { name: 'WAT', fixture: 'compute', call: ['hash', [new Uint8Array(512).fill(3), 20]], longCall: ['work', [2_000_000]], loop: ['spin', []], recurse: ['recurse', [0]], smallFuel: 10_000 },
  {
    name: 'QuickJS',
    fixture: 'js-guest',
    imports: { 'corral-fixtures:js-guest/host': { echo: (s: string) => s } },
    call: ['reformat', [json, 2]],
    longCall: ['reformat', [json, 40]],
    loop: ['spin', []],
    recurse: ['recurse', [0]],
    smallFuel: 2_000_000,
  },
  { name: 'StarlingMonkey', fixture: 'wasi-guest', call: ['spin', [300]], longCall: ['spin', [20_000]], loop: ['spin', [0]], recurse: ['recurse', [0]], smallFuel: 30_000_000 },
];

/** Large enough for every call above on every guest; the deadline, not the fuel, bounds them. */
const FUEL = 1e11;

describe.each(guests)('$name guest', (guest) => {
  const load = (name: string, options: Parameters<Runtime['load']>[1] = {}) =>
    runtime.load(fixture(guest.fixture), { name: `${guest.fixture}-${name}`, imports: guest.imports, limits: { fuel: FUEL, timeoutMs: 60_000 }, ...options });

  it('behavior: a call charges the same fuel cold, warm after long calls grew the slice, and in a replay of it', async () => {
    const recorder = new Recorder();
    const cold = await load('cold', { pool: { maxUses: 1 } });
    const warm = await load('warm', { record: recorder });
    const [exportName, args] = guest.call;
    const fuel: number[] = [];
    for (let i = 0; i < 3; i++) {
      fuel.push((await cold.call(exportName, args)).fuelUsed);
      // A long call first: the warm instance's meter now hands out larger slices than a fresh one.
      const long = await warm.call(guest.longCall[0], guest.longCall[1]);
      expect(long.fuelUsed).toBeGreaterThan(FUEL_SLICE);
      fuel.push((await warm.call(exportName, args)).fuelUsed);
    }
    expect(fuel[0]).toBeGreaterThan(0);
    expect(new Set(fuel)).toEqual(new Set([fuel[0]]));
    expect(cold.stats().created).toBeGreaterThanOrEqual(3);

    const report = await replay(recorder.toJSON(), runtime);
    expect(report).toMatchObject({ invocations: 6, identical: true });
    await Promise.all([cold.close(), warm.close()]);
  });

  it('fuel: an infinite loop ends in OutOfFuel having used exactly its budget', async () => {
    const component = await load('loop-fuel');
    const budget = guest.smallFuel * 4;
    const outcome = (await component.invoke(guest.loop[0], guest.loop[1], { fuel: budget })) as CallFailure;
    expect(outcome.ok).toBe(false);
    expect(outcome.signal).toBeInstanceOf(OutOfFuel);
    expect((outcome.signal as OutOfFuel).fuelUsed).toBe(budget);
    await component.close();
  });

  it('deadline: an infinite loop with fuel to spare ends in ExecutionTimeout, stopped by the meter (its worker is not terminated)', async () => {
    const component = await load('loop-deadline');
    const outcome = (await component.invoke(guest.loop[0], guest.loop[1], { fuel: Number.MAX_SAFE_INTEGER, timeoutMs: 100 })) as CallFailure;
    expect(outcome.ok).toBe(false);
    expect(outcome.signal).toBeInstanceOf(ExecutionTimeout);
    const signal = outcome.signal as ExecutionTimeout;
    expect(signal.terminated).toBe(false);
    expect(signal.fuelUsed).toBeGreaterThan(0);
    expect(component.stats().recycled.terminated).toBe(0);
    await component.close();
  });

  it('fuel: unbounded recursion ends in OutOfFuel having used exactly its budget', async () => {
    const component = await load('recurse');
    const outcome = (await component.invoke(guest.recurse[0], guest.recurse[1], { fuel: guest.smallFuel })) as CallFailure;
    expect(outcome.ok).toBe(false);
    expect(outcome.signal).toBeInstanceOf(OutOfFuel);
    expect((outcome.signal as OutOfFuel).fuelUsed).toBe(guest.smallFuel);
    await component.close();
  });
});
