import { type Item, type LoopNode, NONE, UNREACHABLE } from './shape.ts';

/*
 * instrumentWithBinaryen.ts's region scan (scanBlocks), over the shape planFunction.ts decoded; the
 * folding both rewrites share; and the insertions that charge the regions (written by emitFunction.ts)
 * once settleCharges.ts has settled their costs.
 */

/** One thing to write into the function's code at a byte offset (see emitFunction.ts). */
export interface Insertion {
  offset: number;
  kind: number;
  cost: number;
  /** For loop wrappers: the loop's type (NONE, VALUE, UNREACHABLE) and, for the prefix, where its block type is. */
  loopType: number;
  blockType: number;
  blockTypeEnd: number;
}

/**
 * Insertion kinds. Several can fall on one offset; they are written in this order: what closes a
 * construct first, then what opens one, outermost first (an `if` arm's charge before the loop it
 * starts with, a loop's charge before the loop wrapper at the top of its body).
 */
export const Insert = {
  /** After a wrapped loop's `end`: the refill path. */
  LoopSuffix: 0,
  /** The checked charge at the function entry. */
  Entry: 1,
  /** A subtract-only charge at the start of a segment. */
  Segment: 2,
  /** At the top of a wrapped loop's body: charge, and `br_if` to the refill path when it runs out. */
  LoopCharge: 3,
  /** At the top of a loop that is an operand (not wrapped): a checked charge, as at a function entry. */
  LoopCheck: 4,
  /** Before a wrapped loop: the exit block, the resume loop and the refill block. */
  LoopPrefix: 5,
  /** `call $gate` in front of a `memory.grow`. */
  Grow: 6,
  /** `call $tableGate` in front of a `table.grow`. */
  TableGrow: 7,
  /** In front of a bulk memory instruction: a checked charge of its length (see BULK_MEMORY_FUEL_SHIFT). */
  Bulk: 8,
} as const;

export interface FunctionPlan {
  insertions: Insertion[];
  /** Labels a wrapped loop adds around itself, by the offset of its `loop` opcode (for branch depths). */
  wrappedLoops: Map<number, number>;
  growsMemory: boolean;
  growsTable: boolean;
  /** Whether it charges a bulk instruction, which needs a second scratch local (the length). */
  chargesBulk: boolean;
}

/** The instructions a plan treats besides its regions, by byte offset. */
export interface SpecialOps {
  grows: number[];
  tableGrows: number[];
  bulk: number[];
}

/** Segments with fewer instructions than this are charged with their enclosing code instead (both rewrites). */
export const FOLD_BELOW = 24;
/**
 * The most a region takes from its small segments (both rewrites). Folding charges a segment as if it
 * always ran: right for a few `if` arms, but an interpreter's dispatch loop has hundreds of small
 * cases of which one runs, and folding them all charged StarlingMonkey ~48,000 fuel per JavaScript
 * loop iteration (a refuel every few iterations). Past this sum none of a region's small segments is
 * folded: each charges itself, so the region is charged for the case that runs.
 */
export const FOLD_CAP = 64;

/**
 * Folds small segments into their parent regions, innermost first so folds add up, unless their sum
 * passes FOLD_CAP. A child region always has a higher index than its parent, so when the loop reaches
 * a region, every child's cost is final. The decision depends only on the costs, never on the order
 * the scan created sibling regions in, so both rewrites agree.
 */
export function foldSmallSegments(costs: number[], parents: number[], isSegment: (region: number) => boolean): void {
  const smallSum = new Array<number>(costs.length).fill(0);
  const smallChildren: number[][] = costs.map(() => []);
  for (let i = costs.length - 1; i >= 0; i--) {
    if (smallChildren[i]!.length > 0 && smallSum[i]! <= FOLD_CAP) {
      costs[i]! += smallSum[i]!;
      for (const child of smallChildren[i]!) costs[child] = 0;
    }
    if (i > 0 && isSegment(i) && costs[i]! < FOLD_BELOW) {
      smallSum[parents[i]!]! += costs[i]!;
      smallChildren[parents[i]!]!.push(i);
    }
  }
}
export const ENTRY_REGION = 0;
export const LOOP_REGION = 1;
export const SEGMENT_REGION = 2;

/**
 * A function's regions as both rewrites scan them: region 0 is the entry, the others are loop bodies and
 * segments. `costs` are instruction counts until settleCharges.ts folds small segments and adds hoisted
 * callees' entries (then they are what each charge subtracts). `calls` holds pairs: the region a direct
 * call sits in, and the called function's module index.
 */
export interface Regions {
  costs: number[];
  parents: number[];
  kinds: number[];
  calls: number[];
}

/** What the byte rewrite keeps of one function between its scan and its plan (the IR shape is dropped). */
export interface FunctionScan extends Regions {
  bodyStart: number;
  /** For a loop region: the loop and whether it sits in a slot (wrapped) or in an operand (charged in place). */
  loops: { region: number; node: Omit<LoopNode, 'body'>; slot: boolean }[];
  /** For a segment region: where its charge goes. */
  segmentAt: number[];
  special: SpecialOps;
}

