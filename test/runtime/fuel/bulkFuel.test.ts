import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from '@bytecodealliance/jco';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoadError, OutOfFuel, Runtime, type CallFailure, type Component } from '../../../src/index.ts';
import { BULK_MEMORY_FUEL_SHIFT, TABLE_ENTRY_BYTES, TABLE_ENTRY_FUEL } from '../../../src/limits/defaults.ts';
import { ComponentBudget, Meter, MeterStop, meterImports } from '../../../src/runtime/worker/Meter.ts';
import { rewriteCoreModule } from '../../../src/runtime/fuel/rewriteModule.ts';
import { instrumentCoreModule } from '../../../src/runtime/fuel/instrumentCoreModule.ts';
import { instrumentWithBinaryen } from '../../../src/runtime/fuel/instrumentWithBinaryen.ts';
import { METER_IMPORT_MODULE } from '../../../src/runtime/protocol.ts';
import { newRuntime } from '../../helpers.ts';

const fixtures = join(import.meta.dirname, '..', '..', '..', 'fixtures');
const built = (name: string) => join(fixtures, 'build', `${name}.wasm`);
const MiB = 1024 * 1024;

const runtime: Runtime = newRuntime({ threads: 1 });
let bomb: Component;
beforeAll(async () => {
  bomb = await runtime.load(built('table-bomb'), { limits: { memoryBytes: 4 * MiB } });
});
afterAll(() => runtime.close());

const fuelOf = async (exportName: string, bytes: number) => (await bomb.call(exportName, [bytes, 1])).fuelUsed;

describe('bulk memory instructions are charged by their length', () => {
  it.each(['fill', 'copy'])('behavior: memory.%s costs one fuel more per 16 bytes, exactly', async (exportName) => {
    const base = await fuelOf(exportName, 0);
    for (const bytes of [4_096, MiB, 2 * MiB]) {
      expect((await fuelOf(exportName, bytes)) - base).toBe(bytes >>> BULK_MEMORY_FUEL_SHIFT);
    }
  });

  it('error: a loop of 4 MiB fills runs out of fuel under a modest budget, before the fill it cannot pay for', async () => {
    const outcome = (await bomb.invoke('fill', [4 * MiB, 1_000_000], { fuel: 1_000_000, timeoutMs: 10_000 })) as CallFailure;
    expect(outcome.ok).toBe(false);
    expect(outcome.signal).toBeInstanceOf(OutOfFuel);
    const signal = outcome.signal as OutOfFuel;
    expect(signal.fuelLimit).toBe(1_000_000);
    // The fill that found the budget spent never ran: what it would have cost is not reported as used.
    expect(signal.fuelUsed).toBe(1_000_000);
  });
});

