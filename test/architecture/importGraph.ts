/**
 * Reads the import graph of `src/` from the source text (no dependency: a regular expression over
 * `import`/`export … from` and `import()` specifiers) and checks it against the layer rule written in
 * `docs/architecture.md`. Type-only imports count: a type that points upward is still a dependency
 * the reader has to climb to.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/**
 * The layers, top to bottom. A file may import from its own folder or from any folder further down
 * this list; an import that goes to a folder further up is an upward arrow. Folders on one line are
 * peers and may not import each other (peers that need each other belong on different lines).
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['index.ts'],
  ['cli'],
  ['app'],
  ['batch'],
  ['metrics'],
  ['engine'],
  ['host'],
  ['jobs'],
  ['bus'],
  ['supervisor'],
  ['actor'],
  ['replay'],
  ['runtime'],
  ['wasi'],
  ['store'],
  ['chain'],
  ['config'],
  ['signals'],
  ['errors'],
  ['limits', 'clock', 'tracing'],
  ['types'],
  // Runs inside a module's component (bundled into it), not in the engine: it may import nothing of src/.
  ['guest'],
];

export interface ImportEdge {
  from: string; // path relative to src/, with '/' separators
  to: string;
}

export interface Violation extends ImportEdge {
  fromLayer: string;
  toLayer: string;
}

const SPECIFIER = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts|mjs)$/.test(name)) out.push(path);
  }
  return out;
}

function posix(path: string): string {
  return path.split(sep).join('/');
}

/** Every import between files of `srcDir`, relative specifiers only. */
export function importEdges(srcDir: string): ImportEdge[] {
  const root = resolve(srcDir);
  const edges: ImportEdge[] = [];
  for (const file of sourceFiles(root)) {
    const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    for (const match of text.matchAll(SPECIFIER)) {
      const specifier = match[1] ?? match[2];
      if (!specifier?.startsWith('.')) continue;
      const target = resolve(dirname(file), specifier);
      if (!target.startsWith(root)) continue;
      edges.push({ from: posix(relative(root, file)), to: posix(relative(root, target)) });
    }
  }
  return edges;
}

/** The top-level folder of a file (or the file itself at the top of src/). */
export function layerOf(path: string): string {
  return path.split('/')[0]!;
}

function rank(layer: string): number {
  const index = LAYERS.findIndex((line) => line.includes(layer));
  if (index < 0) throw new Error(`src/${layer} is in no layer of LAYERS: add it where it belongs`);
  return index;
}

/** Imports that point to a layer above (or beside) their own. */
export function upwardImports(edges: readonly ImportEdge[]): Violation[] {
  const out: Violation[] = [];
  for (const edge of edges) {
    const fromLayer = layerOf(edge.from);
    const toLayer = layerOf(edge.to);
    if (fromLayer === toLayer) continue;
    if (rank(toLayer) <= rank(fromLayer)) out.push({ ...edge, fromLayer, toLayer });
  }
  return out;
}

/** File-level cycles (strongly connected components of more than one file, or a file importing itself). */
export function importCycles(edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) {
    if (!next.has(from)) next.set(from, []);
    if (!next.has(to)) next.set(to, []);
    next.get(from)!.push(to);
  }
  // Tarjan's algorithm, iterative so a deep graph cannot overflow the stack.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  for (const start of next.keys()) {
    if (index.has(start)) continue;
    const work: { node: string; child: number }[] = [{ node: start, child: 0 }];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const children = next.get(frame.node)!;
      if (frame.child < children.length) {
        const child = children[frame.child++]!;
        if (!index.has(child)) {
          index.set(child, counter);
          low.set(child, counter++);
          stack.push(child);
          onStack.add(child);
          work.push({ node: child, child: 0 });
        } else if (onStack.has(child)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(child)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        const selfLoop = children.includes(frame.node);
        if (component.length > 1 || selfLoop) cycles.push(component.sort());
      }
    }
  }
  return cycles;
}

/**
 * One cycle through the files of a strongly connected component, as the chain of imports that closes
 * it (`a.ts → b.ts → a.ts`): the component lists every file caught up in it, the chain says which
 * import to cut.
 */
export function cyclePath(edges: readonly ImportEdge[], component: readonly string[]): string[] {
  const members = new Set(component);
  const start = component[0]!;
  const cameFrom = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i]!;
    for (const { from, to } of edges) {
      if (from !== node || !members.has(to)) continue;
      if (to === start) {
        const path = [start];
        for (let at = node; at !== start; at = cameFrom.get(at)!) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!cameFrom.has(to)) {
        cameFrom.set(to, node);
        queue.push(to);
      }
    }
  }
  return [start, start]; // a file importing itself
}

/**
 * What is wrong with the layering of `srcDir`, one line per problem, naming the files so a contributor
 * knows which import to change: every upward (or sideways) arrow, and every cycle as the chain that
 * closes it. Empty when the rule holds.
 */
export function layeringProblems(srcDir: string): string[] {
  const edges = importEdges(srcDir);
  const arrows = upwardImports(edges).map(
    ({ from, to, fromLayer, toLayer }) => `upward import: src/${from} imports src/${to} (${fromLayer}/ may not import ${toLayer}/, which is above it or beside it in LAYERS)`,
  );
  const cycles = importCycles(edges).map((component) => `import cycle: ${cyclePath(edges, component).map((file) => `src/${file}`).join(' → ')}`);
  return [...new Set([...arrows, ...cycles])];
}

/** The internal imports of one file, counted by distinct target file. */
export function internalImports(edges: readonly ImportEdge[], file: string): string[] {
  return [...new Set(edges.filter((edge) => edge.from === file).map((edge) => edge.to))].sort();
}
