import binaryen from 'binaryen';
import { LoadError } from '../../errors/LoadError.ts';
import { BULK_MEMORY_FUEL_SHIFT, TABLE_ENTRY_FUEL } from '../../limits/defaults.ts';
import { ENTRY_REGION, LOOP_REGION, type Regions, SEGMENT_REGION } from './chargePlan.ts';
import { settleCharges } from './settleCharges.ts';
import type { CoreModuleFacts, InstrumentedModule } from './InstrumentedModule.ts';
import { tableFacts } from './tableFacts.ts';
import {
  FUEL_GLOBAL,
  MEMORY_DENIED_PAGES_IMPORT,
  MEMORY_MAX_PAGES_IMPORT,
  MEMORY_USED_PAGES_IMPORT,
  METER_IMPORT_MODULE,
  REFUEL_IMPORT,
  TABLE_DENIED_ELEMENTS_IMPORT,
  TABLE_GROW_MAX_CHARGE,
  TABLE_MAX_ELEMENTS_IMPORT,
  TABLE_USED_ELEMENTS_IMPORT,
} from '../protocol.ts';

/** Internal names of the grow gates' globals (imported as `corral.mem_max_pages`, `corral.table_used_elements`, …). */
const MEMORY_GATE_GLOBALS = { max: '__corral_mem_max_pages', used: '__corral_mem_used_pages', denied: '__corral_mem_denied_pages' };
const TABLE_GATE_GLOBALS = { max: '__corral_table_max_elements', used: '__corral_table_used_elements', denied: '__corral_table_denied_elements' };


/**
 * The wasm features V8 on Node ≥ 20 runs by default (plus extended-const, which the worker turns on).
 * binaryen must not emit anything newer: with `Features.All` it writes imports in the "compact
 * imports" encoding, which V8 rejects as an unknown import kind.
 */
const NODE_WASM_FEATURES =
  binaryen.Features.MutableGlobals |
  binaryen.Features.NontrappingFPToInt |
  binaryen.Features.SIMD128 |
  binaryen.Features.BulkMemory |
  binaryen.Features.BulkMemoryOpt |
  binaryen.Features.SignExt |
  binaryen.Features.ReferenceTypes |
  binaryen.Features.Multivalue |
  binaryen.Features.ExtendedConst |
  binaryen.Features.ExceptionHandling |
  binaryen.Features.TailCall |
  binaryen.Features.Atomics |
  binaryen.Features.CallIndirectOverlong;


const REFUEL_FN = '__corral_refuel';

/** The few C API functions of binaryen.js used here that its typings leave out. */
const capi = binaryen as unknown as {
  _BinaryenExpressionGetId(expr: number): number;
  _BinaryenLoopGetBody(loop: number): number;
  _BinaryenLoopSetBody(loop: number, body: number): void;
  _BinaryenMemoryGrowGetDelta(grow: number): number;
  _BinaryenMemoryGrowSetDelta(grow: number, delta: number): void;
  _BinaryenFunctionAddVar(fn: number, type: number): number;
  _BinaryenBlockGetNumChildren(block: number): number;
  _BinaryenBlockGetChildAt(block: number, index: number): number;
  _BinaryenBlockSetChildAt(block: number, index: number, child: number): void;
  _BinaryenIfGetCondition(expr: number): number;
  _BinaryenIfGetIfTrue(expr: number): number;
  _BinaryenIfGetIfFalse(expr: number): number;
  _BinaryenIfSetIfTrue(expr: number, child: number): void;
  _BinaryenIfSetIfFalse(expr: number, child: number): void;
  _BinaryenBlockGetName(block: number): number;
  _BinaryenBlockInsertChildAt(block: number, index: number, child: number): void;
  _BinaryenTableGrowGetDelta(grow: number): number;
  _BinaryenTableGrowSetDelta(grow: number, delta: number): void;
  _BinaryenMemoryFillGetSize(expr: number): number;
  _BinaryenMemoryFillSetSize(expr: number, size: number): void;
  _BinaryenMemoryCopyGetSize(expr: number): number;
  _BinaryenMemoryCopySetSize(expr: number, size: number): void;
  _BinaryenMemoryInitGetSize(expr: number): number;
  _BinaryenMemoryInitSetSize(expr: number, size: number): void;
};
/** binaryen.js's expression helpers its typings leave out. */
const expressions = binaryen as unknown as { Call: { getTarget(call: number): string }; RefFunc: { getFunc(ref: number): string } };
const setFunctionBody = (binaryen as unknown as { Function: { setBody(f: number, b: number): void } }).Function.setBody;
const GROW_GATE_FN = '__corral_grow_gate';
const TABLE_GATE_FN = '__corral_table_gate';

