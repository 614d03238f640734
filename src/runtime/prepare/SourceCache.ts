import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { FileRefused, readBoundedFile } from '../../config/readBoundedFile.ts';
import { LoadError } from '../../errors/LoadError.ts';
import { MAX_COMPONENT_BYTES } from '../../limits/defaults.ts';
import { componentImportNames } from './componentImports.ts';
import { findCachedArtifact, type PreparedArtifact } from './prepareArtifact.ts';
import { validateComponentBytes } from './validateBytes.ts';

/** What is known of a component's bytes once they were read: what every load of them needs before preparing. */
export interface SourceFacts {
  sha256: string;
  importNames: string[];
  /** The bytes, until their artifact is prepared (a cached artifact needs none of them after). */
  bytes: Uint8Array | null;
  /** Their artifact, once asked for (kept: the next load of the same file needs neither bytes nor cache). */
  artifact?: Promise<PreparedArtifact> | undefined;
  /** The file and its identity when they were read (absent for bytes given directly). */
  file?: { path: string; identity: string };
}

/** What `cacheDir/sources/` keeps of a file whose artifact is in the cache: a later process need not read it. */
interface SourceRecord {
  path: string;
  identity: string;
  sha256: string;
  importNames: string[];
}

/**
 * Component files already read, by path and the file's identity (device, inode, size, mtime and ctime,
 * to the nanosecond): an engine loading one file for 10,000 modules reads and hashes it once, not
 * 20,000 times (inspect and load of each), which was 12 % of the main thread's time at 2,000 modules;
 * and a cached load of a 12.5 MB component costs one `stat` instead of a read and a sha256 of it.
 *
 * A write changes mtime and ctime, a replacement (rename over it) the inode; ctime cannot be set back by
 * `utimes`: a file whose identity is unchanged holds the bytes hashed. A pinned load is still checked
 * against the sha256 of bytes that were read, and of the very bytes the artifact was prepared from; a pin
 * that does not match what the identity recorded is checked again on a fresh read before it is refused.
 * Concurrent loads of one file share its read (the entry is made before the read starts).
 */
export class SourceCache {
  private readonly byPath = new Map<string, { identity: string; facts: Promise<SourceFacts> }>();
  /** Each path's `stat` in flight: loads that ask for it meanwhile share it (10,000 modules' start asked 20,000 times, 32 at a time). */
  private readonly statting = new Map<string, { now: Promise<string>; next?: Promise<string> }>();
  /** Files read so far (for tests: loads of an unchanged file read it once). */
  reads = 0;

  /** `cacheDir`: where the artifacts are, and the records of the files they were prepared from. */
  constructor(private readonly cacheDir: string) {}

  /** The facts of the file at `path`: from the cache when its identity is the one read, else read now. */
  async facts(path: string, label: string, fresh = false): Promise<SourceFacts> {
    const absolute = resolve(path);
    // Taken before the read: a file changed during the read has another identity by then, so what was
    // read is never kept under the identity of what the file has become.
    const identity = await (fresh ? fileIdentity(absolute, label) : this.identity(absolute, label));
    const known = this.byPath.get(absolute);
    if (!fresh && known?.identity === identity) return known.facts;
    const facts = (fresh ? Promise.resolve(null) : this.recorded(absolute, identity)).then((recorded) => {
      if (recorded) return recorded;
      this.reads++;
      return readFacts(absolute, label, identity);
    });
    const entry = { identity, facts };
    this.byPath.set(absolute, entry);
    facts.catch(() => {
      if (this.byPath.get(absolute) === entry) this.byPath.delete(absolute);
    });
    return facts;
  }

  /**
   * The file's identity from a `stat` begun after this call: callers that come while one is in flight
   * share the next, begun when it ends (a write the caller awaited before loading is always seen).
   */
  private identity(path: string, label: string): Promise<string> {
    const inFlight = this.statting.get(path);
    if (inFlight) {
      inFlight.next ??= inFlight.now.then(settle, settle).then(() => this.identity(path, label));
      return inFlight.next;
    }
    const entry: { now: Promise<string>; next?: Promise<string> } = { now: fileIdentity(path, label) };
    this.statting.set(path, entry);
    const done = () => this.statting.delete(path);
    entry.now.then(done, done);
    return entry.now;
  }

  /**
   * Notes that `facts`' artifact is prepared and cached: a later process that finds the file with the
   * same identity takes its sha256 and import names from here and reads only the artifact (the cached
   * load of a 12.5 MB component read and hashed it all: 24–103 ms). Best effort: a record that cannot
   * be written only means the next process reads the file.
   */
  async record(facts: SourceFacts): Promise<void> {
    if (!facts.file) return;
    const record: SourceRecord = { path: facts.file.path, identity: facts.file.identity, sha256: facts.sha256, importNames: facts.importNames };
    const at = this.recordPath(facts.file.path);
    const staging = `${at}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await mkdir(dirname(at), { recursive: true });
      await writeFile(staging, JSON.stringify(record));
      await rename(staging, at);
    } catch {
      await rm(staging, { force: true });
    }
  }

  /** The facts a record keeps of this file with this identity, with its artifact, if both are still there. */
  private async recorded(path: string, identity: string): Promise<SourceFacts | null> {
    let record: SourceRecord;
    try {
      record = JSON.parse(await readFile(this.recordPath(path), 'utf8')) as SourceRecord;
    } catch {
      return null;
    }
    if (record.path !== path || record.identity !== identity) return null;
    const artifact = await findCachedArtifact(record.sha256, this.cacheDir);
    if (!artifact) return null;
    return { sha256: record.sha256, importNames: record.importNames, bytes: null, artifact: Promise.resolve(artifact), file: { path, identity } };
  }

  private recordPath(path: string): string {
    return join(this.cacheDir, 'sources', `${createHash('sha256').update(path).digest('hex').slice(0, 32)}.json`);
  }
}

/** The facts of bytes given directly (not read from a file): checked and hashed each time. */
export function bytesFacts(bytes: Uint8Array, label: string): SourceFacts {
  validateComponentBytes(bytes, label);
  let importNames: string[];
  try {
    importNames = componentImportNames(bytes);
  } catch (cause) {
    throw new LoadError('invalid-component', `${label} is not a valid component: ${(cause as Error).message}`, { source: label }, cause);
  }
  return { sha256: createHash('sha256').update(bytes).digest('hex'), importNames, bytes };
}

async function readFacts(path: string, label: string, identity: string): Promise<SourceFacts> {
  let bytes: Uint8Array;
  try {
    bytes = await readBoundedFile(path, MAX_COMPONENT_BYTES);
  } catch (cause) {
    throw unreadable(cause, label);
  }
  return { ...bytesFacts(bytes, label), file: { path, identity } };
}

async function fileIdentity(path: string, label: string): Promise<string> {
  try {
    const s = await stat(path, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (cause) {
    throw unreadable(cause, label);
  }
}

const settle = () => undefined;

function unreadable(cause: unknown, label: string): LoadError {
  if (cause instanceof FileRefused) {
    return new LoadError(cause.reason, `cannot load ${label}: ${cause.message}`, { source: label, kind: cause.kind, limitBytes: cause.limitBytes }, cause);
  }
  return new LoadError('unreadable', `cannot read ${label}: ${(cause as Error).message}`, { source: label }, cause);
}