describe('both instrumentation paths', () => {
  /**
   * The table-bomb core module instrumented one way, instantiated under a 4 MiB cap with a meter of its
   * own, and a budget of its own unless it shares one (as the core instances of one component instance do).
   */
  async function instance(instrument: (bytes: Uint8Array) => Uint8Array, budget = new ComponentBudget(64, (4 * MiB) / TABLE_ENTRY_BYTES)) {
    const core = await parse(readFileSync(join(fixtures, 'table-bomb', 'table-bomb.wat'), 'utf8'));
    const meter = new Meter();
    const imports = meterImports(meter, 0, budget);
    // The fixture's two tables of one entry each, as the worker counts them before instantiation.
    budget.admit(0, 2, 0);
    meter.grants.push(0);
    const wasm = new WebAssembly.Instance(new WebAssembly.Module(instrument(core) as Uint8Array<ArrayBuffer>), { [METER_IMPORT_MODULE]: imports });
    meter.globals.push(wasm.exports.__corral_fuel as WebAssembly.Global);
    const exports = wasm.exports as Record<string, (...args: number[]) => number>;
    const run = (name: string, ...args: number[]) => {
      meter.reset(1e9, Infinity);
      const value = exports[name]!(...args);
      return { value, fuel: meter.settle() };
    };
    return { run, budget };
  }
  const byBytes = (bytes: Uint8Array) => rewriteCoreModule(bytes)!.bytes;
  const byBinaryen = (bytes: Uint8Array) => instrumentWithBinaryen(bytes, 'table-bomb').bytes;
  const viaBytes = () => instance(byBytes);
  const viaBinaryen = () => instance(byBinaryen);

  it('default: the byte rewrite handles the fixture itself (no fallback)', async () => {
    const core = await parse(readFileSync(join(fixtures, 'table-bomb', 'table-bomb.wat'), 'utf8'));
    expect(rewriteCoreModule(core)).not.toBeNull();
  });

  it('behavior: they charge a bulk instruction the same fuel', async () => {
    const [bytes, binaryen] = await Promise.all([viaBytes(), viaBinaryen()]);
    for (const [name, length] of [
      ['fill', 0],
      ['fill', MiB],
      ['copy', 12_345],
    ] as const) {
      const a = bytes.run(name, length, 3);
      const b = binaryen.run(name, length, 3);
      expect(a).toEqual(b);
      expect(a.fuel).toBeGreaterThanOrEqual(3 * (length >>> BULK_MEMORY_FUEL_SHIFT));
    }
  });

  it('behavior: they gate table.grow the same, over all tables together', async () => {
    for (const path of await Promise.all([viaBytes(), viaBinaryen()])) {
      expect(path.run('grow', 10_000_000).value).toBe(-1);
      expect(path.budget.deniedEntries.value).toBe(10_000_002n);
      expect(path.run('grow', 65_536 - 2).value).toBe(1);
      expect(path.run('grow-second', 1).value).toBe(-1);
      expect(path.run('size').value).toBe(65_536);
    }
  });

  it('behavior: they count two core instances sharing a budget together, memory and tables, and charge a grow by its delta the same', async () => {
    const fuel: number[][] = [];
    for (const instrument of [byBytes, byBinaryen]) {
      const budget = new ComponentBudget(128, (4 * MiB) / TABLE_ENTRY_BYTES);
      const [a, b] = [await instance(instrument, budget), await instance(instrument, budget)];
      budget.admit(128, 0, 0); // both instances' 64 pages, as the worker counts them (instance() counted their tables)
      expect(b.run('grow-memory', 1).value).toBe(-1);
      expect(budget.deniedPages.value).toBe(129n);
      const small = a.run('grow', 10);
      expect(small.value).toBe(1);
      expect(b.run('grow', 65_536 - 4 - 10 - 1).value).toBe(1);
      expect(a.run('grow-second', 2).value).toBe(-1);
      expect(b.run('grow-second', 1).value).toBe(1);
      expect(a.run('size').value + b.run('size').value).toBe(65_536);
      fuel.push([small.fuel, a.run('grow', 0).fuel]);
    }
    expect(fuel[0]).toEqual(fuel[1]);
    expect(fuel[0]![0]! - fuel[0]![1]!).toBe(10 * TABLE_ENTRY_FUEL);
  });

  it('error: a grow whose charge would wrap the i32 fuel arithmetic is charged the most one grow costs, and stops', async () => {
    // 2^26 entries: the table budget of a 4 GiB cap. (2^26 - 10) * 64 wraps an i32 to a credit of 640.
    for (const instrument of [byBytes, byBinaryen]) {
      const path = await instance(instrument, new ComponentBudget(64, 2 ** 26));
      expect(() => path.run('grow', 2 ** 26 - 10)).toThrow(MeterStop);
      expect(path.run('size').value).toBe(2);
    }
  });
});

describe('table.fill, table.copy, table.init', () => {
  it('error: a component using them is refused at load as unsupported-feature, naming the feature', async () => {
    const error = await runtime.load(built('table-ops')).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LoadError);
    expect((error as LoadError).code).toBe('unsupported-feature');
    expect((error as LoadError).details).toMatchObject({ feature: 'bulk table operations (table.fill, table.copy, table.init)' });
  });

  it.each([
    ['table.fill', '(table.fill $t (i32.const 0) (ref.null func) (local.get 0))'],
    ['table.copy', '(table.copy $t $t (i32.const 0) (i32.const 1) (local.get 0))'],
    ['table.init', '(table.init $t $e (i32.const 0) (i32.const 0) (local.get 0))'],
  ])('error: %s alone is refused by name', async (instruction, code) => {
    const core = await parse(`(module (table $t 4 funcref) (func $nop) (elem $e func $nop) (func (export "f") (param i32) ${code}))`);
    await expect(instrumentCoreModule(core, 'ops')).rejects.toThrow(
      expect.objectContaining({ name: 'LoadError', code: 'unsupported-feature', details: expect.objectContaining({ module: 'ops', feature: expect.stringContaining(instruction) }) }),
    );
  });
});

describe('elem.drop', () => {
  it('behavior: both paths meter a module that drops an element segment, and charge it the same', async () => {
    const core = await parse('(module (table $t 1 funcref) (func $nop) (elem $e func $nop) (func (export "f") (result i32) (elem.drop $e) (i32.const 7)))');
    const fast = rewriteCoreModule(core);
    expect(fast).not.toBeNull();
    const slow = instrumentWithBinaryen(core, 'elem-drop');
    for (const bytes of [fast!.bytes, slow.bytes]) {
      const meter = new Meter();
      const imports = meterImports(meter, 0, new ComponentBudget(1, 1024));
      meter.grants.push(0);
      const wasm = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), { [METER_IMPORT_MODULE]: imports });
      meter.globals.push(wasm.exports.__corral_fuel as WebAssembly.Global);
      meter.reset(1_000, Infinity);
      expect((wasm.exports.f as () => number)()).toBe(7);
      expect(meter.settle()).toBe(3);
    }
  });
});
