import { type Regions, SEGMENT_REGION, foldSmallSegments } from './chargePlan.ts';

/*
 * The module-wide step of both rewrites, between scanning every function and writing its charges:
 * small segments are folded (chargePlan.ts) and the entry charges of direct callees are hoisted into
 * their callers.
 *
 * Why hoist: an interpreter (QuickJS) calls many small functions, and each entry was a checked charge
 * (read, subtract, write, compare, branch) for a handful of instructions: ~52,000 of them per call of
 * the QuickJS bench's `reformat`, about half its metering overhead. A callee that only its callers'
 * direct calls can reach has its entry cost added to the charge of the region each `call` sits in:
 * that region's charge is paid at its head whenever the call runs, and only then (a region is
 * straight-line code, and a segment holding such a call is never folded into its parent, so a call on
 * an arm that is not taken is never charged). The fuel of every path is unchanged, and as
 * deterministic as before; only where it is subtracted moves, earlier, never later.
 *
 * What keeps its own entry charge, because a path the caller cannot see reaches it: exported
 * functions, the start function, functions in a table or an element segment, `ref.func`'d ones (in
 * code or a global's initializer), and in each recursive cycle at least one function (one that calls
 * itself always), so that unbounded recursion still meets a check on every turn (calleesFirst).
 * Imported functions have no charge.
 *
 * The bound (HOIST_DEBT_MAX): a hoisted callee no longer checks the counter on entry, so the fuel it
 * subtracts without a check (its entry, its segments, and the same for what it hoists itself) is
 * owed until the next checked charge (a loop head, or an entry that kept its check). A callee is
 * hoisted only while that debt is at most HOIST_DEBT_MAX. So what one activation can run past a
 * check stays small, the i32 counter cannot be outrun, and the deadline, which the meter checks at
 * refuels (worker/Meter.ts), is still reached within about a slice.
 *
 * Measured (QuickJS `reformat`, side by side, interleaved): of ~52,000 entry charges per call, ~36,000
 * are hoisted (with cycles broken at back edges; 20,000 when a whole recursive component kept its
 * checks); fuel overhead 33 → 28 %. Segment charges are most of what is left (without them: 13 %).
 */

/**
 * The most fuel a hoisted function (with what it hoists) may subtract without a check of its own: a
 * fifth of the largest slice (FUEL_SLICE_MAX), so a debt never takes the counter far past a refuel.
 * Debt is summed over every segment, taken or not (a static bound); 1,000 hoisted ~20,000 of QuickJS's
 * entries, 20,000 ~36,000.
 */
export const HOIST_DEBT_MAX = 20_000;

/**
 * Settles the costs of every defined function of a module (in place): folds small segments and adds
 * hoisted entries to the regions of the calls. `functions[i]` is the function of module index
 * `firstDefined + i`; `pinned(index)` says a function keeps its entry charge (see above). Returns, per
 * defined function, whether its entry is charged by its callers (so it writes no entry charge).
 * Callees are settled before their callers (the call graph's strongly connected components in
 * reverse topological order), so a caller sees its callees' final entry costs.
 */
export function settleCharges(functions: Regions[], firstDefined: number, pinned: (index: number) => boolean): boolean[] {
  const n = functions.length;
  const callees = functions.map(({ calls }) => {
    const out: number[] = [];
    for (let k = 1; k < calls.length; k += 2) {
      const callee = calls[k]! - firstDefined;
      if (callee >= 0 && callee < n) out.push(callee);
    }
    return out;
  });
  const { order, recursive } = calleesFirst(callees);
  const entry = new Array<number>(n).fill(0);
  const debt = new Array<number>(n).fill(0);
  const hoisted = new Array<boolean>(n).fill(false);
  for (const f of order) {
    const { costs, parents, kinds, calls } = functions[f]!;
    const holdsHoisted = new Uint8Array(costs.length);
    for (let k = 0; k < calls.length; k += 2) {
      const callee = calls[k + 1]! - firstDefined;
      if (callee >= 0 && callee < n && hoisted[callee]) holdsHoisted[calls[k]!] = 1;
    }
    foldSmallSegments(costs, parents, (i) => kinds[i] === SEGMENT_REGION && holdsHoisted[i] === 0);
    let owed = 0;
    for (let k = 0; k < calls.length; k += 2) {
      const callee = calls[k + 1]! - firstDefined;
      if (callee < 0 || callee >= n || !hoisted[callee]) continue;
      costs[calls[k]!]! += entry[callee]!;
      owed += debt[callee]! - entry[callee]!;
    }
    entry[f] = Math.max(1, costs[0]!);
    let unchecked = entry[f]! + owed;
    for (let i = 1; i < costs.length; i++) if (kinds[i] === SEGMENT_REGION) unchecked += costs[i]!;
    debt[f] = unchecked;
    hoisted[f] = !recursive[f] && !pinned(firstDefined + f) && unchecked <= HOIST_DEBT_MAX;
  }
  boundCheckedDebts(functions, firstDefined, order, entry, hoisted);
  return hoisted;
}

/**
 * The most fuel a function that keeps its entry check may subtract without another check because of
 * what it hoists (its own segments alone were always subtracted unchecked, bounded by its size): one
 * FUEL_SLICE_MAX. HOIST_DEBT_MAX bounds one hoisted callee, not their sum: a checked function making
 * 200,000 direct calls to a hoisted callee owed ~4·10⁹ fuel between two checks, past the i32 counter,
 * which wrapped positive and ran a loop of them without a refuel, so without a fuel or deadline check
 * (found in review).
 */
