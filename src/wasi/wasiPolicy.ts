import { LoadError } from '../errors/LoadError.ts';

/**
 * How corral treats each WASI 0.2 interface a component may import:
 * - `provided`: implemented by corral, no grant needed (no authority beyond the call itself);
 * - `grant`: provided, but with nothing to reach until the load options grant it (filesystem: no
 *   preopened directory unless `wasi.dirs` names one);
 * - `denied`: the import loads (componentize-js imports wasi:http for `fetch`), and using it ends the
 *   call in a `WasiNotGranted` trap;
 * - anything not listed (wasi:sockets, …) is refused at load, naming the import.
 * `functions` are the names jco's glue takes from each interface, the ones corral implements.
 */
export const WASI_INTERFACES: Record<string, { access: 'provided' | 'grant' | 'denied'; functions: string[] }> = {
  'wasi:io/error': { access: 'provided', functions: ['Error'] },
  'wasi:io/poll': { access: 'provided', functions: ['Pollable', 'poll'] },
  'wasi:io/streams': { access: 'provided', functions: ['InputStream', 'OutputStream'] },
  'wasi:clocks/monotonic-clock': { access: 'provided', functions: ['now', 'resolution', 'subscribeInstant', 'subscribeDuration'] },
  'wasi:clocks/wall-clock': { access: 'provided', functions: ['now', 'resolution'] },
  'wasi:random/random': { access: 'provided', functions: ['getRandomBytes', 'getRandomU64'] },
  'wasi:random/insecure': { access: 'provided', functions: ['getInsecureRandomBytes', 'getInsecureRandomU64'] },
  'wasi:random/insecure-seed': { access: 'provided', functions: ['insecureSeed'] },
  'wasi:cli/environment': { access: 'provided', functions: ['getEnvironment', 'getArguments', 'initialCwd'] },
  'wasi:cli/exit': { access: 'provided', functions: ['exit', 'exitWithCode'] },
  'wasi:cli/stdin': { access: 'provided', functions: ['getStdin'] },
  'wasi:cli/stdout': { access: 'provided', functions: ['getStdout'] },
  'wasi:cli/stderr': { access: 'provided', functions: ['getStderr'] },
  'wasi:cli/terminal-input': { access: 'provided', functions: ['TerminalInput'] },
  'wasi:cli/terminal-output': { access: 'provided', functions: ['TerminalOutput'] },
  'wasi:cli/terminal-stdin': { access: 'provided', functions: ['getTerminalStdin'] },
  'wasi:cli/terminal-stdout': { access: 'provided', functions: ['getTerminalStdout'] },
  'wasi:cli/terminal-stderr': { access: 'provided', functions: ['getTerminalStderr'] },
  'wasi:filesystem/types': { access: 'grant', functions: ['Descriptor', 'DirectoryEntryStream', 'filesystemErrorCode'] },
  'wasi:filesystem/preopens': { access: 'grant', functions: ['getDirectories'] },
  'wasi:http/types': { access: 'denied', functions: [] },
  'wasi:http/outgoing-handler': { access: 'denied', functions: [] },
};

/**
 * WASI versions corral accepts: 0.2.0 to 0.2.12 (0.2.12 is what componentize-js 0.22–0.23 emits;
 * its wasi:http is 0.2.10). Patch releases of 0.2 only add; a later one is refused until it is checked.
 */
export const WASI_VERSIONS = { major: 0, minor: 2, maxPatch: 12 } as const;

/** Is this import (unversioned, as the glue names it) served by corral's WASI host? */
export function isWasiImport(interfaceName: string): boolean {
  return interfaceName.startsWith('wasi:');
}

/** The imports an embedder must provide: everything but WASI. */
export function embedderImports(imports: Record<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(imports).filter(([name]) => !isWasiImport(name)));
}

/** The WASI imports, for the worker's WASI host. */
export function wasiImports(imports: Record<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(imports).filter(([name]) => isWasiImport(name)));
}

/**
 * Refuses at load what corral's WASI host cannot serve, naming it: a WASI interface it does not
 * provide (sockets), a version outside 0.2.0–0.2.12, a function it does not implement.
 * `versioned` are the component's import names as written in its binary (`wasi:io/poll@0.2.12`);
 * `imports` the functions the glue takes from each, by unversioned name.
 */
export function checkWasiImports(versioned: string[], imports: Record<string, string[]>, source: string): void {
  // Every WASI interface the glue takes must be among the names read from the binary: a reader that
  // missed one would let its version go unchecked.
  const read = new Set(versioned.map((name) => name.split('@')[0]));
  const unread = Object.keys(imports).find((name) => isWasiImport(name) && !read.has(name));
  if (unread) throw new LoadError('invalid-component', `${source}: the import ${unread} was not found among the component's import names`, { source, import: unread });
  for (const name of versioned) {
    if (!name.startsWith('wasi:')) continue;
    const [interfaceName, version] = name.split('@') as [string, string | undefined];
    const policy = WASI_INTERFACES[interfaceName];
    if (!policy) {
      throw new LoadError('import-not-provided', `${source} imports ${name}, which corral does not provide (it serves wasi:io, clocks, random, cli, read-only filesystem; see docs/runtime.md, WASI guests)`, {
        source,
        import: name,
      });
    }
    const m = version === undefined ? null : /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
    if (!m || Number(m[1]) !== WASI_VERSIONS.major || Number(m[2]) !== WASI_VERSIONS.minor || Number(m[3]) > WASI_VERSIONS.maxPatch) {
      throw new LoadError('unsupported-wasi-version', `${source} imports ${name}: corral provides WASI 0.2.0 to 0.2.${WASI_VERSIONS.maxPatch}, not ${version ?? 'an unversioned interface'}`, {
        source,
        import: name,
        version: version ?? null,
      });
    }
    if (policy.access === 'denied') continue;
    const missing = (imports[interfaceName] ?? []).filter((fn) => !policy.functions.includes(fn));
    if (missing.length > 0) {
      throw new LoadError('import-not-provided', `${source} needs \`${missing[0]}\` of ${name}, which corral's WASI host does not implement`, {
        source,
        import: name,
        function: missing[0],
      });
    }
  }
}
