import { TABLE_ENTRY_FUEL } from '../../limits/defaults.ts';
import type { InstrumentedModule } from './InstrumentedModule.ts';
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
import { type EmitIndices, emitFunction } from './emitFunction.ts';
import { isPlainValueType } from './opcodes.ts';
import { type FunctionPlan, type FunctionScan, chargePlan } from './chargePlan.ts';
import { settleCharges } from './settleCharges.ts';
import { ExpressionStack } from './irBuilder.ts';
import { type ModuleSignatures, planFunction } from './planFunction.ts';
import {
  type Section,
  appendEntries,
  constExpression,
  importEntry,
  rewriteData,
  rewriteElements,
  rewriteExports,
  rewriteGlobals,
  rewriteTables,
  shiftFunction,
  tableType,
} from './sections.ts';
import { Reader, Writer, leb, notRewritable, sleb, writeSection } from './wasmBytes.ts';

interface FunctionBody {
  locals: { start: number; count: number; end: number };
  end: number;
  scan: FunctionScan;
  plan: FunctionPlan | null;
  scratch: number;
}

/** Where each known section goes; custom sections (id 0) stay after the section they followed. */
const SECTION_ORDER: Record<number, number> = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13 };
const TYPE = 1;
const IMPORT = 2;
const FUNCTION = 3;
const TABLE = 4;
const MEMORY = 5;
const GLOBAL = 6;
const EXPORT = 7;
const START = 8;
const ELEMENT = 9;
const CODE = 10;
const DATA = 11;
const TAG = 13;

/**
 * The module metered by the binary rewrite, or null when it must go through binaryen: the rewrite
 * does not handle it, or (a bug) its output does not validate.
 */
export function rewriteCoreModule(input: Uint8Array): InstrumentedModule | null {
  let rewritten: InstrumentedModule;
  try {
    rewritten = rewriteModule(input);
  } catch {
    // NotRewritable, or anything an unexpected module trips: binaryen is the reference, and names
    // what is wrong with a module that is really invalid.
    return null;
  }
  return WebAssembly.validate(rewritten.bytes as Uint8Array<ArrayBuffer>) ? rewritten : null;
}

/**
 * The same metering as instrumentWithBinaryen.ts's rewrite, done on the binary directly: one pass plans
 * each function's charges (planFunction.ts), a second writes them in (emitFunction.ts), and the
 * sections that name functions or globals are renumbered around the new refuel import and, when the
 * module grows memory or a table, each grow gate's three imported globals. Throws NotRewritable for anything it does
 * not handle, and the caller falls back to binaryen.
 */
