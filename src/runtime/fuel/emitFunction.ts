import { BULK_MEMORY_FUEL_SHIFT } from '../../limits/defaults.ts';
import { FC, FD, FE, IMMEDIATES, skipImmediates } from './opcodes.ts';
import { type FunctionPlan, Insert, type Insertion } from './chargePlan.ts';
import { UNREACHABLE, VALUE } from './shape.ts';
import { Reader, type Writer } from './wasmBytes.ts';

/** Indices the instrumented code refers to, in the rewritten module's index spaces. */
export interface EmitIndices {
  /** Functions below this keep their index; the others move up by one (the refuel import goes before them). */
  importedFunctions: number;
  /** Globals below this keep their index; the others move up by `globalShift` (the grow gates' imports). */
  importedGlobals: number;
  globalShift: number;
  fuel: number;
  refuel: number;
  /** The memory grow gate, when the module grows memory. */
  gate: number;
  /** The table grow gate, when the module grows a table. */
  tableGate: number;
}

const I32_CONST = 0x41;
const LOCAL_GET = 0x20;
const LOCAL_TEE = 0x22;
const GLOBAL_GET = 0x23;
const GLOBAL_SET = 0x24;
const CALL = 0x10;
const END = 0x0b;

/**
 * Writes one function body (locals and code) with its charges inserted, one more i32 local for the
 * charges' scratch value, branch depths adjusted around wrapped loops, and function and global
 * indices renumbered. `locals` locates the local declarations in `bytes`; the code runs from their
 * end to `codeEnd`.
 */
export function emitFunction(
  out: Writer,
  bytes: Uint8Array,
  locals: { start: number; count: number; end: number },
  codeEnd: number,
  plan: FunctionPlan,
  scratch: number,
  ix: EmitIndices,
): void {
  out.u32(locals.count + 1);
  out.bytes(bytes, locals.start, locals.end);
  out.u32(plan.chargesBulk ? 2 : 1); // the charges' scratch, and a bulk instruction's length after it
  out.byte(0x7f);

  const r = new Reader(bytes, locals.end, codeEnd);
  const insertions = plan.insertions;
  let next = 0;
  let from = r.pos;
  /** Per open block, loop or if: labels a wrapper adds around it, summed from the outermost. */
  const added: number[] = [];
  const flush = (to: number) => {
    out.bytes(bytes, from, to);
    from = to;
  };
  const depth = (d: number) => {
    const top = added.length - 1;
    const target = top - d;
    const extra = (added[top] ?? 0) - (target >= 0 ? added[target]! : 0);
    return d + extra;
  };

  for (;;) {
    const at = r.pos;
    while (next < insertions.length && insertions[next]!.offset === at) {
      flush(at);
      writeInsertion(out, bytes, insertions[next++]!, scratch, ix);
    }
    const op = r.u8();
    switch (op) {
      case 0x02: // block
      case 0x04: // if
      case 0x03: {
        // loop
        skipBlockType(r);
        const outer = added[added.length - 1] ?? 0;
        added.push(outer + (op === 0x03 ? (plan.wrappedLoops.get(at) ?? 0) : 0));
        break;
      }
      case END:
        if (added.length === 0) {
          flush(r.pos);
          if (next !== insertions.length) throw new Error('fuel rewriter: an insertion fell outside the function');
          return;
        }
        added.pop();
        break;
      case 0x0c: // br
      case 0x0d: {
        // br_if
        const d = r.u32();
        const moved = depth(d);
        if (moved !== d) {
          flush(at);
          out.byte(op);
          out.u32(moved);
          from = r.pos;
        }
        break;
      }
      case 0x0e: {
        // br_table
        const count = r.u32();
        const targets: number[] = [];
        let changed = false;
        for (let i = 0; i <= count; i++) {
          const d = r.u32();
          const moved = depth(d);
          if (moved !== d) changed = true;
          targets.push(moved);
        }
        if (changed) {
          flush(at);
          out.byte(op);
          out.u32(count);
          for (const t of targets) out.u32(t);
          from = r.pos;
        }
        break;
      }
      case CALL:
      case 0x12: // return_call
      case 0xd2: {
        // ref.func
        const index = r.u32();
        if (index >= ix.importedFunctions) {
          flush(at);
          out.byte(op);
          out.u32(index + 1);
          from = r.pos;
        }
        break;
      }
      case GLOBAL_GET:
      case GLOBAL_SET: {
        const index = r.u32();
        if (ix.globalShift !== 0 && index >= ix.importedGlobals) {
          flush(at);
          out.byte(op);
          out.u32(index + ix.globalShift);
          from = r.pos;
        }
        break;
      }
      case 0x11: // call_indirect
      case 0x13: // return_call_indirect
        r.skipLeb();
        r.skipLeb();
        break;
      case 0x1c: // select with types
        r.skip(r.u32());
        break;
      case 0xfc:
      case 0xfd:
      case 0xfe: {
        const sub = r.u32();
        const table = op === 0xfc ? FC : op === 0xfd ? FD : FE;
        skipImmediates(r, table.imm[sub]!);
        break;
      }
      default:
        skipImmediates(r, IMMEDIATES[op]!);
    }
  }
}

function skipBlockType(r: Reader): void {
  // One byte for the empty type and value types (negative s33s); otherwise a type index.
  if ((r.bytes[r.pos]! & 0xc0) === 0x40) r.pos++;
  else r.s33();
}