export const CHECKED_DEBT_MAX = 100_000;

/**
 * Second pass, callees first: a function that keeps its check and owes more than CHECKED_DEBT_MAX
 * (its own charges plus its hoisted callees' debts) un-hoists its callees, in call order, until it
 * owes at most that or hoists nothing. An un-hoisted callee keeps its own entry check, so every caller
 * of it drops the entry it added; every debt only shrinks, so a hoisted function stays within
 * HOIST_DEBT_MAX. A caller settled earlier keeps its larger figure (a conservative bound).
 */
function boundCheckedDebts(functions: Regions[], firstDefined: number, order: number[], entry: number[], hoisted: boolean[]): void {
  const n = functions.length;
  const sites: number[][] = Array.from({ length: n }, () => []); // per callee: caller, region, …
  functions.forEach(({ calls }, f) => {
    for (let k = 0; k < calls.length; k += 2) {
      const callee = calls[k + 1]! - firstDefined;
      if (callee >= 0 && callee < n) sites[callee]!.push(f, calls[k]!);
    }
  });
  const debt = new Array<number>(n).fill(0);
  const owes = (f: number) => {
    const { costs, kinds, calls } = functions[f]!;
    let sum = Math.max(1, costs[0]!);
    for (let i = 1; i < costs.length; i++) if (kinds[i] === SEGMENT_REGION) sum += costs[i]!;
    for (let k = 0; k < calls.length; k += 2) {
      const callee = calls[k + 1]! - firstDefined;
      if (callee >= 0 && callee < n && hoisted[callee]) sum += debt[callee]! - entry[callee]!;
    }
    return sum;
  };
  for (const f of order) {
    debt[f] = owes(f);
    if (hoisted[f] || debt[f]! <= CHECKED_DEBT_MAX) continue;
    const { calls } = functions[f]!;
    for (let k = 0; k < calls.length && debt[f]! > CHECKED_DEBT_MAX; k += 2) {
      const callee = calls[k + 1]! - firstDefined;
      if (callee < 0 || callee >= n || !hoisted[callee]) continue;
      hoisted[callee] = false;
      const at = sites[callee]!;
      for (let j = 0; j < at.length; j += 2) functions[at[j]!]!.costs[at[j + 1]!]! -= entry[callee]!;
      debt[f] = owes(f);
    }
  }
}

/**
 * The order functions are settled in, callees before callers, and which keep their entry check
 * because of recursion. Tarjan's strongly connected components come out callees first. In a
 * component with a cycle, a depth-first search over the component's own calls (from its lowest index,
 * callees in index order, so both rewrites choose alike) finds the back edges; their targets keep
 * their check. Every cycle holds a back edge, so every cycle passes a check (unbounded recursion is
 * still stopped), while the component's other functions can be hoisted: the calls left among them
 * form no cycle, and the search's finishing order settles each of them after its callees.
 * Iterative: call chains are deep.
 */
function calleesFirst(callees: number[][]): { order: number[]; recursive: boolean[] } {
  const n = callees.length;
  for (const out of callees) out.sort((x, y) => x - y);
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const recursive = new Array<boolean>(n).fill(false);
  const component = new Int32Array(n).fill(-1);
  const order: number[] = [];
  const stack: number[] = [];
  const frames: { v: number; next: number }[] = [];
  let counter = 0;
  let components = 0;
  for (let root = 0; root < n; root++) {
    if (index[root] !== -1) continue;
    frames.push({ v: root, next: 0 });
    index[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = 1;
    while (frames.length > 0) {
      const frame = frames[frames.length - 1]!;
      const { v } = frame;
      const out = callees[v]!;
      if (frame.next < out.length) {
        const w = out[frame.next++]!;
        if (index[w] === -1) {
          index[w] = low[w] = counter++;
          stack.push(w);
          onStack[w] = 1;
          frames.push({ v: w, next: 0 });
        } else if (onStack[w]) low[v] = Math.min(low[v]!, index[w]!);
        continue;
      }
      frames.pop();
      if (frames.length > 0) {
        const parent = frames[frames.length - 1]!.v;
        low[parent] = Math.min(low[parent]!, low[v]!);
      }
      if (low[v] !== index[v]) continue;
      const members: number[] = [];
      let w: number;
      do {
        w = stack.pop()!;
        onStack[w] = 0;
        component[w] = components;
        members.push(w);
      } while (w !== v);
      if (members.length === 1 && !callees[v]!.includes(v)) order.push(v);
      else breakCycles(members, components, callees, component, recursive, order);
      components++;
    }
  }
  return { order, recursive };
}

/** The depth-first search of one cyclic component (see calleesFirst): marks back-edge targets, appends its finishing order. */
function breakCycles(members: number[], id: number, callees: number[][], component: Int32Array, recursive: boolean[], order: number[]): void {
  const state = new Map<number, number>(); // 1: on the search's path, 2: finished
  const root = Math.min(...members);
  const frames = [{ v: root, next: 0 }];
  state.set(root, 1);
  while (frames.length > 0) {
    const frame = frames[frames.length - 1]!;
    const out = callees[frame.v]!;
    if (frame.next < out.length) {
      const w = out[frame.next++]!;
      if (component[w] !== id) continue;
      const seen = state.get(w);
      if (seen === 1) recursive[w] = true;
      else if (seen === undefined) {
        state.set(w, 1);
        frames.push({ v: w, next: 0 });
      }
      continue;
    }
    frames.pop();
    state.set(frame.v, 2);
    order.push(frame.v);
  }
}