/** The length operand of each bulk memory instruction, by binaryen expression id. */
const BULK_SIZE: ReadonlyMap<number, { get(expr: number): number; set(expr: number, size: number): void }> = new Map([
  [binaryen.MemoryFillId, { get: capi._BinaryenMemoryFillGetSize, set: capi._BinaryenMemoryFillSetSize }],
  [binaryen.MemoryCopyId, { get: capi._BinaryenMemoryCopyGetSize, set: capi._BinaryenMemoryCopySetSize }],
  [binaryen.MemoryInitId, { get: capi._BinaryenMemoryInitGetSize, set: capi._BinaryenMemoryInitSetSize }],
]);

/**
 * The binaryen rewrite: the reference for what instrumentCoreModule.ts charges (see there), and the
 * fallback for the modules the byte rewrite (rewriteModule.ts) does not handle. Loaded only then, by
 * instrumentCoreModule: binaryen is ~10 MB of wasm-in-JS most components never need. A 64-bit table,
 * which the byte rewrite leaves to it, is refused by name: the gate takes an i32 delta.
 */
export function instrumentWithBinaryen(input: Uint8Array, label: string): InstrumentedModule {
  if (tableFacts(input).table64) {
    const feature = 'table64 (64-bit table indices, of memory64)';
    throw new LoadError('unsupported-feature', `core module ${label} uses ${feature}, which the fuel meter cannot meter yet`, { module: label, feature });
  }
  let module: binaryen.Module;
  try {
    module = binaryen.readBinary(input);
  } catch (cause) {
    throw new LoadError('instrumentation-failed', `core module ${label} could not be read for instrumentation`, { module: label }, cause);
  }
  try {
    module.setFeatures(NODE_WASM_FEATURES);
    const facts = rewrite(module, label);
    if (!module.validate()) {
      throw new LoadError('instrumentation-failed', `core module ${label} did not validate after instrumentation`, { module: label });
    }
    return { bytes: module.emitBinary(), facts };
  } finally {
    module.dispose();
  }
}

function rewrite(module: binaryen.Module, label: string): CoreModuleFacts {
  const facts: CoreModuleFacts = { definedMemoryPages: [], growsMemory: false };
  const memories = listMemories(module, label);
  for (const memory of memories) if (!memory.imported) facts.definedMemoryPages.push(memory.initial);

  // Collect first, rewrite after: adding functions while iterating would shift the indices.
  const functions: binaryen.FunctionRef[] = [];
  /** Module function indices by internal name (imports first, as in the binary). */
  const indexOf = new Map<string, number>();
  for (let i = 0; i < module.getNumFunctions(); i++) {
    const fn = module.getFunctionByIndex(i);
    const info = binaryen.getFunctionInfo(fn);
    indexOf.set(info.name, i);
    if (info.module === '') functions.push(fn);
  }
  const firstDefined = module.getNumFunctions() - functions.length;

  module.addGlobal(FUEL_GLOBAL, binaryen.i32, true, module.i32.const(0));
  module.addGlobalExport(FUEL_GLOBAL, FUEL_GLOBAL);
  module.addFunctionImport(REFUEL_FN, REFUEL_IMPORT.module, REFUEL_IMPORT.name, binaryen.i32, binaryen.i32);

  const grows: binaryen.ExpressionRef[] = [];
  const tableGrows: binaryen.ExpressionRef[] = [];
  // Every function is scanned before any is charged: hoisting needs the callees' costs (settleCharges.ts).
  const pinned = new Set<number>();
  const scans = functions.map((fn) => {
    const bulk: binaryen.ExpressionRef[] = [];
    return { bulk, scan: scanBlocks(binaryen.getFunctionInfo(fn).body, { grows, tableGrows, bulk }, label, indexOf, pinned) };
  });
  pinFunctions(module, indexOf, pinned, firstDefined);
  const hoisted = settleCharges(
    scans.map(({ scan }) => scan.regions),
    firstDefined,
    (index) => pinned.has(index),
  );
  let loopCount = 0;
  functions.forEach((fn, i) => {
    const { scan, bulk } = scans[i]!;
    settleScan(scan);
    const scratch = capi._BinaryenFunctionAddVar(fn, binaryen.i32);
    // Innermost first: wrapping a loop may change the body of the loop around it.
    for (const loop of scan.loops.reverse()) {
      if (loop.slot) wrapLoop(module, fn, loop as ScannedLoop & { slot: Slot }, scratch, loopCount++);
      else {
        const loopBody = capi._BinaryenLoopGetBody(loop.ref);
        capi._BinaryenLoopSetBody(loop.ref, prependCharge(module, loop.cost, loopBody, scratch));
      }
    }
    chargeSegments(module, scan.segments);
    if (bulk.length > 0) {
      const length = capi._BinaryenFunctionAddVar(fn, binaryen.i32);
      for (const op of bulk) chargeBulk(module, op, scratch, length);
    }
    if (!hoisted[i]) setFunctionBody(fn, prependCharge(module, scan.entryCost, binaryen.getFunctionInfo(fn).body, scratch));
  });

  if (grows.length > 0) {
    if (memories.length !== 1) {
      throw new LoadError('instrumentation-failed', `core module ${label} grows one of ${memories.length} memories; multi-memory is not supported`, {
        module: label,
      });
    }
    addGrowGate(module);
    for (const grow of grows) {
      const delta = capi._BinaryenMemoryGrowGetDelta(grow);
      capi._BinaryenMemoryGrowSetDelta(grow, module.call(GROW_GATE_FN, [delta], binaryen.i32));
    }
    facts.growsMemory = true;
  }
  if (tableGrows.length > 0) {
    addTableGate(module);
    for (const grow of tableGrows) {
      const delta = capi._BinaryenTableGrowGetDelta(grow);
      capi._BinaryenTableGrowSetDelta(grow, module.call(TABLE_GATE_FN, [delta], binaryen.i32));
    }
  }
  return facts;
}