/** instrumentWithBinaryen.ts's scanBlocks over the decoded shape: the regions, their instruction counts and calls. */
export function scanRegions(body: Item, bodyStart: number, special: SpecialOps): FunctionScan {
  const costs = [0];
  const parents = [-1];
  const kinds = [ENTRY_REGION];
  const calls: number[] = [];
  const loops: FunctionScan['loops'] = [];
  const segmentAt = [-1];
  const region = (kind: number, parent: number, at: number) => {
    costs.push(0);
    parents.push(parent);
    kinds.push(kind);
    segmentAt.push(at);
    return costs.length - 1;
  };

  const items: Item[] = [body];
  const owners: number[] = [ENTRY_REGION];
  const slots: boolean[] = [true];
  while (items.length > 0) {
    const item = items.pop()!;
    const owner = owners.pop()!;
    const slot = slots.pop()!;
    costs[owner]! += item.weight;
    if (item.calls) for (const callee of item.calls) calls.push(owner, callee);
    if (!item.structs) continue;
    for (const node of item.structs) {
      costs[owner]!++;
      if (node.kind === 0) {
        let current = owner;
        const list = node.list;
        for (let i = 0; i < list.length; i++) {
          const child = list[i]!;
          items.push(child);
          owners.push(current);
          slots.push(true);
          if (child.top?.kind === 0 && child.top.named && i + 1 < list.length) current = region(SEGMENT_REGION, owner, list[i + 1]!.start);
        }
      } else if (node.kind === 1) {
        const loopRegion = region(LOOP_REGION, owner, -1);
        const { body: loopBody, ...loop } = node;
        loops.push({ region: loopRegion, node: loop, slot: slot && node === item.top });
        items.push(loopBody);
        owners.push(loopRegion);
        slots.push(true);
      } else {
        items.push(node.cond);
        owners.push(owner);
        slots.push(false);
        items.push(node.ifTrue);
        owners.push(region(SEGMENT_REGION, owner, node.trueStart));
        slots.push(true);
        if (node.ifFalse) {
          items.push(node.ifFalse);
          owners.push(region(SEGMENT_REGION, owner, node.falseStart));
          slots.push(true);
        }
      }
    }
  }
  return { costs, parents, kinds, calls, loops, segmentAt, bodyStart, special };
}

/**
 * The insertions that charge a scanned function, once settleCharges.ts has settled its costs. A function
 * whose entry its callers charge (`entryHoisted`) has no entry charge of its own.
 */
export function chargePlan(scan: FunctionScan, entryHoisted: boolean): FunctionPlan {
  const { costs, kinds, loops, segmentAt, bodyStart } = scan;
  const { grows, tableGrows, bulk } = scan.special;
  const insertions: Insertion[] = [];
  if (!entryHoisted) insertions.push({ offset: bodyStart, kind: Insert.Entry, cost: Math.max(1, costs[0]!), loopType: NONE, blockType: 0, blockTypeEnd: 0 });
  const wrappedLoops = new Map<number, number>();
  for (const { region: index, node, slot } of loops) {
    const cost = Math.max(1, costs[index]!);
    if (slot) {
      insertions.push({ offset: node.at, kind: Insert.LoopPrefix, cost, loopType: node.type, blockType: node.blockType, blockTypeEnd: node.blockTypeEnd });
      insertions.push({ offset: node.end + 1, kind: Insert.LoopSuffix, cost, loopType: node.type, blockType: 0, blockTypeEnd: 0 });
      wrappedLoops.set(node.at, node.type === UNREACHABLE ? 2 : 3);
    }
    insertions.push({ offset: node.bodyStart, kind: slot ? Insert.LoopCharge : Insert.LoopCheck, cost, loopType: node.type, blockType: 0, blockTypeEnd: 0 });
  }
  for (let i = 1; i < costs.length; i++) {
    if (kinds[i] === SEGMENT_REGION && costs[i]! > 0) insertions.push({ offset: segmentAt[i]!, kind: Insert.Segment, cost: costs[i]!, loopType: NONE, blockType: 0, blockTypeEnd: 0 });
  }
  for (const at of grows) insertions.push({ offset: at, kind: Insert.Grow, cost: 0, loopType: NONE, blockType: 0, blockTypeEnd: 0 });
  for (const at of tableGrows) insertions.push({ offset: at, kind: Insert.TableGrow, cost: 0, loopType: NONE, blockType: 0, blockTypeEnd: 0 });
  for (const at of bulk) insertions.push({ offset: at, kind: Insert.Bulk, cost: 0, loopType: NONE, blockType: 0, blockTypeEnd: 0 });
  insertions.sort((a, b) => a.offset - b.offset || a.kind - b.kind);
  return { insertions, wrappedLoops, growsMemory: grows.length > 0, growsTable: tableGrows.length > 0, chargesBulk: bulk.length > 0 };
}
