import { type Reader, notRewritable } from './wasmBytes.ts';

/*
 * What the fuel rewriter needs to know about each instruction it does not treat specially: how many
 * operands it pops, whether it pushes a value, and how long its immediates are. Control flow, branches,
 * calls and the instructions whose immediates get renumbered (globals, functions) are decoded by hand
 * in planFunction.ts and emitFunction.ts. An instruction missing here makes the module go to binaryen,
 * which either meters it or names it in an error.
 */

/** Operands popped, or -1 when the instruction is not a plain one. */
export const POPS = new Int8Array(256).fill(-1);
/** Values pushed (0 or 1). */
export const PUSHES = new Int8Array(256);
/** Immediates after the opcode byte, see `skipImmediates`. */
export const IMMEDIATES = new Uint8Array(256);

export const Imm = {
  None: 0,
  /** One LEB128 (an index, or a constant whose value does not matter). */
  Leb: 1,
  MemArg: 2,
  /** A memory index, which must be 0: multi-memory is not rewritten. */
  Memory: 3,
  Bytes4: 4,
  Bytes8: 5,
  Bytes16: 6,
  Lane: 7,
  MemArgLane: 8,
  /** A heap type: only `func` and `extern` (no typed references). */
  HeapType: 9,
  /** Two memory indices (memory.copy). */
  Memory2: 10,
  /** A data index, then a memory index (memory.init). */
  LebMemory: 11,
  /** One byte that must be 0 (atomic.fence). */
  Zero: 12,
} as const;

function plain(table: { pops: Int8Array; pushes: Int8Array; imm: Uint8Array }, from: number, to: number, pops: number, pushes: number, imm: number = Imm.None): void {
  for (let op = from; op <= to; op++) {
    table.pops[op] = pops;
    table.pushes[op] = pushes;
    table.imm[op] = imm;
  }
}

const single = { pops: POPS, pushes: PUSHES, imm: IMMEDIATES };
plain(single, 0x01, 0x01, 0, 0); // nop
plain(single, 0x1a, 0x1a, 1, 0); // drop
plain(single, 0x1b, 0x1b, 3, 1); // select
plain(single, 0x20, 0x20, 0, 1, Imm.Leb); // local.get
plain(single, 0x21, 0x21, 1, 0, Imm.Leb); // local.set
plain(single, 0x22, 0x22, 1, 1, Imm.Leb); // local.tee
plain(single, 0x23, 0x23, 0, 1, Imm.Leb); // global.get
plain(single, 0x24, 0x24, 1, 0, Imm.Leb); // global.set
plain(single, 0x25, 0x25, 1, 1, Imm.Leb); // table.get
plain(single, 0x26, 0x26, 2, 0, Imm.Leb); // table.set
plain(single, 0x28, 0x35, 1, 1, Imm.MemArg); // loads
plain(single, 0x36, 0x3e, 2, 0, Imm.MemArg); // stores
plain(single, 0x3f, 0x3f, 0, 1, Imm.Memory); // memory.size
plain(single, 0x40, 0x40, 1, 1, Imm.Memory); // memory.grow
plain(single, 0x41, 0x42, 0, 1, Imm.Leb); // i32.const, i64.const
plain(single, 0x43, 0x43, 0, 1, Imm.Bytes4); // f32.const
plain(single, 0x44, 0x44, 0, 1, Imm.Bytes8); // f64.const
plain(single, 0x45, 0x45, 1, 1); // i32.eqz
plain(single, 0x46, 0x4f, 2, 1); // i32 comparisons
plain(single, 0x50, 0x50, 1, 1); // i64.eqz
plain(single, 0x51, 0x66, 2, 1); // i64, f32, f64 comparisons
plain(single, 0x67, 0x69, 1, 1); // i32 clz ctz popcnt
plain(single, 0x6a, 0x78, 2, 1); // i32 arithmetic
plain(single, 0x79, 0x7b, 1, 1); // i64 clz ctz popcnt
plain(single, 0x7c, 0x8a, 2, 1); // i64 arithmetic
plain(single, 0x8b, 0x91, 1, 1); // f32 unary
plain(single, 0x92, 0x98, 2, 1); // f32 binary
plain(single, 0x99, 0x9f, 1, 1); // f64 unary
plain(single, 0xa0, 0xa6, 2, 1); // f64 binary
plain(single, 0xa7, 0xc4, 1, 1); // conversions, reinterpretations, sign extension
plain(single, 0xd0, 0xd0, 0, 1, Imm.HeapType); // ref.null
plain(single, 0xd1, 0xd1, 1, 1); // ref.is_null
plain(single, 0xd2, 0xd2, 0, 1, Imm.Leb); // ref.func