export function rewriteModule(input: Uint8Array): InstrumentedModule {
  if (input.length < 8 || input[0] !== 0 || input[1] !== 0x61 || input[2] !== 0x73 || input[3] !== 0x6d || input[4] !== 1) {
    notRewritable('not a core module');
  }
  const sections = readSections(input);
  const section = (id: number) => sections.find((s) => s.id === id);
  if (section(TAG)) notRewritable('exception tags');

  const sigs: ModuleSignatures = { typeParams: [], typeResults: [], funcType: [] };
  let i32ToI32 = -1;
  forEachEntry(input, section(TYPE), (r) => {
    if (r.u8() !== 0x60) notRewritable('GC types');
    const params = valueTypes(r);
    const results = valueTypes(r);
    if (i32ToI32 < 0 && params.length === 1 && params[0] === 0x7f && results.length === 1 && results[0] === 0x7f) i32ToI32 = sigs.typeParams.length;
    sigs.typeParams.push(params.length);
    sigs.typeResults.push(results.length);
  });

  let importedGlobals = 0;
  const memories: { initial: number; imported: boolean }[] = [];
  forEachEntry(input, section(IMPORT), (r) => {
    r.name();
    r.name();
    const kind = r.u8();
    if (kind === 0) sigs.funcType.push(r.u32());
    else if (kind === 1) tableType(r);
    else if (kind === 2) memories.push({ initial: memoryLimits(r), imported: true });
    else if (kind === 3) {
      if (!isPlainValueType(r.u8())) notRewritable('global type');
      r.u8();
      importedGlobals++;
    } else notRewritable(`import kind ${kind}`);
  });
  const importedFunctions = sigs.funcType.length;
  forEachEntry(input, section(FUNCTION), (r) => sigs.funcType.push(r.u32()));
  /** Functions reached other than by a direct call: they keep their entry charge (settleCharges.ts). */
  const pinned = new Set<number>();
  forEachEntry(input, section(TABLE), (r) => {
    if (r.bytes[r.pos] === 0x40) {
      r.skip(2);
      tableType(r);
      constExpression(r, null, null, pinned);
    } else tableType(r);
  });
  forEachEntry(input, section(MEMORY), (r) => memories.push({ initial: memoryLimits(r), imported: false }));
  if (memories.length > 1) notRewritable('multi-memory');
  let definedGlobals = 0;
  forEachEntry(input, section(GLOBAL), (r) => {
    definedGlobals++;
    if (!isPlainValueType(r.u8())) notRewritable('global type');
    r.u8();
    constExpression(r, null, null, pinned);
  });
  forEachEntry(input, section(EXPORT), (r) => {
    if (r.name() === FUEL_GLOBAL) notRewritable(`an export named ${FUEL_GLOBAL}`);
    const kind = r.u8();
    const index = r.u32();
    if (kind === 0) pinned.add(index);
  });
  if (section(START)) pinned.add(new Reader(input, section(START)!.start, section(START)!.end).u32());
  if (section(ELEMENT)) elementFunctions(input, section(ELEMENT)!, pinned);

  const bodies: FunctionBody[] = [];
  const stack = new ExpressionStack();
  forEachEntry(input, section(CODE), (r) => {
    const size = r.u32();
    const end = r.pos + size;
    const declarations = r.u32();
    const start = r.pos;
    const type = sigs.funcType[importedFunctions + bodies.length];
    if (type === undefined) notRewritable('more bodies than functions');
    let locals = sigs.typeParams[type]!;
    for (let i = 0; i < declarations; i++) {
      locals += r.u32();
      if (!isPlainValueType(r.u8())) notRewritable('local type');
    }
    const localsEnd = r.pos;
    const scan = planFunction(new Reader(input, r.pos, end), sigs, sigs.typeResults[type]!, stack, pinned);
    bodies.push({ locals: { start, count: declarations, end: localsEnd }, end, scan, plan: null, scratch: locals });
    r.pos = end;
  });
  if (bodies.length !== sigs.funcType.length - importedFunctions) notRewritable('function and code sections disagree');
  const hoisted = settleCharges(
    bodies.map((b) => b.scan),
    importedFunctions,
    (index) => pinned.has(index),
  );
  bodies.forEach((body, i) => {
    body.plan = chargePlan(body.scan, hoisted[i]!);
  });

  const growsMemory = bodies.some((b) => b.plan!.growsMemory);
  const growsTable = bodies.some((b) => b.plan!.growsTable);
  if (growsMemory && memories.length !== 1) notRewritable('memory.grow without exactly one memory');
  // Imported after the module's own imports, in this order: mem_max, mem_used, mem_denied, table_max, table_used, table_denied.
  const globalShift = (growsMemory ? 3 : 0) + (growsTable ? 3 : 0);
  const ix: EmitIndices = {
    importedFunctions,
    importedGlobals,
    globalShift,
    refuel: importedFunctions,
    gate: sigs.funcType.length + 1,
    tableGate: sigs.funcType.length + 1 + (growsMemory ? 1 : 0),
    fuel: importedGlobals + globalShift + definedGlobals,
  };
  const refuelType = i32ToI32 >= 0 ? i32ToI32 : sigs.typeParams.length;

  const rewritten = new Map<number, Uint8Array>();
  rewritten.set(TYPE, appendEntries(input, section(TYPE), i32ToI32 >= 0 ? [] : [new Uint8Array([0x60, 1, 0x7f, 1, 0x7f])]));
  const newImports = [importEntry(REFUEL_IMPORT.module, REFUEL_IMPORT.name, [0x00, ...leb(refuelType)])];
  if (growsMemory) {
    newImports.push(importEntry(METER_IMPORT_MODULE, MEMORY_MAX_PAGES_IMPORT, [0x03, 0x7f, 0x00]));
    newImports.push(importEntry(METER_IMPORT_MODULE, MEMORY_USED_PAGES_IMPORT, [0x03, 0x7e, 0x01]));
    newImports.push(importEntry(METER_IMPORT_MODULE, MEMORY_DENIED_PAGES_IMPORT, [0x03, 0x7e, 0x01]));
  }
  if (growsTable) {
    newImports.push(importEntry(METER_IMPORT_MODULE, TABLE_MAX_ELEMENTS_IMPORT, [0x03, 0x7f, 0x00]));
    newImports.push(importEntry(METER_IMPORT_MODULE, TABLE_USED_ELEMENTS_IMPORT, [0x03, 0x7e, 0x01]));
    newImports.push(importEntry(METER_IMPORT_MODULE, TABLE_DENIED_ELEMENTS_IMPORT, [0x03, 0x7e, 0x01]));
  }
  rewritten.set(IMPORT, appendEntries(input, section(IMPORT), newImports));
  const gates = (growsMemory ? 1 : 0) + (growsTable ? 1 : 0);
  if (gates > 0) rewritten.set(FUNCTION, appendEntries(input, section(FUNCTION), Array.from({ length: gates }, () => new Uint8Array(leb(refuelType)))));
  if (section(TABLE)) rewritten.set(TABLE, rewriteTables(input, section(TABLE)!, ix));
  rewritten.set(GLOBAL, rewriteGlobals(input, section(GLOBAL), ix));
  rewritten.set(EXPORT, rewriteExports(input, section(EXPORT), ix));
  if (section(START)) {
    const r = new Reader(input, section(START)!.start, section(START)!.end);
    rewritten.set(START, new Uint8Array(leb(shiftFunction(r.u32(), ix))));
  }
  if (section(ELEMENT)) rewritten.set(ELEMENT, rewriteElements(input, section(ELEMENT)!, ix));
  const gateBodies: Uint8Array[] = [];
  if (growsMemory) gateBodies.push(gateBody(ix));
  if (growsTable) gateBodies.push(tableGateBody(ix, growsMemory ? 3 : 0));
  rewritten.set(CODE, emitCode(input, bodies, ix, gateBodies));
  if (section(DATA) && ix.globalShift !== 0) rewritten.set(DATA, rewriteData(input, section(DATA)!, ix));

  const memory = memories[0];
  return {
    bytes: assemble(input, sections, rewritten),
    facts: { definedMemoryPages: memory && !memory.imported ? [memory.initial] : [], growsMemory },
  };
}

