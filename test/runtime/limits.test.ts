import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecutionTimeout, MemoryLimitExceeded, OutOfFuel, Runtime, Trap, type CallFailure, type Component, type TrapCode } from '../../src/index.ts';
import { WASM_PAGE_BYTES } from '../../src/limits/defaults.ts';
import { Supervisor } from '../../src/supervisor/Supervisor.ts';
import { Meter, MeterStop } from '../../src/runtime/worker/Meter.ts';
import { fixture, hostCallerImports, newRuntime } from '../helpers.ts';

// A short grace so the backstop test does not wait long; the cooperative tests never reach it.
const runtime: Runtime = newRuntime({ graceMs: 20 });
let compute: Component;
beforeAll(async () => {
  compute = await runtime.load(fixture('compute'), { limits: { memoryBytes: 4 * 1024 * 1024 } });
});
afterAll(() => runtime.close());

const discarded = (c: Component) => {
  const { trap, limit, terminated } = c.stats().recycled;
  return trap + limit + terminated;
};

/** Runs a call that must end in a signal, and checks that its instance was discarded, not kept. */
async function failure(call: () => Promise<unknown>, component: Component = compute): Promise<CallFailure> {
  const before = discarded(component);
  const outcome = (await call()) as CallFailure;
  expect(outcome.ok).toBe(false);
  expect(discarded(component)).toBe(before + 1);
  return outcome;
}

/** After a signal, the component serves the next call (on another instance: the failed one is gone). */
async function expectRecovery(): Promise<void> {
  const next = await compute.call('add', [2, 3]);
  expect(next.value).toBe(5);
}

