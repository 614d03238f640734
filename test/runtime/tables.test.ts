import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryLimitExceeded, Runtime, type CallFailure, type Component } from '../../src/index.ts';
import { TABLE_ENTRY_BYTES } from '../../src/limits/defaults.ts';
import { fixture, newRuntime } from '../helpers.ts';

const built = (name: string) => join(import.meta.dirname, '..', '..', 'fixtures', 'build', `${name}.wasm`);

const CAP = 4 * 1024 * 1024;
/** The entries all of a component instance's tables may have together under CAP. */
const CAP_ENTRIES = CAP / TABLE_ENTRY_BYTES;

// One thread and one instance: consecutive calls meet the tables the previous ones grew.
const runtime: Runtime = newRuntime({ threads: 1 });
let bomb: Component;
let bystander: Component;
beforeAll(async () => {
  bomb = await runtime.load(built('table-bomb'), { limits: { memoryBytes: CAP }, pool: { maxInstances: 1 } });
  bystander = await runtime.load(fixture('compute'), { limits: { memoryBytes: CAP } });
});
afterAll(() => runtime.close());

async function memoryLimit(outcome: Promise<unknown>): Promise<MemoryLimitExceeded> {
  const failure = (await outcome) as CallFailure;
  expect(failure.ok).toBe(false);
  expect(failure.signal).toBeInstanceOf(MemoryLimitExceeded);
  return failure.signal as MemoryLimitExceeded;
}

describe('tables: the memory cap holds for table entries', () => {
  // 9M entries, not 10M: the tables start with an entry each, and V8 itself refuses a table of more than 10M.
  it('behavior: table.grow past the cap returns -1 inside the guest, allocates nothing, and the call is ok', async () => {
    const refused = await bomb.call('grow', [9_000_000]);
    expect(refused.value).toBe(-1);
    expect((await bomb.call('size', [])).value).toBe(2);
  });

  it('error: a guest that traps on a refused table.grow ends in MemoryLimitExceeded naming the table; the component and a bystander keep serving', async () => {
    const signal = await memoryLimit(bomb.invoke('grow-or-trap', [9_000_000]));
    expect(signal.resource).toBe('table');
    expect(signal.limitBytes).toBe(CAP);
    // What all its tables would have held: the two entries it has and the nine million it asked for.
    expect(signal.requestedBytes).toBe((9_000_000 + 2) * TABLE_ENTRY_BYTES);
    expect(signal.exportName).toBe('grow-or-trap');
    expect((await bomb.call('size', [])).value).toBe(2);
    expect((await bystander.call('add', [2, 3])).value).toBe(5);
  });

  it('behavior: forty refused grows of a million entries each leave the tables as they were', async () => {
    const outcome = await bomb.invokeEach('grow', Array.from({ length: 40 }, () => [1_000_000]));
    expect(outcome.ok && outcome.value).toEqual(Array.from({ length: 40 }, () => -1));
    expect((await bomb.call('size', [])).value).toBe(2);
  });

  it('behavior: growth up to the cap succeeds, and all of a module\'s tables count together', async () => {
    const fresh = await runtime.load(built('table-bomb'), { name: 'tables-together', limits: { memoryBytes: CAP }, pool: { maxInstances: 1 } });
    expect((await fresh.call('grow', [CAP_ENTRIES - 2 - 100])).value).toBe(1);
    // The second table may take what the first left, and not one entry more.
    expect((await fresh.call('grow-second', [101])).value).toBe(-1);
    expect((await fresh.call('grow-second', [100])).value).toBe(1);
    expect((await fresh.call('size', [])).value).toBe(CAP_ENTRIES);
    expect((await fresh.call('grow', [1])).value).toBe(-1);
  });

  it('error: a start function growing a table past the cap ends in MemoryLimitExceeded naming the table; no instance is kept', async () => {
    const capped = await runtime.load(built('table-start'), { limits: { memoryBytes: CAP } });
    const signal = await memoryLimit(capped.invoke('size', []));
    expect(signal.resource).toBe('table');
    expect(signal.requestedBytes).toBe(10_000_000 * TABLE_ENTRY_BYTES);
    expect(capped.stats()).toMatchObject({ created: 0, size: 0 });
    expect((await bystander.call('add', [1, 1])).value).toBe(2);
  });

  it('error: a module declaring six tables of 10,000,000 entries is refused before they are allocated, with MemoryLimitExceeded naming the table', async () => {
    const declared = await runtime.load(built('table-declared'), { limits: { memoryBytes: 64 * 1024 } });
    const signal = await memoryLimit(declared.invoke('size', []));
    expect(signal.resource).toBe('table');
    expect(signal.limitBytes).toBe(64 * 1024);
    expect(signal.requestedBytes).toBe(60_000_000 * TABLE_ENTRY_BYTES);
    expect(declared.stats()).toMatchObject({ created: 0, size: 0 });
    expect((await bystander.call('add', [1, 1])).value).toBe(2);
  });

  it('error: an element segment longer than a table may ever be under the cap is refused before instantiation', async () => {
    // 2,000 items; 64 KiB holds 1,024 entries. The table itself has one.
    const segment = await runtime.load(built('table-segment'), { limits: { memoryBytes: 64 * 1024 } });
    const signal = await memoryLimit(segment.invoke('size', []));
    expect(signal.resource).toBe('table');
    expect(signal.requestedBytes).toBe(2_000 * TABLE_ENTRY_BYTES);
    // Two pages hold 2,048 entries.
    const roomy = await runtime.load(built('table-segment'), { name: 'table-segment-roomy', limits: { memoryBytes: 2 * 64 * 1024 } });
    expect((await roomy.call('size', [])).value).toBe(1);
  });

  it('behavior: memory refusals still name memory', async () => {
    const grow = await runtime.load(fixture('start-grow'), { limits: { memoryBytes: CAP } });
    const signal = await memoryLimit(grow.invoke('pages', []));
    expect(signal.resource).toBe('memory');
  });
});