/**
 * Puts a checked charge of a bulk instruction's length in front of it, after its operands:
 * `len = size; fuel -= len >>> BULK_MEMORY_FUEL_SHIFT; if (fuel < 0) fuel = refuel(fuel); len`.
 * Checked, not subtract-only: a budget that cannot pay for a fill stops it before it runs.
 */
function chargeBulk(module: binaryen.Module, op: binaryen.ExpressionRef, scratch: number, length: number): void {
  const size = BULK_SIZE.get(capi._BinaryenExpressionGetId(op))!;
  const cost = module.i32.shr_u(module.local.get(length, binaryen.i32), module.i32.const(BULK_MEMORY_FUEL_SHIFT));
  const remaining = module.local.tee(scratch, module.i32.sub(module.global.get(FUEL_GLOBAL, binaryen.i32), cost), binaryen.i32);
  const charged = module.block(
    null,
    [
      module.local.set(length, size.get(op)),
      module.global.set(FUEL_GLOBAL, remaining),
      module.if(
        module.i32.lt_s(module.local.get(scratch, binaryen.i32), module.i32.const(0)),
        module.global.set(FUEL_GLOBAL, module.call(REFUEL_FN, [module.local.get(scratch, binaryen.i32)], binaryen.i32)),
      ),
      module.local.get(length, binaryen.i32),
    ],
    binaryen.i32,
  );
  size.set(op, charged);
}

/**
 * Functions reached other than by a direct call, which keep their entry charge (settleCharges.ts):
 * exported, the start function, in an element segment, or named by `ref.func` in a global's
 * initializer (scanBlocks adds those named in code), added to `pinned`.
 */
function pinFunctions(module: binaryen.Module, indexOf: Map<string, number>, pinned: Set<number>, firstDefined: number): void {
  const pin = (name: string) => {
    const index = indexOf.get(name);
    if (index !== undefined) pinned.add(index);
  };
  for (let i = 0; i < module.getNumExports(); i++) {
    const info = binaryen.getExportInfo(module.getExportByIndex(i));
    if (info.kind === binaryen.ExternalFunction) pin(info.value);
  }
  const start = module.getStart();
  if (start) pin(binaryen.getFunctionInfo(start).name);
  try {
    for (let i = 0; i < module.getNumElementSegments(); i++) {
      for (const name of binaryen.getElementSegmentInfo(module.getElementSegmentByIndex(i)).data) if (name) pin(name);
    }
  } catch {
    // binaryen.js names only ref.func and ref.null items: with other items, every function keeps its charge.
    for (const index of indexOf.values()) if (index >= firstDefined) pinned.add(index);
  }
  for (let i = 0; i < module.getNumGlobals(); i++) {
    const init = binaryen.getGlobalInfo(module.getGlobalByIndex(i)).init;
    if (init && capi._BinaryenExpressionGetId(init) === binaryen.RefFuncId) pin(expressions.RefFunc.getFunc(init));
  }
}

interface MemoryFacts {
  initial: number;
  imported: boolean;
}

function listMemories(module: binaryen.Module, label: string): MemoryFacts[] {
  if (!module.hasMemory()) return [];
  const info = module.getMemoryInfo();
  if (info.is64) {
    const feature = 'memory64 (64-bit memory indices)';
    throw new LoadError('unsupported-feature', `core module ${label} uses ${feature}, which the fuel meter cannot meter yet`, { module: label, feature });
  }
  // binaryen.js exposes only the first memory; a second one shows up when a grow refers to it.
  return [{ initial: info.initial, imported: info.module !== '' && info.module !== null }];
}

