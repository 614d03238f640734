import { transpile } from 'jco-glue';
import { LoadError } from '../../errors/LoadError.ts';
import { stubCoreModules, stubIndex } from './componentStubs.ts';

/*
 * Why the glue generator is jco 1.11.2 and not the jco corral otherwise uses (1.35): the glue of recent jco wraps every
 * export call in component-model-async task bookkeeping (and reads `process.env` for debug logging
 * on every call): a trivial `add(u32, u32)` costs ~2.5–2.8 µs through jco-transpile 0.5–0.15
 * (jco ≥ 1.15) against 8 ns through 1.11.2's glue, measured side by side on this machine. corral's
 * guests are synchronous components, so it needs none of that machinery; 1.11.2 lifts and lowers
 * the same canonical ABI with straight-line code. The cost of the choice: components that use the
 * component-model async ABI (streams, futures, `async` functions) are not supported, and numeric
 * lists must be passed as typed arrays (`list<u32>` is a `Uint32Array`), as jco 1.11 expects.
 */

export interface TranspiledComponent {
  /** The generated ES module, whose `instantiate(getCoreModule, imports, instantiateCore)` builds an instance. */
  glue: string;
  /** Core modules by the file name the glue asks `getCoreModule` for. */
  coreModules: Map<string, Uint8Array>;
  /** Top-level exports, with `function` or `instance` (an exported interface). */
  exports: [string, 'function' | 'instance'][];
  /** Imported interfaces and the function names the glue takes from each. */
  imports: Record<string, string[]>;
  /** Parameter and result types of top-level exported functions, in jco's TypeScript notation. */
  signatures: Record<string, ExportSignature>;
}

export interface ExportSignature {
  params: { name: string; type: string }[];
  result: string;
}

/** Runs the glue generator over a component and collects what the loader and the worker need. */
export async function transpileComponent(bytes: Uint8Array, name: string, source: string): Promise<TranspiledComponent> {
  const output = (await transpileStubbed(bytes)) ?? (await transpileWhole(bytes, name, source));
  const decoder = new TextDecoder();
  const coreModules = new Map<string, Uint8Array>();
  let glue = '';
  let typings = '';
  for (const [file, content] of Object.entries(output.files)) {
    if (file.endsWith('.wasm')) coreModules.set(file, content);
    else if (file === 'component.js') glue = decoder.decode(content);
    else if (file === 'component.d.ts') typings = decoder.decode(content);
  }
  return {
    glue,
    coreModules,
    exports: output.exports,
    imports: importedFunctions(glue, output.imports),
    signatures: exportSignatures(typings),
  };
}

/**
 * Throws the `invalid-component` LoadError jco's validation of the whole component gives, if any. For
 * when a core module cannot be instrumented: the stubbed transpile did not look at function bodies.
 */
export async function confirmValidComponent(bytes: Uint8Array, name: string, source: string): Promise<void> {
  await transpileWhole(bytes, name, source);
}

type TranspileOutput = Awaited<ReturnType<typeof transpile>>;

async function transpileWhole(bytes: Uint8Array, name: string, source: string): Promise<TranspileOutput> {
  try {
    return await transpile(bytes, { name: 'component', instantiation: 'async' });
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new LoadError('invalid-component', `${source} is not a valid component: ${firstLine(reason)}`, { source, component: name }, cause);
  }
}

/**
 * The glue depends on the component's types, imports and exports, never on what its core functions
 * do, but jco parses and validates every function body: on a 12.5 MB StarlingMonkey component it took
 * ~4.5 s, against ~0.4 s with the bodies emptied (~0.9 s in a fresh thread, most of it V8 compiling
 * jco's own wasm). So it is given the component with each core module's code emptied
 * (componentStubs.ts), and the real modules are put back in its output, which copies each module
 * verbatim (modules it generates itself, adapters between nested components, stay as they are).
 * Null when that cannot be done exactly; then, and on any error, the whole component is transpiled,
 * so that errors name what is really wrong. (Broken function bodies get past this; see
 * `confirmValidComponent`.)
 */
async function transpileStubbed(bytes: Uint8Array): Promise<TranspileOutput | null> {
  const stubbed = stubCoreModules(bytes);
  if (!stubbed) return null;
  let output: TranspileOutput;
  try {
    output = await transpile(stubbed.bytes, { name: 'component', instantiation: 'async' });
  } catch {
    return null;
  }
  const files: Record<string, Uint8Array> = {};
  for (const [file, content] of Object.entries(output.files)) {
    if (!file.endsWith('.wasm')) {
      files[file] = content;
      continue;
    }
    const index = stubIndex(content);
    if (index < 0) {
      files[file] = content; // a module jco generated (an adapter between nested components)
      continue;
    }
    const original = stubbed.originals.get(index);
    if (!original || !sameBytes(original.stub, content)) return null;
    files[file] = original.module;
  }
  return { ...output, files };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The glue takes imports as `const { a, b } = imports['pkg:x/y'];` (or `default` for a bare function). */
function importedFunctions(glue: string, specifiers: string[]): Record<string, string[]> {
  const imports: Record<string, string[]> = {};
  for (const specifier of specifiers) imports[specifier] = [];
  for (const match of glue.matchAll(/const \{ ([^}]*) \} = imports\['([^']+)'\];/g)) {
    const names = match[1]!.split(',').map((part) => part.trim().split(':')[0]!.trim()).filter(Boolean);
    imports[match[2]!] = names;
  }
  return imports;
}

/** Reads `  name(a: T, b: U): R,` lines of the world's root interface in the generated typings. */
function exportSignatures(typings: string): Record<string, ExportSignature> {
  const root = /export interface Root \{\n([\s\S]*?)\n\}/.exec(typings)?.[1] ?? '';
  const signatures: Record<string, ExportSignature> = {};
  for (const line of root.split('\n')) {
    const m = /^\s+(\w+)\((.*)\): (.*),$/.exec(line);
    if (!m) continue;
    const params = m[2]!.trim() === '' ? [] : splitTopLevel(m[2]!).map((p) => {
      const at = p.indexOf(':');
      return { name: p.slice(0, at).trim(), type: p.slice(at + 1).trim() };
    });
    signatures[m[1]!] = { params, result: m[3]!.trim() };
  }
  return signatures;
}

function splitTopLevel(list: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (c === '<' || c === '(' || c === '{' || c === '[') depth++;
    else if (c === '>' || c === ')' || c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(list.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(list.slice(start));
  return parts;
}

function firstLine(text: string): string {
  return text.split('\n').find((l) => l.trim() !== '')?.trim() ?? text;
}
