import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CoreModuleFacts, InstrumentedModule } from '../fuel/InstrumentedModule.ts';
import { INSTRUMENTATION_VERSION } from '../protocol.ts';
import type { ExportSignature } from './transpileComponent.ts';

/** See transpileComponent.ts for why the glue generator is pinned. Part of the cache key. */
const GLUE_GENERATOR = 'jco-1.11.2';

/** Where prepared artifacts live unless `cacheDir` says otherwise: `$CORRAL_CACHE_DIR`, else `~/.cache/corral`. */
export function defaultCacheDir(): string {
  return process.env.CORRAL_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'corral');
}

/** Everything the worker and the loader need, written once per component as `meta.json`. */
export interface ArtifactMeta {
  key: string;
  sha256: string;
  exports: [string, 'function' | 'instance'][];
  imports: Record<string, string[]>;
  signatures: Record<string, ExportSignature>;
  coreModules: { file: string; facts: CoreModuleFacts }[];
}

export interface PreparedArtifact {
  /** Directory holding `glue.mjs`, the instrumented core modules and `meta.json`. */
  dir: string;
  meta: ArtifactMeta;
  /** True when nothing was transpiled or instrumented: the artifact came from disk. */
  fromCache: boolean;
}

/**
 * Transpiles and instruments a component once, then keeps the result on disk keyed by the
 * component's sha256, the instrumentation version and the glue generator, so the next process start
 * reads three small files instead of redoing seconds of work (~2.5 s for a 12.5 MB StarlingMonkey
 * component, most of it starting jco and rewriting the 9 MB of code).
 * Writes go to a temporary directory renamed into place: a crash leaves no half-written artifact,
 * and two processes preparing the same component at once both end with a complete one.
 */
export async function prepareArtifact(bytes: Uint8Array, name: string, source: string, cacheDir: string): Promise<PreparedArtifact> {
  const { dir, key, sha256 } = artifactLocation(bytes, cacheDir);
  const cached = await readMeta(dir, key);
  if (cached) return { dir, meta: cached, fromCache: true };

  // The toolchain loads only on a cache miss: jco's transpiler and the fuel instrumentation (which
  // loads binaryen, ~10 MB of wasm-in-JS, only for a core module the byte rewriter hands over).
  const [{ transpileComponent, confirmValidComponent }, { instrumentCoreModule }] = await Promise.all([
    import('./transpileComponent.ts'),
    import('../fuel/instrumentCoreModule.ts'),
  ]);
  const transpiled = await transpileComponent(bytes, name, source);
  const coreModules: ArtifactMeta['coreModules'] = [];
  const files: [string, Uint8Array | string][] = [['glue.mjs', transpiled.glue]];
  for (const [file, core] of transpiled.coreModules) {
    let instrumented: InstrumentedModule;
    try {
      instrumented = await instrumentCoreModule(core, `${name}/${file}`);
    } catch (error) {
      // A module neither rewrite can meter may be a component that is not valid at all: say that instead.
      await confirmValidComponent(bytes, name, source);
      throw error;
    }
    coreModules.push({ file, facts: instrumented.facts });
    files.push([file, instrumented.bytes]);
  }
  const meta: ArtifactMeta = {
    key,
    sha256,
    exports: transpiled.exports,
    imports: transpiled.imports,
    signatures: transpiled.signatures,
    coreModules,
  };
  files.push(['meta.json', JSON.stringify(meta, null, 1)]);

  const staging = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await mkdir(staging, { recursive: true });
  try {
    await Promise.all(files.map(([file, content]) => writeFile(join(staging, file), content)));
    await rename(staging, dir);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    // Another process renamed its copy into place first: same key, same content, use it.
    const theirs = await readMeta(dir, key);
    if (!theirs) throw error;
  }
  return { dir, meta, fromCache: false };
}

/** Where the artifact of these bytes lives in `cacheDir`. */
export function artifactLocation(bytes: Uint8Array, cacheDir: string): { dir: string; key: string; sha256: string } {
  return artifactLocationOf(createHash('sha256').update(bytes).digest('hex'), cacheDir);
}

/** Where the artifact of bytes with this sha256 lives in `cacheDir`. */
export function artifactLocationOf(sha256: string, cacheDir: string): { dir: string; key: string; sha256: string } {
  const key = `${sha256.slice(0, 32)}-i${INSTRUMENTATION_VERSION}-${GLUE_GENERATOR}`;
  return { dir: join(cacheDir, key), key, sha256 };
}

/** The cached artifact of bytes with this sha256, or null. Cheap: one small file read. */
export async function findCachedArtifact(sha256: string, cacheDir: string): Promise<PreparedArtifact | null> {
  const { dir, key } = artifactLocationOf(sha256, cacheDir);
  const meta = await readMeta(dir, key);
  return meta ? { dir, meta, fromCache: true } : null;
}

/**
 * What a worker builds instances from: the glue's source and the instrumented core modules, in shared
 * memory, in `meta.coreModules` order. A loaded component keeps them for as long as it is loaded, so
 * workers started later (a replacement after a kill, a crash) never go back to the cache directory:
 * it may have been cleaned or deleted under a running engine. Shared, not copied: each worker reads
 * the same bytes.
 */
export interface ArtifactFiles {
  glue: SharedArrayBuffer;
  core: SharedArrayBuffer[];
}

/** Reads an artifact's files into shared memory; rejects when any is missing (the caller prepares again). */
export async function readArtifactFiles(dir: string, meta: ArtifactMeta): Promise<ArtifactFiles> {
  const [glue, ...core] = await Promise.all([readShared(join(dir, 'glue.mjs')), ...meta.coreModules.map((m) => readShared(join(dir, m.file)))]);
  return { glue: glue!, core };
}

/**
 * A file's bytes read straight into a SharedArrayBuffer. A read into a Buffer and a copy from it into
 * the shared one wrote every page twice, the copy on the main thread: 12 MB of new pages cost 80–200 ms
 * there on this VM (a first touch of a page is what costs), most of the cached load of the 12.5 MB guest.
 * Read in place, the kernel fills the pages once, on libuv's thread pool.
 */
async function readShared(path: string): Promise<SharedArrayBuffer> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const buffer = new SharedArrayBuffer(size);
    const view = new Uint8Array(buffer);
    for (let at = 0; at < size; ) {
      const { bytesRead } = await file.read(view, at, size - at, at);
      // Shorter than its stat said (cut while it was read): the caller prepares the artifact again.
      if (bytesRead === 0) throw new Error(`${path} ended at ${at} of ${size} bytes`);
      at += bytesRead;
    }
    return buffer;
  } finally {
    await file.close();
  }
}

async function readMeta(dir: string, key: string): Promise<ArtifactMeta | null> {
  try {
    const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as ArtifactMeta;
    return meta.key === key ? meta : null;
  } catch {
    return null; // absent or unreadable: prepare again
  }
}
