/**
 * A function as the fuel rewriter sees it: binaryen's IR reduced to what the charges depend on (how
 * many IR expressions each stretch of code holds, and the blocks, loops and ifs that bound the
 * stretches). Built by planFunction.ts, measured by chargePlan.ts.
 */

export const NONE = 0;
export const VALUE = 1;
export const UNREACHABLE = 2;

/** An expression: its type, its plain IR nodes, and the control structures inside it. */
export interface Item {
  type: number;
  /** IR nodes in this expression that are not inside one of `structs` (those count themselves). */
  weight: number;
  /** Blocks, loops and ifs directly inside this expression (not nested in one another). */
  structs: Struct[] | null;
  /** The root expression, when it is a control structure (so a block that is branched to can be recognised). */
  top: Struct | null;
  /** Byte offset of the expression's first instruction. */
  start: number;
  /** Functions called directly (`call`, `return_call`) by IR nodes counted in `weight`, by module function index. */
  calls: number[] | null;
}

export interface BlockNode {
  kind: 0;
  named: boolean;
  list: Item[];
}

export interface LoopNode {
  kind: 1;
  type: number;
  body: Item;
  /** Offsets of the `loop` opcode, of its first body instruction and of its `end`. */
  at: number;
  bodyStart: number;
  end: number;
  /** Where the loop's block type is in the code (reused for the wrapper's exit block). */
  blockType: number;
  blockTypeEnd: number;
}

export interface IfNode {
  kind: 2;
  cond: Item;
  ifTrue: Item;
  ifFalse: Item | null;
  trueStart: number;
  falseStart: number;
}

export type Struct = BlockNode | LoopNode | IfNode;