/** The `0xfc` prefix: saturating truncations, bulk memory, reference-typed tables. */
export const FC = { pops: new Int8Array(32).fill(-1), pushes: new Int8Array(32), imm: new Uint8Array(32) };
plain(FC, 0, 7, 1, 1); // trunc_sat
plain(FC, 8, 8, 3, 0, Imm.LebMemory); // memory.init
plain(FC, 9, 9, 0, 0, Imm.Leb); // data.drop
plain(FC, 10, 10, 3, 0, Imm.Memory2); // memory.copy
plain(FC, 11, 11, 3, 0, Imm.Memory); // memory.fill
// 12, 14 and 17 (table.init, table.copy, table.fill) are refused by name: binaryen's JS API cannot walk them.
plain(FC, 13, 13, 0, 0, Imm.Leb); // elem.drop
plain(FC, 15, 15, 2, 1, Imm.Leb); // table.grow
plain(FC, 16, 16, 0, 1, Imm.Leb); // table.size

/** The `0xfd` prefix: fixed-width SIMD (relaxed SIMD is not rewritten). */
export const FD = { pops: new Int8Array(256).fill(-1), pushes: new Int8Array(256), imm: new Uint8Array(256) };
plain(FD, 0x00, 0x0a, 1, 1, Imm.MemArg); // loads, extending loads, splat loads
plain(FD, 0x0b, 0x0b, 2, 0, Imm.MemArg); // v128.store
plain(FD, 0x0c, 0x0c, 0, 1, Imm.Bytes16); // v128.const
plain(FD, 0x0d, 0x0d, 2, 1, Imm.Bytes16); // i8x16.shuffle
plain(FD, 0x0e, 0x0e, 2, 1); // i8x16.swizzle
plain(FD, 0x0f, 0x14, 1, 1); // splats
for (const [extract, replace] of [
  [0x15, 0x17],
  [0x18, 0x1a],
  [0x1b, 0x1c],
  [0x1d, 0x1e],
  [0x1f, 0x20],
  [0x21, 0x22],
] as const) {
  plain(FD, extract, replace - 1, 1, 1, Imm.Lane); // extract_lane (and _s/_u pairs)
  plain(FD, replace, replace, 2, 1, Imm.Lane); // replace_lane
}
plain(FD, 0x23, 0x4c, 2, 1); // comparisons
plain(FD, 0x4d, 0x4d, 1, 1); // v128.not
plain(FD, 0x4e, 0x51, 2, 1); // and andnot or xor
plain(FD, 0x52, 0x52, 3, 1); // bitselect
plain(FD, 0x53, 0x53, 1, 1); // any_true
plain(FD, 0x54, 0x57, 2, 1, Imm.MemArgLane); // load lane
plain(FD, 0x58, 0x5b, 2, 0, Imm.MemArgLane); // store lane
plain(FD, 0x5c, 0x5d, 1, 1, Imm.MemArg); // load32_zero, load64_zero
const simdUnary = [
  [0x5e, 0x64],
  [0x67, 0x6a],
  [0x74, 0x75],
  [0x7a, 0x7a],
  [0x7c, 0x81],
  [0x83, 0x84],
  [0x87, 0x8a],
  [0x94, 0x94],
  [0xa0, 0xa1],
  [0xa3, 0xa4],
  [0xa7, 0xaa],
  [0xc0, 0xc1],
  [0xc3, 0xc4],
  [0xc7, 0xca],
  [0xe0, 0xe1],
  [0xe3, 0xe3],
  [0xec, 0xed],
  [0xef, 0xef],
  [0xf8, 0xff],
] as const;
for (const [from, to] of simdUnary) plain(FD, from, to, 1, 1);
const simdBinary = [
  [0x65, 0x66],
  [0x6b, 0x73],
  [0x76, 0x79],
  [0x7b, 0x7b],
  [0x82, 0x82],
  [0x85, 0x86],
  [0x8b, 0x93],
  [0x95, 0x99],
  [0x9b, 0x9f],
  [0xab, 0xae],
  [0xb1, 0xb1],
  [0xb5, 0xba],
  [0xbc, 0xbf],
  [0xcb, 0xce],
  [0xd1, 0xd1],
  [0xd5, 0xdf],
  [0xe4, 0xeb],
  [0xf0, 0xf7],
] as const;
for (const [from, to] of simdBinary) plain(FD, from, to, 2, 1);