/**
 * `fuel -= cost; if (fuel < 0) fuel = refuel(fuel);` then the original block. The new value goes
 * through a scratch local so the global is read once and written once per charge.
 */
function prependCharge(module: binaryen.Module, cost: number, body: binaryen.ExpressionRef, scratch: number): binaryen.ExpressionRef {
  const remaining = module.local.tee(scratch, module.i32.sub(module.global.get(FUEL_GLOBAL, binaryen.i32), module.i32.const(cost)), binaryen.i32);
  const charge = module.block(null, [
    module.global.set(FUEL_GLOBAL, remaining),
    module.if(
      module.i32.lt_s(module.local.get(scratch, binaryen.i32), module.i32.const(0)),
      module.global.set(FUEL_GLOBAL, module.call(REFUEL_FN, [module.local.get(scratch, binaryen.i32)], binaryen.i32)),
    ),
  ]);
  return module.block(null, [charge, body], binaryen.getExpressionType(body));
}

/**
 * Charges a loop per iteration with the refuel call *outside* the loop:
 *
 *     block $exit                      ;; (result T) when the loop has one
 *       loop $resume
 *         block $refill
 *           br $exit (loop $L (fuel -= cost; br_if $refill (fuel < 0); body))
 *         end
 *         fuel = refuel(fuel) + cost    ;; `+ cost`: re-entering $L charges the iteration again
 *         br $resume
 *
 * Re-entering `$L` at its top after a refill is exact: the charge is the first thing an iteration
 * does. Why the detour: a call anywhere inside a loop made V8 spill the loop's registers on every
 * iteration — a 4-instruction loop ran 2.4× slower with `if (fuel < 0) refuel()` inside it and 4 %
 * slower with the call outside.
 */
function wrapLoop(module: binaryen.Module, fn: binaryen.FunctionRef, loop: ScannedLoop & { slot: Slot }, scratch: number, n: number): void {
  const exit = `__corral_exit${n}`;
  const resume = `__corral_resume${n}`;
  const refill = `__corral_refill${n}`;
  const fuel = () => module.global.get(FUEL_GLOBAL, binaryen.i32);
  const body = capi._BinaryenLoopGetBody(loop.ref);
  const charge = module.block(null, [
    module.global.set(FUEL_GLOBAL, module.local.tee(scratch, module.i32.sub(fuel(), module.i32.const(loop.cost)), binaryen.i32)),
    module.br(refill, module.i32.lt_s(module.local.get(scratch, binaryen.i32), module.i32.const(0))),
  ]);
  capi._BinaryenLoopSetBody(loop.ref, module.block(null, [charge, body], binaryen.getExpressionType(body)));

  const type = binaryen.getExpressionType(loop.ref);
  const refillAndResume = [
    module.global.set(
      FUEL_GLOBAL,
      module.i32.add(module.call(REFUEL_FN, [module.local.get(scratch, binaryen.i32)], binaryen.i32), module.i32.const(loop.cost)),
    ),
    module.br(resume),
  ];
  let wrapper: binaryen.ExpressionRef;
  if (type === binaryen.unreachable) {
    // The loop never falls through (e.g. `loop br 0`): nothing to exit to.
    wrapper = module.loop(resume, module.block(null, [module.block(refill, [loop.ref]), ...refillAndResume]));
  } else {
    const inner = type === binaryen.none ? [loop.ref, module.br(exit)] : [module.br(exit, 0, loop.ref)];
    wrapper = module.block(exit, [module.loop(resume, module.block(null, [module.block(refill, inner), ...refillAndResume]))], type);
  }
  const { slot } = loop;
  switch (slot.kind) {
    case 'block':
      capi._BinaryenBlockSetChildAt(slot.parent, slot.index, wrapper);
      break;
    case 'ifTrue':
      capi._BinaryenIfSetIfTrue(slot.parent, wrapper);
      break;
    case 'ifFalse':
      capi._BinaryenIfSetIfFalse(slot.parent, wrapper);
      break;
    case 'loopBody':
      capi._BinaryenLoopSetBody(slot.parent, wrapper);
      break;
    case 'function':
      setFunctionBody(fn, wrapper);
      break;
  }
}

/**
 * `gate(delta)`: `wanted = used + delta` in 64-bit arithmetic, where `used` counts the pages of every
 * memory of the component instance (a Global all its core instances import);
 * `wanted > max ? (denied = wanted, 0xffffffff) : (used = wanted, delta)`. The globals are imported,
 * not exported: an import is bound before the module's start function runs, so the cap holds from the
 * first instruction of every instance (an exported global could only be set once
 * `new WebAssembly.Instance` had returned, after the start function had grown memory unchecked).
 */
