import { type BlockNode, type IfNode, type Item, type LoopNode, NONE, type Struct, UNREACHABLE, VALUE } from './shape.ts';
import { notRewritable } from './wasmBytes.ts';

/*
 * binaryen's IRBuilder, reduced to the shape of what it builds: how the binary reader turns a stack of
 * instructions into expressions (blocks for lists, scratch locals and blocks for stack-machine code,
 * drops, named blocks around branch targets). planFunction.ts drives it instruction by instruction.
 */

export const FUNC = 0;
export const BLOCK = 1;
export const LOOP = 2;
export const IF = 3;
export const ELSE = 4;

export interface Scope {
  kind: number;
  /** 1 when the construct yields a value. */
  arity: number;
  /** Where the scope's expressions start on the stack. */
  base: number;
  unreachable: boolean;
  labelUsed: boolean;
  /** Offset of the opcode that opened the scope (the condition's start for an `if`). */
  start: number;
  bodyStart: number;
  blockType: number;
  cond: Item | null;
  ifTrue: Item | null;
  trueStart: number;
}

/**
 * IRBuilder's expression stack, as parallel arrays: most expressions are consumed by the next
 * instruction, so no object is made for them (objects are made for what ends up in a block's list).
 */
export class ExpressionStack {
  type: number[] = [];
  weight: number[] = [];
  start: number[] = [];
  structs: (Struct[] | null)[] = [];
  top: (Struct | null)[] = [];
  /** Owned by the entry while it is on the stack (so a call can be added to it in place). */
  calls: (number[] | null)[] = [];
  sp = 0;

  push(type: number, weight: number, start: number, structs: Struct[] | null, top: Struct | null, calls: number[] | null = null): void {
    const i = this.sp++;
    this.type[i] = type;
    this.weight[i] = weight;
    this.start[i] = start;
    this.structs[i] = structs;
    this.top[i] = top;
    this.calls[i] = calls;
  }

  item(i: number): Item {
    return { type: this.type[i]!, weight: this.weight[i]!, structs: this.structs[i]!, top: this.top[i]!, start: this.start[i]!, calls: this.calls[i]! };
  }

  /** Records a direct call to `callee` in the expression on top of the stack (the call just counted there). */
  addCall(callee: number): void {
    const i = this.sp - 1;
    const calls = this.calls[i];
    if (calls) calls.push(callee);
    else this.calls[i] = [callee];
  }

  items(from: number, to: number): Item[] {
    const list: Item[] = [];
    for (let i = from; i < to; i++) list.push(this.item(i));
    return list;
  }
}

export function newScope(kind: number, arity: number, base: number, start: number): Scope {
  return { kind, arity, base, unreachable: false, labelUsed: false, start, bodyStart: start, blockType: 0, cond: null, ifTrue: null, trueStart: 0 };
}

export function push(
  stack: ExpressionStack,
  scope: Scope,
  type: number,
  weight: number,
  start: number,
  structs: Struct[] | null,
  top: Struct | null,
  calls: number[] | null = null,
): void {
  if (type === UNREACHABLE) scope.unreachable = true;
  stack.push(type, weight, start, structs, top, calls);
}

/** An instruction that pops `pops` operands and pushes `pushes` values (-1: it never falls through). */
export function plainOp(stack: ExpressionStack, scope: Scope, pops: number, pushes: number, at: number): void {
  const type = pushes < 0 ? UNREACHABLE : pushes === 0 ? NONE : VALUE;
  if (pops === 0) {
    push(stack, scope, type, 1, at, null, null);
    return;
  }
  const i = pop(stack, scope, pops, at);
  stack.weight[i]! += 1;
  stack.type[i] = type;
  if (type === UNREACHABLE) scope.unreachable = true;
}

/**
 * Gathers `n` operands into one expression on top of the stack (not yet counting their consumer) and
 * returns its index. Shaped as binaryen's reader shapes stack-machine code (which wasm-opt's stack IR
 * produces): statements between two operands go into a block with the later operand,
 * `(block stmts… value)`; statements after the last operand make it go through a scratch local,
 * `(block (local.set $s value) stmts… (local.get $s))`. Statements before the first operand stay.
 */
export function pop(stack: ExpressionStack, scope: Scope, n: number, at: number): number {
  const { type, weight, start, structs, calls } = stack;
  let end = stack.sp;
  let next = at;
  let total = 0;
  let inner: Struct[] | null = null;
  let called: number[] | null = null;
  for (let c = n - 1; c >= 0; c--) {
    let p = end - 1;
    while (p >= scope.base && type[p] === NONE) p--;
    if (p < scope.base || type[p] !== VALUE) notRewritable('operand missing');
    let first = p;
    if (c > 0) {
      while (first > scope.base && type[first - 1] === NONE) first--;
    }
    if (first !== p || end !== p + 1) {
      const list = stack.items(first, end);
      if (end !== p + 1) {
        const value = list[p - first]!;
        value.weight += 1; // local.set
        value.type = NONE;
        value.top = null;
        list.push({ type: VALUE, weight: 1, structs: null, top: null, start: next, calls: null }); // local.get
      }
      const node: BlockNode = { kind: 0, named: false, list };
      type[first] = VALUE;
      weight[first] = 0;
      structs[first] = [node];
      stack.top[first] = node;
      calls[first] = null;
    }
    total += weight[first]!;
    const own = structs[first]!;
    if (own) inner = inner ? own.concat(inner) : own;
    const ownCalls = calls[first]!;
    if (ownCalls) called = called ? ownCalls.concat(called) : ownCalls;
    next = start[first]!;
    end = first;
  }
  weight[end] = total;
  structs[end] = inner;
  calls[end] = called;
  stack.top[end] = null;
  stack.sp = end + 1;
  return end;
}

