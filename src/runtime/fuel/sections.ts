import type { EmitIndices } from './emitFunction.ts';
import { FUEL_GLOBAL } from '../protocol.ts';
import { Reader, Writer, notRewritable } from './wasmBytes.ts';

/*
 * The sections besides the code that name functions or globals, renumbered for the rewritten module
 * (a function import and, for memory and for tables when it grows them, three global imports each come
 * before the module's own), and the entries the meter adds to them.
 */

export interface Section {
  id: number;
  start: number;
  end: number;
}

export function shiftFunction(index: number, ix: EmitIndices): number {
  return index >= ix.importedFunctions ? index + 1 : index;
}

export function shiftGlobal(index: number, ix: EmitIndices): number {
  return index >= ix.importedGlobals ? index + ix.globalShift : index;
}

export function importEntry(module: string, name: string, descriptor: number[]): Uint8Array {
  const w = new Writer(64);
  w.name(module);
  w.name(name);
  for (const b of descriptor) w.byte(b);
  return w.view();
}

/** A vector section with entries appended (created when the module had none). */
export function appendEntries(input: Uint8Array, section: Section | undefined, entries: Uint8Array[]): Uint8Array {
  const w = new Writer((section ? section.end - section.start : 0) + 64);
  let count = 0;
  let bodyStart = 0;
  if (section) {
    const r = new Reader(input, section.start, section.end);
    count = r.u32();
    bodyStart = r.pos;
  }
  w.u32(count + entries.length);
  if (section) w.bytes(input, bodyStart, section.end);
  for (const e of entries) w.bytes(e);
  return w.view();
}

/**
 * Copies a constant expression, renumbering `ref.func` and `global.get` (when `out` is given), and adds
 * the functions it names with `ref.func` to `refFuncs` (when given). Allows what MVP, reference types
 * and extended-const put there.
 */
export function constExpression(r: Reader, out: Writer | null, ix: EmitIndices | null, refFuncs?: Set<number>): void {
  for (;;) {
    const at = r.pos;
    const op = r.u8();
    switch (op) {
      case 0x0b:
        out?.byte(op);
        return;
      case 0x41:
      case 0x42:
        r.skipLeb();
        break;
      case 0x43:
        r.skip(4);
        break;
      case 0x44:
        r.skip(8);
        break;
      case 0xd0:
        r.u8();
        break;
      case 0x6a:
      case 0x6b:
      case 0x6c:
      case 0x7c:
      case 0x7d:
      case 0x7e:
        break;
      case 0xfd:
        if (r.u32() !== 12) notRewritable('constant expression');
        r.skip(16);
        break;
      case 0xd2:
      case 0x23: {
        const index = r.u32();
        if (op === 0xd2) refFuncs?.add(index);
        if (out && ix) {
          out.byte(op);
          out.u32(op === 0xd2 ? shiftFunction(index, ix) : shiftGlobal(index, ix));
        }
        continue;
      }
      default:
        notRewritable(`constant expression opcode 0x${op.toString(16)}`);
    }
    out?.bytes(r.bytes, at, r.pos);
  }
}

export function rewriteTables(input: Uint8Array, section: Section, ix: EmitIndices): Uint8Array {
  const w = new Writer(section.end - section.start + 16);
  const r = new Reader(input, section.start, section.end);
  const count = r.u32();
  w.u32(count);
  for (let i = 0; i < count; i++) {
    const start = r.pos;
    if (input[r.pos] === 0x40) {
      r.skip(2);
      tableType(r);
      w.bytes(input, start, r.pos);
      constExpression(r, w, ix);
    } else {
      tableType(r);
      w.bytes(input, start, r.pos);
    }
  }
  return w.view();
}

/** The globals, renumbered, with the fuel counter appended: `(global (mut i32) (i32.const 0))`. */
export function rewriteGlobals(input: Uint8Array, section: Section | undefined, ix: EmitIndices): Uint8Array {
  const w = new Writer(section ? section.end - section.start + 16 : 16);
  let count = 0;
  if (section) {
    const r = new Reader(input, section.start, section.end);
    count = r.u32();
    w.u32(count + 1);
    for (let i = 0; i < count; i++) {
      w.bytes(input, r.pos, r.pos + 2);
      r.skip(2);
      constExpression(r, w, ix);
    }
  } else {
    w.u32(1);
  }
  for (const b of [0x7f, 0x01, 0x41, 0x00, 0x0b]) w.byte(b);
  return w.view();
}

export function rewriteExports(input: Uint8Array, section: Section | undefined, ix: EmitIndices): Uint8Array {
  const w = new Writer(section ? section.end - section.start + 32 : 32);
  let count = 0;
  const r = section ? new Reader(input, section.start, section.end) : null;
  if (r) count = r.u32();
  w.u32(count + 1);
  for (let i = 0; i < count; i++) {
    const start = r!.pos;
    r!.name();
    const kind = r!.u8();
    w.bytes(input, start, r!.pos);
    const index = r!.u32();
    w.u32(kind === 0 ? shiftFunction(index, ix) : kind === 3 ? shiftGlobal(index, ix) : index);
  }
  w.name(FUEL_GLOBAL);
  w.byte(0x03);
  w.u32(ix.fuel);
  return w.view();
}

export function rewriteElements(input: Uint8Array, section: Section, ix: EmitIndices): Uint8Array {
  const w = new Writer(section.end - section.start + 64);
  const r = new Reader(input, section.start, section.end);
  const count = r.u32();
  w.u32(count);
  for (let i = 0; i < count; i++) {
    const flags = r.u32();
    w.u32(flags);
    if (flags > 7) notRewritable(`element segment kind ${flags}`);
    if (flags === 2 || flags === 6) w.u32(r.u32()); // table
    if ((flags & 1) === 0) constExpression(r, w, ix); // active: offset
    if (flags & 3) {
      const kind = r.u8(); // elemkind (0x00) or reftype
      if (flags & 4 ? kind !== 0x70 && kind !== 0x6f : kind !== 0x00) notRewritable('element type');
      w.byte(kind);
    }
    const items = r.u32();
    w.u32(items);
    for (let j = 0; j < items; j++) {
      if (flags & 4) constExpression(r, w, ix);
      else w.u32(shiftFunction(r.u32(), ix));
    }
  }
  return w.view();
}

export function rewriteData(input: Uint8Array, section: Section, ix: EmitIndices): Uint8Array {
  const w = new Writer(section.end - section.start + 64);
  const r = new Reader(input, section.start, section.end);
  const count = r.u32();
  w.u32(count);
  for (let i = 0; i < count; i++) {
    const flags = r.u32();
    w.u32(flags);
    if (flags > 2) notRewritable(`data segment kind ${flags}`);
    if (flags === 2) w.u32(r.u32());
    if (flags !== 1) constExpression(r, w, ix);
    const start = r.pos;
    r.skip(r.u32());
    w.bytes(input, start, r.pos);
  }
  return w.view();
}

/** Reads a table type: funcref or externref, with limits. */
export function tableType(r: Reader): void {
  const type = r.u8();
  if (type !== 0x70 && type !== 0x6f) notRewritable('table type');
  const flags = r.u8();
  if (flags > 1) notRewritable('table limits');
  r.u32();
  if (flags & 1) r.u32();
}