function addGrowGate(module: binaryen.Module): void {
  addBudgetGate(module, GROW_GATE_FN, MEMORY_GATE_GLOBALS, { max: MEMORY_MAX_PAGES_IMPORT, used: MEMORY_USED_PAGES_IMPORT, denied: MEMORY_DENIED_PAGES_IMPORT }, []);
}

/**
 * The table gate: the memory gate's check against the entries of all the component instance's tables
 * together (or it could hold the cap once per table, or per core instance), and on the allowed path a
 * checked charge of `delta * TABLE_ENTRY_FUEL` (at most TABLE_GROW_MAX_CHARGE) before the budget is debited.
 */
function addTableGate(module: binaryen.Module): void {
  const scratch = 2;
  const delta = () => module.local.get(0, binaryen.i32);
  const cost = module.select(
    module.i32.gt_u(delta(), module.i32.const(TABLE_GROW_MAX_CHARGE / TABLE_ENTRY_FUEL)),
    module.i32.const(TABLE_GROW_MAX_CHARGE),
    module.i32.mul(delta(), module.i32.const(TABLE_ENTRY_FUEL)),
  );
  const charge = [
    module.global.set(FUEL_GLOBAL, module.local.tee(scratch, module.i32.sub(module.global.get(FUEL_GLOBAL, binaryen.i32), cost), binaryen.i32)),
    module.if(
      module.i32.lt_s(module.local.get(scratch, binaryen.i32), module.i32.const(0)),
      module.global.set(FUEL_GLOBAL, module.call(REFUEL_FN, [module.local.get(scratch, binaryen.i32)], binaryen.i32)),
    ),
  ];
  addBudgetGate(module, TABLE_GATE_FN, TABLE_GATE_GLOBALS, { max: TABLE_MAX_ELEMENTS_IMPORT, used: TABLE_USED_ELEMENTS_IMPORT, denied: TABLE_DENIED_ELEMENTS_IMPORT }, charge);
}

/** `wanted = i64(delta) + used; wanted > u64(max) ? (denied = wanted, -1) : (…allowed; used = wanted; delta)`. */
function addBudgetGate(
  module: binaryen.Module,
  name: string,
  globals: { max: string; used: string; denied: string },
  imports: { max: string; used: string; denied: string },
  allowed: binaryen.ExpressionRef[],
): void {
  module.addGlobalImport(globals.max, METER_IMPORT_MODULE, imports.max, binaryen.i32, false);
  module.addGlobalImport(globals.used, METER_IMPORT_MODULE, imports.used, binaryen.i64, true);
  module.addGlobalImport(globals.denied, METER_IMPORT_MODULE, imports.denied, binaryen.i64, true);
  const wanted = () => module.local.get(1, binaryen.i64);
  module.addFunction(
    name,
    binaryen.i32,
    binaryen.i32,
    [binaryen.i64, binaryen.i32],
    module.block(
      null,
      [
        module.local.set(1, module.i64.add(module.i64.extend_u(module.local.get(0, binaryen.i32)), module.global.get(globals.used, binaryen.i64))),
        module.if(
          module.i64.gt_u(wanted(), module.i64.extend_u(module.global.get(globals.max, binaryen.i32))),
          module.block(null, [module.global.set(globals.denied, wanted()), module.i32.const(-1)], binaryen.i32),
          module.block(null, [...allowed, module.global.set(globals.used, wanted()), module.local.get(0, binaryen.i32)], binaryen.i32),
        ),
      ],
      binaryen.i32,
    ),
  );
}

/** Where an expression sits in its parent, for the parents a loop can be swapped out of. */
type Slot =
  | { kind: 'block'; parent: binaryen.ExpressionRef; index: number }
  | { kind: 'ifTrue' | 'ifFalse' | 'loopBody'; parent: binaryen.ExpressionRef }
  | { kind: 'function' };

interface ScannedLoop {
  ref: binaryen.ExpressionRef;
  cost: number;
  /** Null when the loop sits somewhere else (an operand): it is charged in place instead. */
  slot: Slot | null;
}

/** A stretch of straight-line code that starts where branches land: an `if` arm, or the code after a labelled block. */
interface Segment {
  at: { kind: 'block'; parent: binaryen.ExpressionRef; index: number } | { kind: 'ifTrue' | 'ifFalse'; parent: binaryen.ExpressionRef };
  cost: number;
}

interface BlockScan {
  entryCost: number;
  loops: ScannedLoop[];
  segments: Segment[];
  regions: Regions;
  /** Per region: the loop or segment it charges (null for the entry). */
  charged: ({ loop: number } | { segment: number } | null)[];
}

