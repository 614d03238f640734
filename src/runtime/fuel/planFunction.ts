import { type FunctionScan, scanRegions } from './chargePlan.ts';
import { FC, FD, FE, IMMEDIATES, Imm, POPS, PUSHES, isPlainValueType, skipImmediates } from './opcodes.ts';
import { BLOCK, ELSE, type ExpressionStack, FUNC, IF, LOOP, type Scope, closeScope, functionBody, newScope, plainOp, pop, push, scopeExpression } from './irBuilder.ts';
import { type Item, UNREACHABLE } from './shape.ts';
import { type Reader, notRewritable } from './wasmBytes.ts';

/*
 * The shape of one function as binaryen's IR, decoded from its bytes alone.
 *
 * The charges are defined on binaryen's IR (see instrumentWithBinaryen.ts): every
 * IR expression counts one, and the regions are the function entry, each loop body and each segment
 * (an `if` arm, or what follows a block that is branched to). To charge exactly what binaryen would,
 * this decodes the function the way binaryen's binary reader (its IRBuilder) builds IR: one expression
 * per instruction; a block for a loop body, `if` arm or function body of more than one expression (or
 * of none); a named block around an `if` or a function body that is branched to; a `drop` around each
 * value left before an unreachable end; blocks and scratch locals where stack-machine code keeps a
 * value under a statement (irBuilder.ts). chargePlan.ts then runs instrumentWithBinaryen.ts's region scan over it.
 *
 * Code whose IR shape is not certain is not planned (NotRewritable): multi-value, exceptions, typed
 * references, code after an unreachable instruction. The whole module then goes through binaryen.
 * The shapes were checked against binaryen 132's reader function by function, on a 12.5 MB StarlingMonkey
 * module (12,612 functions) and on the test fixtures (test/runtime/fuel/fuelRewrite.test.ts).
 */

/** The signatures the decoder needs: parameter and result counts per type and per function. */
export interface ModuleSignatures {
  typeParams: number[];
  typeResults: number[];
  funcType: number[];
}

/**
 * Scans the regions of the function whose code runs from the reader's position (just after the local
 * declarations) to `r.end`. `results` is the function's result count. Functions it names with
 * `ref.func` are added to `refFuncs` (they keep their entry charge: settleCharges.ts).
 */
export function planFunction(r: Reader, sigs: ModuleSignatures, results: number, stack: ExpressionStack, refFuncs: Set<number>): FunctionScan {
  if (results > 1) notRewritable('multi-value function');
  const bytes = r.bytes;
  stack.sp = 0;
  const bodyStart = r.pos;
  const f: FunctionState = { r, sigs, results, stack, scopes: [newScope(FUNC, results, 0, r.pos)], grows: [], tableGrows: [], bulk: [], body: null };
  const scopes = f.scopes;
  // The loop handles plain instructions; the rest is in `controlOp`, so that V8's optimized code for
  // this loop does not depend on (and is not thrown away for) the rare ones.
  while (f.body === null) {
    const at = r.pos;
    if (at >= r.end) notRewritable('function without an end');
    const op = bytes[r.pos++]!;
    const scope = scopes[scopes.length - 1]!;
    const pops = POPS[op]!;
    if (pops < 0 || op === 0x40 || scope.unreachable) {
      controlOp(f, op, at, scope);
      continue;
    }
    const immediates = IMMEDIATES[op]!;
    if (immediates === Imm.Leb) {
      if (op === 0xd2) refFuncs.add(r.u32());
      else while (bytes[r.pos++]! & 0x80);
    } else if (immediates !== Imm.None) skipImmediates(r, immediates);
    plainOp(stack, scope, pops, PUSHES[op]!, at);
  }
  return scanRegions(f.body, bodyStart, { grows: f.grows, tableGrows: f.tableGrows, bulk: f.bulk });
}

interface FunctionState {
  r: Reader;
  sigs: ModuleSignatures;
  results: number;
  stack: ExpressionStack;
  scopes: Scope[];
  grows: number[];
  /** Offsets of `table.grow` (gated) and of `memory.fill`/`copy`/`init` (charged by length). */
  tableGrows: number[];
  bulk: number[];
  /** Set at the function's final `end`. */
  body: Item | null;
}

