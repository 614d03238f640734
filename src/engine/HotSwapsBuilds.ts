import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';

/** One build's bytes, shared by every module serving it. */
interface Build {
  bytes: Uint8Array;
  users: number;
}

/**
 * The bytes of each module's serving build, kept in memory from its load, so that a hot swap's rollback
 * (replaceModule.ts) never depends on the file: a build rebuilt in place (`corral dev` does, and any
 * `cargo build` or `npm run build` writes its output over the last) left a rollback nothing to load,
 * and the module was not loaded at all (`rollback-failed`). One copy per distinct sha256: 10,000
 * modules of one file keep it once, and read it once (a module whose version is kept reads nothing).
 * The cost is the sum of the distinct serving builds' sizes, beside the prepared artifacts the runtime
 * already holds for them.
 *
 * A rollback whose file no longer holds the previous bytes loads them from a copy written then, in a
 * directory of its own under the OS's temporary directory, kept while the engine runs (a rolled-back
 * module loads from it later too: its jobs and queries) and removed by `close`.
 */
export class ServingBuilds {
  private readonly builds = new Map<string, Build>();
  /** Module → the sha256 of the build it serves. */
  private readonly serving = new Map<string, string>();
  private copies: Promise<string> | undefined;

  constructor(private readonly logger: Logger) {}

  /**
   * `module` now serves the build `sha256` of `file`: its bytes are kept (read unless some module
   * serves the same build). Bytes that do not hash to `sha256` (the file changed since the runtime read
   * it) are not kept: a rollback to this build then needs the file as it was.
   */
  async loaded(module: string, file: string, sha256: string): Promise<void> {
    if (this.serving.get(module) === sha256) return;
    let build = this.builds.get(sha256);
    if (!build) {
      const bytes = await readFile(file).catch(() => undefined);
      if (!bytes || createHash('sha256').update(bytes).digest('hex') !== sha256) {
        this.logger.debug({ module, file, sha256 }, 'the build changed on disk since it was loaded: its bytes are not kept for a rollback');
        this.forget(module);
        return;
      }
      // Raced by another load of the same build meanwhile: one copy.
      build = this.builds.get(sha256) ?? { bytes: new Uint8Array(bytes), users: 0 };
      this.builds.set(sha256, build);
    }
    this.forget(module);
    build.users++;
    this.serving.set(module, sha256);
  }

  /** The bytes of build `sha256`, when a module serves it. */
  bytes(sha256: string): Uint8Array | undefined {
    return this.builds.get(sha256)?.bytes;
  }

  /** `module` serves nothing any more (unloaded): its build's bytes go once no module serves it. */
  forget(module: string): void {
    const sha256 = this.serving.get(module);
    if (sha256 === undefined) return;
    this.serving.delete(module);
    const build = this.builds.get(sha256)!;
    if (--build.users === 0) this.builds.delete(sha256);
  }

  /**
   * Where build `sha256` of `file` can be loaded from: `file` itself while it still holds those bytes,
   * else a copy of `bytes` written now; undefined when neither can be had.
   */
  async loadable(file: string, sha256: string, bytes: Uint8Array | undefined): Promise<string | undefined> {
    const onDisk = await readFile(file).catch(() => undefined);
    if (onDisk && createHash('sha256').update(onDisk).digest('hex') === sha256) return file;
    if (!bytes) return undefined;
    const dir = await (this.copies ??= mkdtemp(join(tmpdir(), 'corral-rollback-')));
    const copy = join(dir, `${sha256.slice(0, 16)}-${basename(file)}`);
    await writeFile(copy, bytes, { mode: 0o600 });
    return copy;
  }

  /** Removes the copies written for rollbacks (the engine stopped). */
  async close(): Promise<void> {
    const dir = this.copies;
    this.copies = undefined;
    if (dir) await rm(await dir, { recursive: true, force: true });
  }
}