/** binaryen's expression kinds by id (`TryTable` for `_BinaryenTryTableId()`), for errors that name them. */
const EXPRESSION_NAMES: ReadonlyMap<number, string> = (() => {
  const names = new Map<number, string>();
  for (const key of Object.keys(binaryen)) {
    const match = /^_Binaryen(\w+)Id$/.exec(key);
    const fn = (binaryen as unknown as Record<string, unknown>)[key];
    if (match && typeof fn === 'function') names.set((fn as () => number)(), match[1]!);
  }
  return names;
})();

/**
 * The Wasm proposal an expression kind belongs to, for the ones binaryen's JS API cannot walk (so the
 * meter cannot charge what runs inside them) and Node 20 does not run anyway.
 */
function featureOf(instruction: string): string | undefined {
  if (/^(TryTable|ThrowRef)$/.test(instruction)) return 'exception handling with exnref (try_table, throw_ref)';
  if (/^(Resume|ResumeThrow|Suspend|ContNew|ContBind|StackSwitch)$/.test(instruction)) return 'stack switching';
  if (/^(Struct|Array|RefCast|RefTest|BrOn|RefI31|I31Get)/.test(instruction)) return 'garbage collection (structs, arrays, casts)';
  if (/^String/.test(instruction)) return 'reference-typed strings';
  if (/^(TableFill|TableCopy|TableInit)$/.test(instruction)) return 'bulk table operations (table.fill, table.copy, table.init)';
  return undefined;
}

/**
 * Splits a function into the stretches of code that run together and counts their instructions:
 * the function entry, each loop body (up to its first branch target), and every segment that begins
 * where branches land (an `if` arm, the code after a labelled block). Entry and loop heads are
 * *checked* charges (they can stop the guest); segments only subtract: every unbounded execution
 * passes a loop head or a function entry, where the debt is settled. So an interpreter's dispatch
 * loop is charged for the opcode it runs, not for all of its cases. Iterative: guest code nests deeply.
 */
function scanBlocks(
  body: binaryen.ExpressionRef,
  special: { grows: binaryen.ExpressionRef[]; tableGrows: binaryen.ExpressionRef[]; bulk: binaryen.ExpressionRef[] },
  label: string,
  indexOf: Map<string, number>,
  pinned: Set<number>,
): BlockScan {
  // Region 0 is the function entry; loops and segments add regions. `charged[i]` says which list i is in.
  const costs = [0];
  const charged: BlockScan['charged'] = [null];
  const kinds = [ENTRY_REGION];
  const parents = [-1];
  const calls: number[] = [];
  const scan: BlockScan = { entryCost: 0, loops: [], segments: [], regions: { costs, parents, kinds, calls }, charged };
  const region = (kind: { loop: number } | { segment: number }, parent: number) => {
    costs.push(0);
    charged.push(kind);
    kinds.push('loop' in kind ? LOOP_REGION : SEGMENT_REGION);
    parents.push(parent);
    return costs.length - 1;
  };
  const stack: { ref: binaryen.ExpressionRef; owner: number; slot: Slot | null }[] = [{ ref: body, owner: 0, slot: { kind: 'function' } }];
  while (stack.length > 0) {
    const { ref, owner, slot } = stack.pop()!;
    costs[owner]!++;
    const id = capi._BinaryenExpressionGetId(ref);
    let childOwner = owner;
    if (id === binaryen.LoopId) {
      scan.loops.push({ ref, cost: 0, slot });
      childOwner = region({ loop: scan.loops.length - 1 }, owner);
    } else if (id === binaryen.MemoryGrowId) {
      special.grows.push(ref);
    } else if (id === binaryen.TableGrowId) {
      special.tableGrows.push(ref);
    } else if (BULK_SIZE.has(id)) {
      special.bulk.push(ref);
    } else if (id === binaryen.CallId) {
      const callee = indexOf.get(expressions.Call.getTarget(ref));
      if (callee !== undefined) calls.push(owner, callee);
    } else if (id === binaryen.RefFuncId) {
      const index = indexOf.get(expressions.RefFunc.getFunc(ref));
      if (index !== undefined) pinned.add(index);
    }
    const getChildren = CHILDREN.get(id);
    if (!getChildren) {
      const instruction = EXPRESSION_NAMES.get(id) ?? `expression kind ${id}`;
      const feature = featureOf(instruction);
      throw new LoadError(
        feature ? 'unsupported-feature' : 'instrumentation-failed',
        `core module ${label} uses ${feature ? `${feature} (${instruction})` : instruction}, which the fuel meter cannot meter yet`,
        { module: label, instruction, ...(feature ? { feature } : {}), expressionId: id },
      );
    }
    if (id === binaryen.BlockId) {
      const n = capi._BinaryenBlockGetNumChildren(ref);
      let current = childOwner;
      const pushes: (typeof stack)[number][] = [];
      for (let index = 0; index < n; index++) {
        const child = capi._BinaryenBlockGetChildAt(ref, index);
        pushes.push({ ref: child, owner: current, slot: { kind: 'block', parent: ref, index } });
        const isTarget = capi._BinaryenExpressionGetId(child) === binaryen.BlockId && capi._BinaryenBlockGetName(child) !== 0;
        if (isTarget && index + 1 < n) {
          scan.segments.push({ at: { kind: 'block', parent: ref, index: index + 1 }, cost: 0 });
          current = region({ segment: scan.segments.length - 1 }, childOwner);
        }
      }
      stack.push(...pushes);
    } else if (id === binaryen.IfId) {
      stack.push({ ref: capi._BinaryenIfGetCondition(ref), owner: childOwner, slot: null });
      scan.segments.push({ at: { kind: 'ifTrue', parent: ref }, cost: 0 });
      stack.push({ ref: capi._BinaryenIfGetIfTrue(ref), owner: region({ segment: scan.segments.length - 1 }, childOwner), slot: { kind: 'ifTrue', parent: ref } });
      const ifFalse = capi._BinaryenIfGetIfFalse(ref);
      if (ifFalse !== 0) {
        scan.segments.push({ at: { kind: 'ifFalse', parent: ref }, cost: 0 });
        stack.push({ ref: ifFalse, owner: region({ segment: scan.segments.length - 1 }, childOwner), slot: { kind: 'ifFalse', parent: ref } });
      }
    } else if (id === binaryen.LoopId) {
      stack.push({ ref: capi._BinaryenLoopGetBody(ref), owner: childOwner, slot: { kind: 'loopBody', parent: ref } });
    } else {
      getChildren(ref, (child) => {
        if (child !== 0) stack.push({ ref: child, owner: childOwner, slot: null });
      });
    }
  }
  return scan;
}

