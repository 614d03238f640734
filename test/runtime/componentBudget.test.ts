import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LoadError, MemoryLimitExceeded, OutOfFuel, Runtime, type CallFailure, type Component } from '../../src/index.ts';
import { TABLE_ENTRY_BYTES, TABLE_ENTRY_FUEL, WASM_PAGE_BYTES } from '../../src/limits/defaults.ts';
import { newRuntime } from '../helpers.ts';

const built = (name: string) => join(import.meta.dirname, '..', '..', 'fixtures', 'build', `${name}.wasm`);
const KiB = 1024;

// One thread and one instance per component: consecutive calls meet what the previous ones grew.
const runtime: Runtime = newRuntime({ threads: 1 });
afterAll(() => runtime.close());

let loaded = 0;
const load = (fixture: string, memoryBytes: number): Promise<Component> =>
  runtime.load(built(fixture), { name: `${fixture}-${++loaded}`, limits: { memoryBytes }, pool: { maxInstances: 1 } });

async function memoryLimit(outcome: Promise<unknown>): Promise<MemoryLimitExceeded> {
  const failure = (await outcome) as CallFailure;
  expect(failure.ok).toBe(false);
  expect(failure.signal).toBeInstanceOf(MemoryLimitExceeded);
  return failure.signal as MemoryLimitExceeded;
}

describe('one memory and table budget per component instance, shared by its core instances', () => {
  it('error: three core instances of a module declaring 1,000 table entries are refused under a cap of 2,048, naming the table', async () => {
    const component = await load('instances-tables', 2_048 * TABLE_ENTRY_BYTES);
    const signal = await memoryLimit(component.invoke('size', []));
    expect(signal.resource).toBe('table');
    expect(signal.limitBytes).toBe(2_048 * TABLE_ENTRY_BYTES);
    // The third instance's 1,000 on top of the 2,000 the first two hold.
    expect(signal.requestedBytes).toBe(3_000 * TABLE_ENTRY_BYTES);
    expect(component.stats()).toMatchObject({ created: 0, size: 0 });
  });

  it('behavior: the same three instances under a cap of 4,096 entries are built and serve', async () => {
    const component = await load('instances-tables', 4_096 * TABLE_ENTRY_BYTES);
    expect((await component.call('size', [])).value).toBe(1_000);
  });

  it('error: three core instances of a module declaring 4 pages are refused under a cap of 8, naming memory', async () => {
    const component = await load('instances-memories', 8 * WASM_PAGE_BYTES);
    const signal = await memoryLimit(component.invoke('size', []));
    expect(signal.resource).toBe('memory');
    expect(signal.limitBytes).toBe(8 * WASM_PAGE_BYTES);
    expect(signal.requestedBytes).toBe(12 * WASM_PAGE_BYTES);
    expect(component.stats()).toMatchObject({ created: 0, size: 0 });
  });

  it('behavior: the same three instances under a cap of 16 pages are built and serve', async () => {
    const component = await load('instances-memories', 16 * WASM_PAGE_BYTES);
    expect((await component.call('size', [])).value).toBe(4);
  });

  it('error: two core instances growing their own memories stop together at the cap; the trap after is MemoryLimitExceeded', async () => {
    // 16 pages; each instance starts with one.
    const component = await load('instances-grow', 16 * WASM_PAGE_BYTES);
    expect((await component.call('grow-memory-a', [7])).value).toBe(1);
    expect((await component.call('grow-memory-b', [8])).value).toBe(-1);
    expect((await component.call('grow-memory-b', [7])).value).toBe(1);
    expect((await component.call('grow-memory-a', [1])).value).toBe(-1);
    const signal = await memoryLimit(component.invoke('grow-memory-or-trap-b', [1]));
    expect(signal.resource).toBe('memory');
    expect(signal.requestedBytes).toBe(17 * WASM_PAGE_BYTES);
  });

  it('error: two core instances growing their own tables stop together at the cap; the trap after is MemoryLimitExceeded', async () => {
    // 16 KiB of entries; each instance starts with one.
    const component = await load('instances-grow', 16 * KiB * TABLE_ENTRY_BYTES);
    expect((await component.call('grow-table-a', [8_000])).value).toBe(1);
    expect((await component.call('grow-table-b', [8_383])).value).toBe(-1);
    expect((await component.call('grow-table-b', [8_382])).value).toBe(1);
    expect((await component.call('grow-table-a', [1])).value).toBe(-1);
    const signal = await memoryLimit(component.invoke('grow-table-or-trap-b', [1]));
    expect(signal.resource).toBe('table');
    expect(signal.requestedBytes).toBe((16 * KiB + 1) * TABLE_ENTRY_BYTES);
  });

  it('behavior: a table one module exports and another imports is counted once, and every grow of it is counted, whoever runs it', async () => {
    // 1,024 entries; t (A's, imported by B) and u (B's) start with one each.
    const component = await load('shared-table', 1_024 * TABLE_ENTRY_BYTES);
    expect((await component.call('grow-a', [500])).value).toBe(1);
    expect((await component.call('grow-imported-b', [500])).value).toBe(501);
    expect((await component.call('grow-b', [22])).value).toBe(1);
    for (const grow of ['grow-a', 'grow-imported-b', 'grow-b']) expect((await component.call(grow, [1])).value).toBe(-1);
    expect((await component.call('size-b', [])).value).toBe(1_024);
  });
});

