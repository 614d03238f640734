/**
 * The meter of one guest instance, as it runs inside a worker: fuel and deadline accounting for the
 * invocation on the instance, and the imports an instrumented core module needs (see
 * src/runtime/instrument.ts for the other side of this ABI).
 */
import { FUEL_SLICE } from '../limits/defaults.ts';
import { MEMORY_DENIED_PAGES_IMPORT, MEMORY_MAX_PAGES_IMPORT, REFUEL_IMPORT, TABLE_DENIED_ELEMENTS_IMPORT, TABLE_MAX_ELEMENTS_IMPORT } from './protocol.ts';

/** Why the meter stopped the guest. Sticky: once set, every later refuel throws again. */
export class MeterStop extends Error {
  constructor(readonly reason: 'fuel' | 'deadline') {
    super(reason === 'fuel' ? 'out of fuel' : 'deadline passed');
  }
}

/**
 * Fuel and deadline accounting of the invocation running on an instance. Each instrumented core
 * module charges its own i32 global; `refuel` moves slices between those globals and this budget,
 * reclaiming the other modules' unused slices before it declares the budget spent, so `fuelUsed`
 * is exact and the same for the same call every time.
 */
export class Meter {
  fuelLimit = 0;
  spent = 0;
  deadline = Infinity;
  stop: MeterStop | null = null;
  readonly globals: WebAssembly.Global[] = [];
  readonly grants: number[] = [];

  reset(fuelLimit: number, deadline: number): void {
    this.fuelLimit = fuelLimit;
    this.spent = 0;
    this.deadline = deadline;
    this.stop = null;
    for (let i = 0; i < this.globals.length; i++) {
      this.globals[i]!.value = 0;
      this.grants[i] = 0;
    }
  }

  /** Called from guest code of module `k` when its slice ran out (`current` < 0). */
  refuel(k: number, current: number): number {
    this.spent += this.grants[k]! - current;
    this.grants[k] = 0;
    // The module writes the returned slice into its global only after this returns: clear it now so a
    // throw below (or a reclaim) does not count the overdraft a second time. Absent during start functions.
    const global = this.globals[k];
    if (global) global.value = 0;
    if (this.stop) throw this.stop;
    // Fuel before the deadline: when both ran out in one slice, OutOfFuel is the signal (SIGNAL_PRIORITY).
    let available = this.fuelLimit - this.spent - this.outstanding();
    if (available <= 0) {
      this.reclaim();
      available = this.fuelLimit - this.spent;
      if (available <= 0) throw (this.stop = new MeterStop('fuel'));
    }
    if (performance.now() >= this.deadline) throw (this.stop = new MeterStop('deadline'));
    const grant = Math.min(FUEL_SLICE, available);
    this.grants[k] = grant;
    return grant;
  }

  /** Fuel charged so far, including what the modules used of their current slices. */
  settle(): number {
    this.reclaim();
    return this.spent;
  }

  private outstanding(): number {
    let sum = 0;
    for (const g of this.grants) sum += g;
    return sum;
  }

  private reclaim(): void {
    for (let i = 0; i < this.globals.length; i++) {
      this.spent += this.grants[i]! - (this.globals[i]!.value as number);
      this.grants[i] = 0;
      this.globals[i]!.value = 0;
    }
  }
}

/**
 * The grow gates of one core module instance: the caps it was given and what it was refused. `denied`
 * holds pages, `tableDenied` the entries all its tables would have had (0: nothing refused).
 */
export interface MemoryGate {
  max: WebAssembly.Global;
  denied: WebAssembly.Global;
  tableMax: WebAssembly.Global;
  tableDenied: WebAssembly.Global;
}

/**
 * What an instrumented core module imports from `corral`: its refuel function and its grow gates'
 * globals. The gates are created here, before instantiation, because the module's start function may
 * already grow memory or a table: the caps must be bound by then, and a refusal there must still be readable.
 */
export function meterImports(
  meter: Meter,
  k: number,
  maxPages: number,
  maxTableElements: number,
): { imports: WebAssembly.ModuleImports; gate: MemoryGate } {
  const gate: MemoryGate = {
    max: new WebAssembly.Global({ value: 'i32', mutable: false }, maxPages),
    denied: new WebAssembly.Global({ value: 'i64', mutable: true }, 0n),
    // An i32 read as unsigned by the gate: a cap of 2^32 entries or more is held at 2^32 - 1.
    tableMax: new WebAssembly.Global({ value: 'i32', mutable: false }, Math.min(maxTableElements, 0xffff_ffff) | 0),
    tableDenied: new WebAssembly.Global({ value: 'i64', mutable: true }, 0n),
  };
  return {
    imports: {
      [REFUEL_IMPORT.name]: (current: number) => meter.refuel(k, current),
      [MEMORY_MAX_PAGES_IMPORT]: gate.max,
      [MEMORY_DENIED_PAGES_IMPORT]: gate.denied,
      [TABLE_MAX_ELEMENTS_IMPORT]: gate.tableMax,
      [TABLE_DENIED_ELEMENTS_IMPORT]: gate.tableDenied,
    },
    gate,
  };
}