function writeInsertion(out: Writer, bytes: Uint8Array, ins: Insertion, scratch: number, ix: EmitIndices): void {
  switch (ins.kind) {
    case Insert.Entry:
    case Insert.LoopCheck:
      checkedCharge(out, ins.cost, scratch, ix);
      return;
    case Insert.Segment:
      // fuel -= cost
      out.byte(GLOBAL_GET);
      out.u32(ix.fuel);
      constant(out, ins.cost);
      out.byte(0x6b); // i32.sub
      out.byte(GLOBAL_SET);
      out.u32(ix.fuel);
      return;
    case Insert.LoopCharge:
      // fuel = scratch = fuel - cost; br_if $refill (scratch < 0): depth 1, past the loop's own label
      charge(out, ins.cost, scratch, ix);
      out.byte(0x0d);
      out.u32(1);
      return;
    case Insert.LoopPrefix:
      if (ins.loopType !== UNREACHABLE) {
        out.byte(0x02); // block $exit, typed like the loop
        if (ins.loopType === VALUE) out.bytes(bytes, ins.blockType, ins.blockTypeEnd);
        else out.byte(0x40);
      }
      out.byte(0x03); // loop $resume
      out.byte(0x40);
      out.byte(0x02); // block $refill
      out.byte(0x40);
      return;
    case Insert.LoopSuffix:
      if (ins.loopType !== UNREACHABLE) {
        out.byte(0x0c); // br $exit (with the loop's value, if any)
        out.u32(2);
      }
      out.byte(END); // end $refill
      // fuel = refuel(scratch) + cost: re-entering the loop charges the iteration again
      out.byte(LOCAL_GET);
      out.u32(scratch);
      out.byte(CALL);
      out.u32(ix.refuel);
      constant(out, ins.cost);
      out.byte(0x6a); // i32.add
      out.byte(GLOBAL_SET);
      out.u32(ix.fuel);
      out.byte(0x0c); // br $resume
      out.u32(0);
      out.byte(END); // end $resume
      if (ins.loopType === VALUE) out.byte(0x00); // the exit block's value only arrives by the branch
      if (ins.loopType !== UNREACHABLE) out.byte(END); // end $exit
      return;
    case Insert.Grow:
      out.byte(CALL);
      out.u32(ix.gate);
      return;
    case Insert.TableGrow:
      out.byte(CALL);
      out.u32(ix.tableGate);
      return;
    case Insert.Bulk:
      bulkCharge(out, scratch, ix);
      return;
    default:
      throw new Error(`fuel rewriter: unknown insertion ${ins.kind}`);
  }
}

/** `fuel = scratch = fuel - cost`, leaving `scratch < 0` on the stack. */
function charge(out: Writer, cost: number, scratch: number, ix: EmitIndices): void {
  out.byte(GLOBAL_GET);
  out.u32(ix.fuel);
  constant(out, cost);
  out.byte(0x6b); // i32.sub
  out.byte(LOCAL_TEE);
  out.u32(scratch);
  out.byte(GLOBAL_SET);
  out.u32(ix.fuel);
  out.byte(LOCAL_GET);
  out.u32(scratch);
  constant(out, 0);
  out.byte(0x48); // i32.lt_s
}

/** `fuel -= cost; if (fuel < 0) fuel = refuel(fuel);` as instrumentWithBinaryen.ts's prependCharge. */
function checkedCharge(out: Writer, cost: number, scratch: number, ix: EmitIndices): void {
  charge(out, cost, scratch, ix);
  out.byte(0x04); // if
  out.byte(0x40);
  out.byte(LOCAL_GET);
  out.u32(scratch);
  out.byte(CALL);
  out.u32(ix.refuel);
  out.byte(GLOBAL_SET);
  out.u32(ix.fuel);
  out.byte(END);
}

/**
 * `len = <the length on the stack>; fuel -= len >>> BULK_MEMORY_FUEL_SHIFT; if (fuel < 0) fuel = refuel(fuel);`
 * and the length back on the stack, as instrumentWithBinaryen.ts's chargeBulk. Checked before the instruction runs,
 * so the budget stops a fill it cannot pay for, and `fuel` is never left below -2^31.
 */
function bulkCharge(out: Writer, scratch: number, ix: EmitIndices): void {
  const length = scratch + 1;
  out.byte(0x21); // local.set
  out.u32(length);
  out.byte(GLOBAL_GET);
  out.u32(ix.fuel);
  out.byte(LOCAL_GET);
  out.u32(length);
  constant(out, BULK_MEMORY_FUEL_SHIFT);
  out.byte(0x76); // i32.shr_u
  out.byte(0x6b); // i32.sub
  out.byte(LOCAL_TEE);
  out.u32(scratch);
  out.byte(GLOBAL_SET);
  out.u32(ix.fuel);
  out.byte(LOCAL_GET);
  out.u32(scratch);
  constant(out, 0);
  out.byte(0x48); // i32.lt_s
  out.byte(0x04); // if
  out.byte(0x40);
  out.byte(LOCAL_GET);
  out.u32(scratch);
  out.byte(CALL);
  out.u32(ix.refuel);
  out.byte(GLOBAL_SET);
  out.u32(ix.fuel);
  out.byte(END);
  out.byte(LOCAL_GET);
  out.u32(length);
}

function constant(out: Writer, value: number): void {
  out.byte(I32_CONST);
  out.s32(value);
}