/**
 * IRBuilder's finishScope, on the scope's stack entries: drops values left before an unreachable end;
 * at the end of a scope that yields a value, statements after the value make binaryen set it to a
 * scratch local and get it after them (no block: the scope's own list holds them).
 */
function finish(stack: ExpressionStack, scope: Scope, end: number): void {
  const { type, weight, top } = stack;
  if (scope.unreachable) {
    let last = stack.sp - 1;
    while (type[last] !== UNREACHABLE) last--;
    for (let i = scope.base; i < last; i++) {
      if (type[i] === VALUE) {
        weight[i]! += 1; // the drop binaryen adds
        type[i] = NONE;
        top[i] = null;
      }
    }
    return;
  }
  if (scope.arity === 1) {
    let k = stack.sp - 1;
    while (k >= scope.base && type[k] === NONE) k--;
    if (k < scope.base) notRewritable('missing result');
    if (k !== stack.sp - 1) {
      weight[k]! += 1; // local.set
      type[k] = NONE;
      top[k] = null;
      stack.push(VALUE, 1, end, null, null); // local.get
    }
  }
  const valueAt = scope.arity === 1 ? stack.sp - 1 : -1;
  for (let i = scope.base; i < stack.sp; i++) {
    if ((type[i] === VALUE) !== (i === valueAt)) notRewritable('a value left on the stack');
  }
}

/** The scope's expressions, taken off the stack. */
function closeItems(stack: ExpressionStack, scope: Scope, end: number): Item[] {
  finish(stack, scope, end);
  const items = stack.items(scope.base, stack.sp);
  stack.sp = scope.base;
  return items;
}

/** The expression a loop body, an `if` arm or a function body becomes: its one item, or a block. */
export function scopeExpression(stack: ExpressionStack, scope: Scope, end: number): Item {
  const items = closeItems(stack, scope, end);
  if (items.length === 1) return items[0]!;
  const node: BlockNode = { kind: 0, named: false, list: items };
  const type = scope.arity === 1 ? VALUE : items.some((i) => i.type === UNREACHABLE) ? UNREACHABLE : NONE;
  return structItem(node, type, items.length > 0 ? items[0]!.start : end);
}

function structItem(node: Struct, type: number, start: number): Item {
  return { type, weight: 0, structs: [node], top: node, start, calls: null };
}

/** The expression a `block`, `loop` or `if` becomes at its `end`. */
export function closeScope(stack: ExpressionStack, scope: Scope, end: number): Item {
  switch (scope.kind) {
    case BLOCK: {
      const items = closeItems(stack, scope, end);
      const node: BlockNode = { kind: 0, named: scope.labelUsed, list: items };
      const unreachable = !scope.labelUsed && items.some((i) => i.type === UNREACHABLE);
      return structItem(node, scope.arity === 1 ? VALUE : unreachable ? UNREACHABLE : NONE, scope.start);
    }
    case LOOP: {
      const body = scopeExpression(stack, scope, end);
      const type = scope.arity === 1 ? VALUE : body.type === UNREACHABLE ? UNREACHABLE : NONE;
      const node: LoopNode = { kind: 1, type, body, at: scope.start, bodyStart: scope.bodyStart, end, blockType: scope.blockType, blockTypeEnd: scope.bodyStart };
      return structItem(node, type, scope.start);
    }
    case IF:
    case ELSE: {
      const arm = scopeExpression(stack, scope, end);
      const isElse = scope.kind === ELSE;
      const node: IfNode = {
        kind: 2,
        cond: scope.cond!,
        ifTrue: isElse ? scope.ifTrue! : arm,
        ifFalse: isElse ? arm : null,
        trueStart: isElse ? scope.trueStart : scope.bodyStart,
        falseStart: isElse ? scope.bodyStart : -1,
      };
      const bothUnreachable = isElse && node.ifTrue.type === UNREACHABLE && arm.type === UNREACHABLE;
      const type = scope.arity === 1 ? VALUE : bothUnreachable ? UNREACHABLE : NONE;
      const item = structItem(node, type, scope.start);
      if (!scope.labelUsed) return item;
      // A branch to an `if` targets a named block binaryen wraps around it.
      const wrapper: BlockNode = { kind: 0, named: true, list: [item] };
      return structItem(wrapper, scope.arity === 1 ? VALUE : NONE, scope.start);
    }
    default:
      return notRewritable('unexpected scope');
  }
}

/** The function body; a branch to the function's own label names (or adds) a block around it. */
export function functionBody(stack: ExpressionStack, scope: Scope, end: number): Item {
  const body = scopeExpression(stack, scope, end);
  if (!scope.labelUsed) return body;
  if (body.top?.kind === 0 && !body.top.named) {
    body.top.named = true;
    return body;
  }
  const wrapper: BlockNode = { kind: 0, named: true, list: [body] };
  return structItem(wrapper, NONE, body.start);
}
