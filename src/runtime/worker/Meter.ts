/**
 * The meter of one guest instance, as it runs inside a worker: fuel and deadline accounting for the
 * invocation on the instance, and the imports an instrumented core module needs (see
 * src/runtime/fuel/instrumentCoreModule.ts for the other side of this ABI).
 */
import { FUEL_SLICE, FUEL_SLICE_MAX, FUEL_SLICE_MS } from '../../limits/defaults.ts';
import {
  MEMORY_DENIED_PAGES_IMPORT,
  MEMORY_MAX_PAGES_IMPORT,
  MEMORY_USED_PAGES_IMPORT,
  REFUEL_IMPORT,
  TABLE_DENIED_ELEMENTS_IMPORT,
  TABLE_MAX_ELEMENTS_IMPORT,
  TABLE_USED_ELEMENTS_IMPORT,
} from '../protocol.ts';

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
  /** The next slice: grows while slices run out quickly (FUEL_SLICE_MS). It never changes the fuel reported. */
  private slice = FUEL_SLICE;
  /** When the last slice was handed out; NaN until the first refuel of an invocation (no clock read per call). */
  private lastRefuel = NaN;

  reset(fuelLimit: number, deadline: number): void {
    this.fuelLimit = fuelLimit;
    this.spent = 0;
    this.deadline = deadline;
    this.stop = null;
    this.lastRefuel = NaN;
    // Each invocation starts small: a slice grown by an earlier call must not let this one's slow code
    // (page faults run ~100× slower per fuel than a tight loop) run a whole large slice past its deadline.
    this.slice = FUEL_SLICE;
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
    const now = performance.now();
    if (now >= this.deadline) throw (this.stop = new MeterStop('deadline'));
    const lasted = now - this.lastRefuel;
    this.lastRefuel = now;
    if (lasted < FUEL_SLICE_MS) this.slice = Math.min(this.slice * 2, FUEL_SLICE_MAX);
    else if (lasted > 4 * FUEL_SLICE_MS) this.slice = FUEL_SLICE; // slow code now: back to small slices at once
    const grant = Math.min(this.slice, available);
    this.grants[k] = grant;
    return grant;
  }

  /**
   * Fuel charged so far, including what the modules used of their current slices. Once the budget
   * ran out it is the budget: the charge that found it spent (a bulk fill or a table.grow charged by
   * its length before it runs) is refused, and what it would have cost was never spent.
   */
  settle(): number {
    this.reclaim();
    return this.stop?.reason === 'fuel' ? Math.min(this.spent, this.fuelLimit) : this.spent;
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
 * The memory and table budget of one component instance, shared by all its core instances: their
 * grow gates import these same Globals (see protocol.ts), so the pages of all the memories they define,
 * and the entries of all their tables, count against one cap. Each defined memory or table is counted
 * once, by the core instance that defines it (declared sizes in `admit`, before it is created), and a
 * grow is counted by the gate of whoever runs it, of an imported table or memory too. `denied*` hold
 * what a refusal would have brought the total to (0: nothing refused); a grow V8 itself refuses after
 * the gate allowed it (past the declared maximum) stays counted, which only ever refuses earlier.
 */
export class ComponentBudget {
  readonly maxPages: WebAssembly.Global;
  readonly usedPages = new WebAssembly.Global({ value: 'i64', mutable: true }, 0n);
  readonly deniedPages = new WebAssembly.Global({ value: 'i64', mutable: true }, 0n);
  readonly maxEntries: WebAssembly.Global;
  readonly usedEntries = new WebAssembly.Global({ value: 'i64', mutable: true }, 0n);
  readonly deniedEntries = new WebAssembly.Global({ value: 'i64', mutable: true }, 0n);

  constructor(maxPages: number, maxEntries: number) {
    this.maxPages = new WebAssembly.Global({ value: 'i32', mutable: false }, maxPages);
    // An i32 read as unsigned by the gate: a cap of 2^32 entries or more is held at 2^32 - 1.
    this.maxEntries = new WebAssembly.Global({ value: 'i32', mutable: false }, Math.min(maxEntries, 0xffff_ffff) | 0);
  }

  /**
   * Counts a core module's declared memory pages and table entries, before V8 allocates them (it
   * aborts the process if its heap fills then). False, with nothing counted and the refusal left in
   * `denied*`, when they do not fit beside what the other core instances hold, or when an element
   * segment is longer than the whole table budget (it could never fit).
   */
  admit(pages: number, entries: number, longestSegment: number): boolean {
    const wantedPages = (this.usedPages.value as bigint) + BigInt(pages);
    const wantedEntries = (this.usedEntries.value as bigint) + BigInt(entries);
    const maxEntries = BigInt((this.maxEntries.value as number) >>> 0);
    let fits = true;
    if (wantedPages > BigInt(this.maxPages.value as number)) {
      this.deniedPages.value = wantedPages;
      fits = false;
    }
    const segment = BigInt(longestSegment);
    if (wantedEntries > maxEntries || segment > maxEntries) {
      this.deniedEntries.value = wantedEntries > segment ? wantedEntries : segment;
      fits = false;
    }
    if (fits) {
      this.usedPages.value = wantedPages;
      this.usedEntries.value = wantedEntries;
    }
    return fits;
  }

  /** Forgets the refusals of the last call (what is held stays counted: it is still allocated). */
  clearDenied(): void {
    this.deniedPages.value = 0n;
    this.deniedEntries.value = 0n;
  }
}

/**
 * What an instrumented core module imports from `corral`: its refuel function and the grow gates'
 * globals of the component instance it belongs to. The budget exists before the module is
 * instantiated, because its start function may already grow memory or a table: the caps must be
 * bound by then, and a refusal there must still be readable.
 */
export function meterImports(meter: Meter, k: number, budget: ComponentBudget): WebAssembly.ModuleImports {
  return {
    [REFUEL_IMPORT.name]: (current: number) => meter.refuel(k, current),
    [MEMORY_MAX_PAGES_IMPORT]: budget.maxPages,
    [MEMORY_USED_PAGES_IMPORT]: budget.usedPages,
    [MEMORY_DENIED_PAGES_IMPORT]: budget.deniedPages,
    [TABLE_MAX_ELEMENTS_IMPORT]: budget.maxEntries,
    [TABLE_USED_ELEMENTS_IMPORT]: budget.usedEntries,
    [TABLE_DENIED_ELEMENTS_IMPORT]: budget.deniedEntries,
  };
}