describe('limits', () => {
  it('fuel: an infinite loop ends in OutOfFuel with its fields', async () => {
    const { signal } = await failure(() => compute.invoke('spin', [], { fuel: 100_000, timeoutMs: 10_000 }));
    expect(signal).toBeInstanceOf(OutOfFuel);
    const oof = signal as OutOfFuel;
    expect(oof.fuelLimit).toBe(100_000);
    expect(oof.fuelUsed).toBeGreaterThanOrEqual(100_000);
    expect(oof.fuelUsed).toBeLessThan(100_000 + 10); // at most one block's charge past the limit
    expect(oof.component).toBe('compute');
    expect(oof.exportName).toBe('spin');
    expect(oof.invocationId).toMatch(/^[0-9a-f-]{36}$/);
    await expectRecovery();
  });

  it('priority: the fuel runs out in the slice in which the deadline passed: the meter stops for fuel', () => {
    // Driven directly, as a guest's refuel call would: a timed guest cannot make both happen at the
    // same check on purpose. The slice handed out (0) is overdrawn by 150 against a budget of 100, and
    // the deadline is already behind us: both hold at this refuel, and fuel wins.
    const meter = new Meter();
    meter.globals.push(new WebAssembly.Global({ value: 'i32', mutable: true }, 0));
    meter.grants.push(0);
    meter.reset(100, performance.now() - 1);
    expect(() => meter.refuel(0, -150)).toThrow(MeterStop);
    expect(meter.stop?.reason).toBe('fuel');
    // Sticky: a guest that swallowed the exception is stopped again, for the same reason.
    expect(() => meter.refuel(0, -1)).toThrow(expect.objectContaining({ reason: 'fuel' }));
  });

  it('priority: a host error that comes back after the deadline passed is ExecutionTimeout, not a Trap', async () => {
    // The host takes 50 ms and then fails; the deadline is 10 ms. Both a timeout and a host-error trap
    // apply to this call, and the deadline ranks above the trap.
    const caller = await runtime.load(fixture('host-caller'), {
      imports: hostCallerImports({
        fail: async () => {
          await new Promise((resolve) => setTimeout(resolve, 50));
          throw new Error('failed late');
        },
      }),
    });
    const { signal } = await failure(() => caller.invoke('call-fail', [], { timeoutMs: 10, fuel: 1_000_000 }), caller);
    expect(signal).toBeInstanceOf(ExecutionTimeout);
  });

  it('fuel: infinite recursion ends in OutOfFuel when the budget is small', async () => {
    const { signal } = await failure(() => compute.invoke('recurse', [0], { fuel: 10_000 }));
    expect(signal).toBeInstanceOf(OutOfFuel);
    await expectRecovery();
  });

  it('trap: infinite recursion with a large budget ends in a stack overflow', async () => {
    const { signal } = await failure(() => compute.invoke('recurse', [0], { fuel: 50_000_000 }));
    expect(signal).toBeInstanceOf(Trap);
    expect((signal as Trap).code).toBe('stack-overflow');
    await expectRecovery();
  });

  it('deadline: a spinning guest stops cooperatively and its worker lives on', async () => {
    const before = compute.stats();
    const { signal } = await failure(() => compute.invoke('spin', [], { timeoutMs: 30, fuel: Number.MAX_SAFE_INTEGER }));
    expect(signal).toBeInstanceOf(ExecutionTimeout);
    const timeout = signal as ExecutionTimeout;
    expect(timeout.timeoutMs).toBe(30);
    expect(timeout.elapsedMs).toBeGreaterThanOrEqual(30);
    expect(timeout.fuelUsed).toBeGreaterThan(0);
    expect(timeout.terminated).toBe(false);
    expect(compute.stats().recycled.terminated).toBe(before.recycled.terminated);
    expect(compute.stats().recycled.limit).toBe(before.recycled.limit + 1);
    await expectRecovery();
  });

  it('deadline: a call that returns past its deadline is ExecutionTimeout, not ok, wherever it was when the deadline passed', async () => {
    // The meter checks the deadline only when a fuel slice runs out; the worker also checks it when the
    // call returns. A deadline of 1 µs passes before or during this short call, at a check or not: the
    // outcome is the same. (It cannot show the return-time check alone without timing the guest.)
    for (let i = 0; i < 5; i++) {
      const { signal } = await failure(() => compute.invoke('work', [200], { fuel: 1e9, timeoutMs: 0.001 }));
      expect(signal).toBeInstanceOf(ExecutionTimeout);
      expect((signal as ExecutionTimeout).terminated).toBe(false);
      expect((signal as ExecutionTimeout).elapsedMs).toBeGreaterThan(0.001);
    }
    await expectRecovery();
  });

  it('deadline: a guest the meter cannot interrupt is stopped by the backstop, which replaces its worker', async () => {
    // `stall` grows memory to 1 GiB and fills it in one memory.fill: the fill is charged (and the
    // deadline checked) before it runs, then nothing is checked until it ends. The deadline leaves the
    // grow time to finish (it took up to 53 ms on a loaded machine); the backstop terminates the fill
    // at deadline + grace (100 + 20 ms).
    const roomy = await runtime.load(fixture('compute'), { name: 'roomy', limits: { memoryBytes: 1024 * 1024 * 1024, fuel: 100_000_000 } });
    const threads = () => runtime['pool'].threads.length;
    const { signal } = await failure(() => roomy.invoke('stall', [], { timeoutMs: 100 }), roomy);
    expect(signal).toBeInstanceOf(ExecutionTimeout);
    const timeout = signal as ExecutionTimeout;
    expect(timeout.terminated).toBe(true);
    expect(timeout.fuelUsed).toBeNull();
    expect(roomy.stats().recycled.terminated).toBe(1);
    expect(roomy.stats().size).toBe(0);
    expect((await roomy.call('add', [1, 1])).value).toBe(2);
    await expectRecovery();
    expect(threads()).toBeLessThanOrEqual(2);
  });

  it('memory: growth past the cap fails inside the guest; the trap that follows is MemoryLimitExceeded', async () => {
    const { signal } = await failure(() => compute.invoke('grow', [100]));
    expect(signal).toBeInstanceOf(MemoryLimitExceeded);
    const mle = signal as MemoryLimitExceeded;
    expect(mle.limitBytes).toBe(4 * 1024 * 1024);
    expect(mle.requestedBytes).toBe(101 * WASM_PAGE_BYTES); // one initial page + 100
    await expectRecovery();
  });

  it('memory: growth within the cap succeeds', async () => {
    expect((await compute.call('grow', [2])).value).toBe(3);
  });

  it('memory: the cap holds in a start function, before any export runs', async () => {
    // The core module's `(start)` asks for 16,000 pages (1,000 MiB) while the instance is being built.
    const capped = await runtime.load(fixture('start-grow'), { limits: { memoryBytes: 4 * 1024 * 1024 } });
    const outcome = await capped.invoke('pages', []);
    expect(outcome.ok).toBe(false);
    const signal = (outcome as CallFailure).signal as MemoryLimitExceeded;
    expect(signal).toBeInstanceOf(MemoryLimitExceeded);
    expect(signal.limitBytes).toBe(4 * 1024 * 1024);
    expect(signal.requestedBytes).toBe(16_001 * WASM_PAGE_BYTES);
    // The half-built instance was never kept.
    expect(capped.stats()).toMatchObject({ created: 0, size: 0 });
    // With room for it, the same start function runs and the export sees the grown memory.
    const roomy = await runtime.load(fixture('start-grow'), { limits: { memoryBytes: 16_001 * WASM_PAGE_BYTES } });
    expect((await roomy.call('pages', [])).value).toBe(16_001);
  });

  it.each<[number, TrapCode]>([
    [0, 'unreachable'],
    [1, 'memory-out-of-bounds'],
    [2, 'integer-divide-by-zero'],
    [3, 'integer-overflow'],
    [4, 'bad-conversion'],
    [5, 'indirect-call-type-mismatch'],
    [6, 'table-out-of-bounds'],
  ])('trap: kind %i is reported as %s, then the next call succeeds', async (kind, code) => {
    const { signal } = await failure(() => compute.invoke('trap', [kind]));
    expect(signal).toBeInstanceOf(Trap);
    expect((signal as Trap).code).toBe(code);
    await expectRecovery();
  });

  it('trap: every trapped instance is discarded, never reused', async () => {
    const before = compute.stats();
    await compute.invoke('trap', [0]);
    await compute.invoke('trap', [1]);
    const after = compute.stats();
    expect(after.recycled.trap - before.recycled.trap).toBe(2);
  });
});

describe('limits: bad options', () => {
  it('error: an out-of-range limit or option is a typed error naming the option and the value', async () => {
    await expect(runtime.load(fixture('compute'), { limits: { fuel: 0 } })).rejects.toMatchObject({ name: 'CorralRuntimeError', code: 'invalid-option', details: { option: 'limits.fuel of compute', value: 0 } });
    await expect(runtime.load(fixture('compute'), { limits: { memoryBytes: 100 } })).rejects.toMatchObject({ code: 'invalid-option', details: { option: 'limits.memoryBytes', value: 100 } });
    await expect(compute.invoke('add', [1, 2], { timeoutMs: -1 })).rejects.toMatchObject({ code: 'invalid-option', details: { value: -1 } });
    expect(() => new Runtime({ threads: 0 })).toThrow(expect.objectContaining({ code: 'invalid-option', details: { option: 'threads', value: 0 } }));
    const supervisor = new Supervisor();
    expect(() => supervisor.start([{ name: 'a', component: compute, handler: { export: 'add' }, mailboxCapacity: 0 }])).toThrow(expect.objectContaining({ name: 'EngineError', code: 'invalid-option' }));
    await supervisor.stop();
  });
});