/** Copies the costs settleCharges.ts settled (folded, with hoisted entries) to the charges. */
function settleScan(scan: BlockScan): void {
  const { costs } = scan.regions;
  scan.entryCost = Math.max(1, costs[0]!);
  scan.charged.forEach((kind, i) => {
    if (kind && 'loop' in kind) scan.loops[kind.loop]!.cost = Math.max(1, costs[i]!);
    else if (kind) scan.segments[kind.segment]!.cost = costs[i]!;
  });
}

/** Inserts the subtract-only charges of the segments; deepest-last indices first so indices stay valid. */
function chargeSegments(module: binaryen.Module, segments: Segment[]): void {
  const subtract = (cost: number) =>
    module.global.set(FUEL_GLOBAL, module.i32.sub(module.global.get(FUEL_GLOBAL, binaryen.i32), module.i32.const(cost)));
  const inBlocks = segments.filter((s) => s.at.kind === 'block' && s.cost > 0);
  inBlocks.sort((a, b) => (a.at as { index: number }).index - (b.at as { index: number }).index).reverse();
  for (const { at, cost } of inBlocks) {
    const { parent, index } = at as { parent: number; index: number };
    capi._BinaryenBlockInsertChildAt(parent, index, subtract(cost));
  }
  for (const { at, cost } of segments) {
    if (at.kind === 'block' || cost === 0) continue;
    const arm = at.kind === 'ifTrue' ? capi._BinaryenIfGetIfTrue(at.parent) : capi._BinaryenIfGetIfFalse(at.parent);
    const charged = module.block(null, [subtract(cost), arm], binaryen.getExpressionType(arm));
    if (at.kind === 'ifTrue') capi._BinaryenIfSetIfTrue(at.parent, charged);
    else capi._BinaryenIfSetIfFalse(at.parent, charged);
  }
}

type ChildVisitor = (ref: binaryen.ExpressionRef, visit: (child: binaryen.ExpressionRef) => void) => void;

/**
 * How to reach the children of each kind of expression, through binaryen's C API (the generic
 * `getExpressionInfo` reflects over every getter and was far too slow on a 1.6 MB guest).
 */