/** The `0xfe` prefix: threads (atomic memory accesses, wait, notify, fence). */
export const FE = { pops: new Int8Array(0x4f).fill(-1), pushes: new Int8Array(0x4f), imm: new Uint8Array(0x4f) };
plain(FE, 0x00, 0x00, 2, 1, Imm.MemArg); // memory.atomic.notify
plain(FE, 0x01, 0x02, 3, 1, Imm.MemArg); // memory.atomic.wait32/64
plain(FE, 0x03, 0x03, 0, 0, Imm.Zero); // atomic.fence
plain(FE, 0x10, 0x16, 1, 1, Imm.MemArg); // atomic loads
plain(FE, 0x17, 0x1d, 2, 0, Imm.MemArg); // atomic stores
plain(FE, 0x1e, 0x47, 2, 1, Imm.MemArg); // read-modify-write
plain(FE, 0x48, 0x4e, 3, 1, Imm.MemArg); // cmpxchg

/** Moves the reader past an instruction's immediates. */
export function skipImmediates(r: Reader, kind: number): void {
  switch (kind) {
    case Imm.None:
      return;
    case Imm.Leb:
      r.skipLeb();
      return;
    case Imm.MemArg:
      memArg(r);
      return;
    case Imm.Memory:
      memoryIndex(r);
      return;
    case Imm.Bytes4:
      r.skip(4);
      return;
    case Imm.Bytes8:
      r.skip(8);
      return;
    case Imm.Bytes16:
      r.skip(16);
      return;
    case Imm.Lane:
      r.skip(1);
      return;
    case Imm.MemArgLane:
      memArg(r);
      r.skip(1);
      return;
    case Imm.HeapType: {
      const type = r.u8();
      if (type !== 0x70 && type !== 0x6f) notRewritable(`heap type 0x${type.toString(16)}`);
      return;
    }
    case Imm.Memory2:
      memoryIndex(r);
      memoryIndex(r);
      return;
    case Imm.LebMemory:
      r.skipLeb();
      memoryIndex(r);
      return;
    case Imm.Zero:
      if (r.u8() !== 0) notRewritable('atomic.fence with a non-zero immediate');
      return;
    default:
      notRewritable(`immediate kind ${kind}`);
  }
}

function memArg(r: Reader): void {
  const align = r.u32();
  if (align & 0x40) notRewritable('multi-memory access');
  r.skipLeb();
}

function memoryIndex(r: Reader): void {
  if (r.u32() !== 0) notRewritable('multi-memory access');
}

/** Value types the rewriter passes through: numbers, v128, funcref, externref. */
export function isPlainValueType(byte: number): boolean {
  return (byte >= 0x7b && byte <= 0x7f) || byte === 0x70 || byte === 0x6f;
}
