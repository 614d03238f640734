/*
 * Runs in the prepare thread (prepare/prepareWorker.ts), on a cache miss: the entry of fuel/, the
 * instrumentation that makes a core module meter itself. What the instrumented module imports is the
 * worker's side of the ABI (worker/Meter.ts, the names in protocol.ts).
 */
import type { InstrumentedModule } from './InstrumentedModule.ts';
import { rewriteCoreModule } from './rewriteModule.ts';

/**
 * Rewrites one core module so that it meters itself:
 *
 * - **Fuel.** An internal i32 global is charged at every function entry and at the top of every loop
 *   iteration by the number of instructions of that block (nested loops are charged on their own); a
 *   function only direct calls reach is charged by its callers instead (settleCharges.ts).
 *   When it drops below zero the module calls the host's `corral.refuel(current)`, which accounts the
 *   slice, checks the budget and the deadline, and either returns a new slice or throws. An internal
 *   global was 4× faster than an imported one on a tight loop; a host call per block is never done.
 * - **Memory.** Every `memory.grow` first passes its delta through a gate that refuses growth past a
 *   cap held in an imported global (given per instance, so one artifact serves every cap, and bound
 *   before the start function runs). What it counts against the cap is another imported global, the
 *   pages of all the memories of the component instance: every core instance of it imports the same
 *   one (Meter.ts's ComponentBudget), so instantiating a module many times does not multiply the cap.
 *   A refused grow returns -1 inside the guest, exactly as an exhausted allocator would see it, and the
 *   pages it asked for are left in a third imported global so a trap that follows can be reported as
 *   MemoryLimitExceeded.
 * - **Tables.** Every `table.grow` passes its delta through a gate of the same kind, which refuses
 *   growth that would take all of the component instance's tables together past the table cap
 *   (`corral.table_max_elements`, see TABLE_ENTRY_BYTES), and charges an allowed grow
 *   TABLE_ENTRY_FUEL per entry before it runs. Declared sizes are counted by the worker before
 *   instantiation (fuel/tableFacts.ts). A grow of an imported table or memory is counted by the gate
 *   of the module that runs it; its declared size, by the module that defines it. `table.fill`, `table.copy` and `table.init` are refused
 *   by name: binaryen's JS API cannot walk them, so neither rewrite could charge them the same.
 * - **Bulk memory.** `memory.fill`, `memory.copy` and `memory.init` are charged by their length
 *   (BULK_MEMORY_FUEL_SHIFT) with a checked charge just before they run.
 *
 * Charges depend only on the code, never on time, so the same call reports the same fuel every run.
 *
 * The rewrite is done on the binary directly (rewriteModule.ts): it charges exactly what the binaryen
 * rewrite (instrumentWithBinaryen.ts) charges, at the same places, and on a 12.5 MB StarlingMonkey
 * module took ~0.9 s where binaryen took ~6 s (~3 s reading the module, ~1.6 s writing it, ~0.4 s
 * validating). Modules it does not handle (exceptions, multi-value, typed references, dead code) go
 * through binaryen, loaded on the first such module. This is the one place that choice is made.
 */
export async function instrumentCoreModule(input: Uint8Array, label: string): Promise<InstrumentedModule> {
  return rewriteCoreModule(input) ?? (await binaryenInstrumenter())(input, label);
}

/**
 * Set by prepare/prepare-entry.mjs when the prepare thread runs from the TypeScript sources: loads
 * binaryen with tsx's loader off (through it, binaryen's 15 MB module takes ~30 s to load).
 */
const LOAD_BINARYEN = Symbol.for('corral.prepare.loadBinaryen');

/** instrumentWithBinaryen.ts, loaded on first use. */
async function binaryenInstrumenter(): Promise<typeof import('./instrumentWithBinaryen.ts').instrumentWithBinaryen> {
  const load = (globalThis as Record<symbol, unknown>)[LOAD_BINARYEN];
  if (typeof load === 'function') await (load as () => Promise<void>)();
  return (await import('./instrumentWithBinaryen.ts')).instrumentWithBinaryen;
}