const CHILDREN: Map<number, ChildVisitor> = (() => {
  const api = binaryen as unknown as Record<string, (...args: number[]) => number>;
  const fn = (name: string) => {
    const f = api[`_Binaryen${name}`];
    if (typeof f !== 'function') throw new Error(`binaryen has no _Binaryen${name}`);
    return f;
  };
  const fields = (kind: string, ...names: string[]): ChildVisitor => {
    const getters = names.map((n) => fn(`${kind}Get${n}`));
    return (ref, visit) => {
      for (const get of getters) visit(get(ref));
    };
  };
  const list = (kind: string, countName: string, atName: string, ...names: string[]): ChildVisitor => {
    const first = fields(kind, ...names);
    const count = fn(`${kind}GetNum${countName}`);
    const at = fn(`${kind}Get${atName}At`);
    return (ref, visit) => {
      first(ref, visit);
      const n = count(ref);
      for (let i = 0; i < n; i++) visit(at(ref, i));
    };
  };
  const leaf: ChildVisitor = () => {};
  const b = binaryen as unknown as Record<string, number>;
  const entries: [string, ChildVisitor][] = [
    ['BlockId', list('Block', 'Children', 'Child')],
    ['IfId', fields('If', 'Condition', 'IfTrue', 'IfFalse')],
    ['LoopId', fields('Loop', 'Body')],
    ['BreakId', fields('Break', 'Condition', 'Value')],
    ['SwitchId', fields('Switch', 'Condition', 'Value')],
    ['CallId', list('Call', 'Operands', 'Operand')],
    ['CallIndirectId', list('CallIndirect', 'Operands', 'Operand', 'Target')],
    ['CallRefId', list('CallRef', 'Operands', 'Operand', 'Target')],
    ['LocalGetId', leaf],
    ['LocalSetId', fields('LocalSet', 'Value')],
    ['GlobalGetId', leaf],
    ['GlobalSetId', fields('GlobalSet', 'Value')],
    ['LoadId', fields('Load', 'Ptr')],
    ['StoreId', fields('Store', 'Ptr', 'Value')],
    ['ConstId', leaf],
    ['UnaryId', fields('Unary', 'Value')],
    ['BinaryId', fields('Binary', 'Left', 'Right')],
    ['SelectId', fields('Select', 'IfTrue', 'IfFalse', 'Condition')],
    ['DropId', fields('Drop', 'Value')],
    ['ReturnId', fields('Return', 'Value')],
    ['MemorySizeId', leaf],
    ['MemoryGrowId', fields('MemoryGrow', 'Delta')],
    ['NopId', leaf],
    ['UnreachableId', leaf],
    ['AtomicRMWId', fields('AtomicRMW', 'Ptr', 'Value')],
    ['AtomicCmpxchgId', fields('AtomicCmpxchg', 'Ptr', 'Expected', 'Replacement')],
    ['AtomicWaitId', fields('AtomicWait', 'Ptr', 'Expected', 'Timeout')],
    ['AtomicNotifyId', fields('AtomicNotify', 'Ptr', 'NotifyCount')],
    ['AtomicFenceId', leaf],
    ['SIMDExtractId', fields('SIMDExtract', 'Vec')],
    ['SIMDReplaceId', fields('SIMDReplace', 'Vec', 'Value')],
    ['SIMDShuffleId', fields('SIMDShuffle', 'Left', 'Right')],
    ['SIMDTernaryId', fields('SIMDTernary', 'A', 'B', 'C')],
    ['SIMDShiftId', fields('SIMDShift', 'Vec', 'Shift')],
    ['SIMDLoadId', fields('SIMDLoad', 'Ptr')],
    ['SIMDLoadStoreLaneId', fields('SIMDLoadStoreLane', 'Ptr', 'Vec')],
    ['MemoryInitId', fields('MemoryInit', 'Dest', 'Offset', 'Size')],
    ['DataDropId', leaf],
    ['ElemDropId', leaf],
    ['MemoryCopyId', fields('MemoryCopy', 'Dest', 'Source', 'Size')],
    ['MemoryFillId', fields('MemoryFill', 'Dest', 'Value', 'Size')],
    ['RefNullId', leaf],
    ['RefIsNullId', fields('RefIsNull', 'Value')],
    ['RefFuncId', leaf],
    ['RefEqId', fields('RefEq', 'Left', 'Right')],
    ['RefAsId', fields('RefAs', 'Value')],
    ['TableGetId', fields('TableGet', 'Index')],
    ['TableSetId', fields('TableSet', 'Index', 'Value')],
    ['TableSizeId', leaf],
    ['TableGrowId', fields('TableGrow', 'Value', 'Delta')],
    ['TryId', list('Try', 'CatchBodies', 'CatchBody', 'Body')],
    ['ThrowId', list('Throw', 'Operands', 'Operand')],
    ['RethrowId', leaf],
    ['TupleMakeId', list('TupleMake', 'Operands', 'Operand')],
    ['TupleExtractId', fields('TupleExtract', 'Tuple')],
    ['PopId', leaf],
  ];
  // binaryen.js names only some ids as properties (not ElemDropId); the C API has them all.
  const idOf = (idName: string) => b[idName] ?? fn(idName)();
  return new Map(entries.map(([idName, visitor]) => [idOf(idName), visitor]));
})();