function readSections(input: Uint8Array): Section[] {
  const sections: Section[] = [];
  const r = new Reader(input, 8);
  let last = 0;
  while (r.pos < input.length) {
    const id = r.u8();
    const size = r.u32();
    const start = r.pos;
    r.skip(size);
    if (id !== 0) {
      const order = SECTION_ORDER[id];
      if (order === undefined || order <= last) notRewritable(`section ${id} out of order`);
      last = order;
    }
    sections.push({ id, start, end: r.pos });
  }
  return sections;
}

/** Calls `read` once per entry of a vector section, with the reader at the entry. */
function forEachEntry(input: Uint8Array, section: Section | undefined, read: (r: Reader) => void): void {
  if (!section) return;
  const r = new Reader(input, section.start, section.end);
  const count = r.u32();
  for (let i = 0; i < count; i++) read(r);
  if (r.pos !== section.end) notRewritable('section size mismatch');
}

/**
 * Adds the functions of the active and passive element segments to `into` (a table can call them).
 * Declarative segments only declare what `ref.func` names, which the code scan finds itself.
 */
function elementFunctions(input: Uint8Array, section: Section, into: Set<number>): void {
  const r = new Reader(input, section.start, section.end);
  const count = r.u32();
  for (let i = 0; i < count; i++) {
    const flags = r.u32();
    if (flags > 7) notRewritable(`element segment kind ${flags}`);
    const declarative = flags === 3 || flags === 7;
    if (flags === 2 || flags === 6) r.u32(); // table
    if ((flags & 1) === 0) constExpression(r, null, null); // active: offset
    if (flags & 3) r.u8(); // elemkind or reference type
    const items = r.u32();
    for (let j = 0; j < items; j++) {
      if (flags & 4) constExpression(r, null, null, declarative ? undefined : into);
      else if (declarative) r.u32();
      else into.add(r.u32());
    }
  }
}

function valueTypes(r: Reader): number[] {
  const types: number[] = [];
  const count = r.u32();
  for (let i = 0; i < count; i++) {
    const type = r.u8();
    if (!isPlainValueType(type)) notRewritable('value type');
    types.push(type);
  }
  return types;
}

/** Reads memory limits; returns the initial page count. 64-bit and custom-page-size memories go to binaryen. */
function memoryLimits(r: Reader): number {
  const flags = r.u8();
  if (flags & ~0x03) notRewritable('64-bit memory');
  const initial = r.u32();
  if (flags & 1) r.u32();
  return initial;
}

/**
 * The memory grow gate, as instrumentWithBinaryen.ts's addGrowGate: `wanted = used + delta` in 64-bit arithmetic
 * (`used`: the pages of the whole component instance, a Global all its core instances share);
 * `wanted > max ? (denied = wanted, -1) : (used = wanted, delta)`. It is not metered (binaryen adds it
 * after the rewrite too).
 */
function gateBody(ix: EmitIndices): Uint8Array {
  return new Uint8Array(sized([...[0x01, 0x01, 0x7e], ...budgetCheck(ix.importedGlobals, []), 0x0b]));
}