function controlOp(f: FunctionState, op: number, at: number, scope: Scope): void {
  const { r, stack, scopes, sigs } = f;
  if (scope.unreachable && op !== 0x00 && op !== 0x0b && op !== 0x05) notRewritable('code after an unreachable instruction');
  switch (op) {
    case 0x00: // unreachable
      push(stack, scope, UNREACHABLE, 1, at, null, null);
      return;
    case 0x02: // block
    case 0x03: // loop
    case 0x04: {
      // if
      const cond = op === 0x04 ? stack.item(pop(stack, scope, 1, at)) : null;
      if (cond) stack.sp--;
      const typeStart = r.pos;
      const arity = blockArity(r, sigs);
      const inner = newScope(op === 0x02 ? BLOCK : op === 0x03 ? LOOP : IF, arity, stack.sp, cond ? cond.start : at);
      inner.blockType = typeStart;
      inner.bodyStart = r.pos;
      inner.cond = cond;
      scopes.push(inner);
      return;
    }
    case 0x05: {
      // else
      if (scope.kind !== IF) notRewritable('else outside an if');
      scopes.pop();
      const next = newScope(ELSE, scope.arity, scope.base, scope.start);
      next.labelUsed = scope.labelUsed;
      next.cond = scope.cond;
      next.ifTrue = scopeExpression(stack, scope, at);
      next.trueStart = scope.bodyStart;
      next.bodyStart = r.pos;
      scopes.push(next);
      return;
    }
    case 0x0b: {
      // end
      scopes.pop();
      if (scope.kind === FUNC) {
        if (r.pos !== r.end) notRewritable('bytes after the end of a function');
        f.body = functionBody(stack, scope, at);
        return;
      }
      const item = closeScope(stack, scope, at);
      push(stack, scopes[scopes.length - 1]!, item.type, item.weight, item.start, item.structs, item.top, item.calls);
      return;
    }
    case 0x0c: // br
    case 0x0d: {
      // br_if
      const arity = useLabel(scopes, r.u32());
      if (op === 0x0c) plainOp(stack, scope, arity, -1, at);
      else plainOp(stack, scope, arity + 1, arity, at);
      return;
    }
    case 0x0e: {
      // br_table
      const count = r.u32();
      for (let i = 0; i < count; i++) useLabel(scopes, r.u32());
      plainOp(stack, scope, useLabel(scopes, r.u32()) + 1, -1, at);
      return;
    }
    case 0x0f: // return
      plainOp(stack, scope, f.results, -1, at);
      return;
    case 0x10: // call
    case 0x12: {
      // return_call
      const callee = r.u32();
      const type = sigs.funcType[callee];
      if (type === undefined) notRewritable('call to an unknown function');
      call(stack, scope, sigs, type, 0, op === 0x12, at);
      stack.addCall(callee);
      return;
    }
    case 0x11: // call_indirect
    case 0x13: {
      // return_call_indirect
      const type = r.u32();
      r.skipLeb(); // table
      call(stack, scope, sigs, type, 1, op === 0x13, at);
      return;
    }
    case 0x1c: {
      // select with a type
      if (r.u32() !== 1 || !isPlainValueType(r.u8())) notRewritable('typed select');
      plainOp(stack, scope, 3, 1, at);
      return;
    }
    case 0x40: // memory.grow
      f.grows.push(at);
      skipImmediates(r, Imm.Memory);
      plainOp(stack, scope, 1, 1, at);
      return;
    case 0xfc:
    case 0xfd:
    case 0xfe: {
      const sub = r.u32();
      const table = op === 0xfc ? FC : op === 0xfd ? FD : FE;
      const pops = sub < table.pops.length ? table.pops[sub]! : -1;
      if (pops < 0) notRewritable(`instruction 0x${op.toString(16)} ${sub}`);
      if (op === 0xfc && sub === 15) f.tableGrows.push(at);
      else if (op === 0xfc && (sub === 8 || sub === 10 || sub === 11)) f.bulk.push(at);
      skipImmediates(r, table.imm[sub]!);
      plainOp(stack, scope, pops, table.pushes[sub]!, at);
      return;
    }
    default:
      notRewritable(`instruction 0x${op.toString(16)}`);
  }
}

/** Reads a block type; returns its result count. Block parameters and multiple results are not planned. */
function blockArity(r: Reader, sigs: ModuleSignatures): number {
  const first = r.bytes[r.pos]!;
  if (first === 0x40) {
    r.pos++;
    return 0;
  }
  if (isPlainValueType(first)) {
    r.pos++;
    return 1;
  }
  const type = r.s33();
  if (type < 0 || type >= sigs.typeParams.length) notRewritable('block type');
  if (sigs.typeParams[type] !== 0 || sigs.typeResults[type]! > 1) notRewritable('multi-value block');
  return sigs.typeResults[type]!;
}

/** Marks the label `depth` levels up as branched to; returns the number of values a branch to it carries. */
function useLabel(scopes: Scope[], depth: number): number {
  const target = scopes[scopes.length - 1 - depth];
  if (!target) notRewritable('branch depth out of range');
  target.labelUsed = true;
  return target.kind === LOOP ? 0 : target.arity;
}

function call(stack: ExpressionStack, scope: Scope, sigs: ModuleSignatures, type: number, extra: number, isReturn: boolean, at: number): void {
  const params = sigs.typeParams[type];
  const results = sigs.typeResults[type];
  if (params === undefined || results === undefined) notRewritable('call with an unknown type');
  if (results > 1) notRewritable('multi-value call');
  plainOp(stack, scope, params + extra, isReturn ? -1 : results, at);
}

