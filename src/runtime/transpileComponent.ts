import { transpile } from 'jco-glue';
import { LoadError } from '../errors/LoadError.ts';

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
  let output: Awaited<ReturnType<typeof transpile>>;
  try {
    output = await transpile(bytes, { name: 'component', instantiation: 'async' });
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new LoadError('invalid-component', `${source} is not a valid component: ${firstLine(reason)}`, { source, component: name }, cause);
  }
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