/**
 * The table grow gate, as instrumentWithBinaryen.ts's addTableGate: the memory gate's check against the entries of
 * all the component instance's tables, and on the allowed path a checked charge of
 * `delta * TABLE_ENTRY_FUEL` (at most TABLE_GROW_MAX_CHARGE, so the i32 arithmetic cannot wrap) before
 * the budget is debited, so a grow the fuel cannot pay for stops before it runs. A delta of 2^32 - 1 (refused) makes V8's table.grow return -1 without allocating anything.
 */
function tableGateBody(ix: EmitIndices, memoryShift: number): Uint8Array {
  const scratch = 2;
  const charge = [
    ...[0x23, ...leb(ix.fuel)], // fuel - (delta > MAX ? 2^30 : delta * TABLE_ENTRY_FUEL)
    ...[0x41, ...sleb(TABLE_GROW_MAX_CHARGE), 0x20, 0x00, 0x41, ...sleb(TABLE_ENTRY_FUEL), 0x6c],
    ...[0x20, 0x00, 0x41, ...sleb(TABLE_GROW_MAX_CHARGE / TABLE_ENTRY_FUEL), 0x4b, 0x1b, 0x6b], // i32.gt_u, select, i32.sub
    ...[0x22, scratch, 0x24, ...leb(ix.fuel)], // fuel = scratch = …
    ...[0x20, scratch, 0x41, 0x00, 0x48, 0x04, 0x40], // if (scratch < 0)
    ...[0x20, scratch, 0x10, ...leb(ix.refuel), 0x24, ...leb(ix.fuel), 0x0b], //   fuel = refuel(scratch)
  ];
  return new Uint8Array(sized([...[0x02, 0x01, 0x7e, 0x01, 0x7f], ...budgetCheck(ix.importedGlobals + memoryShift, charge), 0x0b]));
}

/**
 * `wanted = i64(delta) + used` (local 1); `if (wanted > u64(max)) { denied = wanted; -1 } else { allowed; used = wanted; delta }`,
 * with the gate's globals max, used and denied at `base`, `base + 1`, `base + 2`.
 */
function budgetCheck(base: number, allowed: number[]): number[] {
  const [max, used, denied] = [leb(base), leb(base + 1), leb(base + 2)];
  return [
    ...[0x20, 0x00, 0xad, 0x23, ...used, 0x7c, 0x22, 0x01], // wanted = i64(delta) + used, kept on the stack
    ...[0x23, ...max, 0xad, 0x56, 0x04, 0x7f], // if (wanted > u64(max)) (result i32)
    ...[0x20, 0x01, 0x24, ...denied, 0x41, 0x7f], //   denied = wanted; -1
    ...[0x05, ...allowed, 0x20, 0x01, 0x24, ...used, 0x20, 0x00, 0x0b], // else …; used = wanted; delta
  ];
}

function sized(code: number[]): number[] {
  return [...leb(code.length), ...code];
}

function emitCode(input: Uint8Array, bodies: FunctionBody[], ix: EmitIndices, gateBodies: Uint8Array[]): Uint8Array {
  const w = new Writer(input.length + (input.length >> 3));
  const fn = new Writer(1 << 16);
  w.u32(bodies.length + gateBodies.length);
  for (const body of bodies) {
    fn.reset();
    emitFunction(fn, input, body.locals, body.end, body.plan!, body.scratch, ix);
    w.u32(fn.length);
    w.bytes(fn.view());
  }
  for (const gate of gateBodies) w.bytes(gate);
  return w.view();
}

/** Custom sections that describe code by offset or index, which the rewrite invalidates. */
function isStaleCustomSection(input: Uint8Array, section: Section): boolean {
  const name = new Reader(input, section.start, section.end).name();
  return name === 'name' || name === 'sourceMappingURL' || name.startsWith('.debug_');
}

/** Writes the module: sections in order, rewritten ones replaced, new ones where they belong. */
function assemble(input: Uint8Array, sections: Section[], rewritten: Map<number, Uint8Array>): Uint8Array {
  const out = new Writer(input.length + (input.length >> 2));
  out.bytes(input, 0, 8);
  const pending = [...rewritten.keys()].filter((id) => !sections.some((s) => s.id === id)).sort((a, b) => SECTION_ORDER[a]! - SECTION_ORDER[b]!);
  const emitPendingBefore = (order: number) => {
    while (pending.length > 0 && SECTION_ORDER[pending[0]!]! < order) {
      const id = pending.shift()!;
      writeSection(out, id, rewritten.get(id)!);
    }
  };
  for (const s of sections) {
    if (s.id === 0) {
      if (!isStaleCustomSection(input, s)) writeSection(out, 0, input.subarray(s.start, s.end));
      continue;
    }
    emitPendingBefore(SECTION_ORDER[s.id]!);
    writeSection(out, s.id, rewritten.get(s.id) ?? input.subarray(s.start, s.end));
  }
  emitPendingBefore(Infinity);
  return out.view().slice();
}