describe('table.grow is charged by its delta', () => {
  it('behavior: a grow costs TABLE_ENTRY_FUEL more per entry, exactly', async () => {
    const component = await load('instances-grow', 64 * KiB * TABLE_ENTRY_BYTES);
    const base = (await component.call('grow-table-a', [0])).fuelUsed;
    expect((await component.call('grow-table-a', [1_000])).fuelUsed - base).toBe(1_000 * TABLE_ENTRY_FUEL);
    expect((await component.call('grow-table-a', [20_000])).fuelUsed - base).toBe(20_000 * TABLE_ENTRY_FUEL);
  });

  it('error: a grow the fuel cannot pay for ends in OutOfFuel before it runs, reporting the budget as used', async () => {
    // The default 64 MiB cap holds the million entries; the fuel does not (4,000,000 of them).
    const component = await load('instances-grow', 64 * KiB * KiB);
    const failure = (await component.invoke('grow-table-a', [1_000_000], { fuel: 1_000_000 })) as CallFailure;
    expect(failure.ok).toBe(false);
    expect(failure.signal).toBeInstanceOf(OutOfFuel);
    const signal = failure.signal as OutOfFuel;
    expect(signal.fuelLimit).toBe(1_000_000);
    // What the refused grow would have cost was never spent.
    expect(signal.fuelUsed).toBe(1_000_000);
    // A refused grow is not charged: a fresh instance answers -1 for a grow past the cap, at the cost of a small one.
    const refused = await component.call('grow-table-a', [2_000_000]);
    expect(refused.value).toBe(-1);
    expect(refused.fuelUsed).toBe((await component.call('grow-table-a', [0])).fuelUsed);
  });
});

describe('table64', () => {
  it('error: a component with a 64-bit table is refused at load by name as unsupported-feature', async () => {
    const error = await runtime.load(built('table64')).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LoadError);
    expect((error as LoadError).code).toBe('unsupported-feature');
    expect((error as LoadError).details).toMatchObject({ feature: expect.stringContaining('table64') });
  });

  it('error: a component with a 64-bit memory is refused at load by name as unsupported-feature', async () => {
    const error = await runtime.load(built('memory64')).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LoadError);
    expect((error as LoadError).code).toBe('unsupported-feature');
    expect((error as LoadError).details).toMatchObject({ feature: expect.stringContaining('memory64') });
  });
});
