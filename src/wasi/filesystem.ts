import { closeSync, openSync, readdirSync, readSync, realpathSync, statSync, type Dirent, type Stats } from 'node:fs';
import { join, sep } from 'node:path';
import { InputStream } from './io.ts';
import type { WasiHost } from './WasiHost.ts';

/*
 * wasi:filesystem 0.2 — read-only preopened directories, and nothing else. Without a `dirs` grant
 * `get-directories` is empty, and with no descriptor a guest can name no file at all (WASI's
 * capability model), which is why a component that merely imports wasi:filesystem (every
 * componentize-js component does) loads without a grant.
 *
 * Confinement: a path is taken relative to its directory descriptor, segment by segment; an absolute
 * path, a `..` above the descriptor, or a path whose real location (symlinks resolved) lies outside the
 * preopened directory is `not-permitted`. Every change (write, create, truncate, rename, link,
 * remove, set-times) is `read-only`. Errors are thrown as the WASI error code, which jco's glue returns
 * as the result's `err`.
 */

type ErrorCode = 'no-entry' | 'not-permitted' | 'read-only' | 'not-directory' | 'is-directory' | 'access' | 'loop' | 'invalid' | 'io' | 'bad-descriptor';
type DescriptorType = 'directory' | 'regular-file' | 'symbolic-link' | 'unknown' | 'fifo' | 'socket' | 'block-device' | 'character-device';

function errorCode(error: unknown): ErrorCode {
  switch ((error as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return 'no-entry';
    case 'EACCES':
    case 'EPERM':
      return 'access';
    case 'ENOTDIR':
      return 'not-directory';
    case 'EISDIR':
      return 'is-directory';
    case 'ELOOP':
      return 'loop';
    default:
      return 'io';
  }
}

function typeOf(stats: Stats | Dirent): DescriptorType {
  if (stats.isDirectory()) return 'directory';
  if (stats.isFile()) return 'regular-file';
  if (stats.isSymbolicLink()) return 'symbolic-link';
  if (stats.isFIFO()) return 'fifo';
  if (stats.isSocket()) return 'socket';
  if (stats.isBlockDevice()) return 'block-device';
  if (stats.isCharacterDevice()) return 'character-device';
  return 'unknown';
}

function datetime(ms: number): { seconds: bigint; nanoseconds: number } {
  const ns = BigInt(Math.round(ms * 1e6));
  return { seconds: ns / 1_000_000_000n, nanoseconds: Number(ns % 1_000_000_000n) };
}

/** Runs a Node fs call, throwing its WASI error code instead of Node's error. */
function fs<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    throw errorCode(error);
  }
}

const READ_ONLY = (): never => {
  throw 'read-only' satisfies ErrorCode;
};

export class DirectoryEntryStream {
  private next = 0;
  constructor(private readonly entries: Dirent[]) {}
  readDirectoryEntry(): { type: DescriptorType; name: string } | undefined {
    const entry = this.entries[this.next++];
    return entry && { type: typeOf(entry), name: entry.name };
  }
}

/** A file or directory inside a preopened directory; `root` is the preopen's real path. */
export class Descriptor {
  constructor(
    private readonly host: WasiHost,
    private readonly root: string,
    /** Real path (no symlinks), inside `root`. */
    private readonly path: string,
    private readonly type: DescriptorType,
  ) {}

  /** The real path of `path` relative to this directory, or the error code that refuses it. */
  private resolve(path: string): string {
    if (this.type !== 'directory') throw 'not-directory' satisfies ErrorCode;
    if (path.startsWith('/') || path.includes('\0')) throw 'not-permitted' satisfies ErrorCode;
    const segments: string[] = [];
    for (const segment of path.split('/')) {
      if (segment === '' || segment === '.') continue;
      if (segment === '..') {
        if (segments.pop() === undefined) throw 'not-permitted' satisfies ErrorCode;
      } else segments.push(segment);
    }
    const real = fs(() => realpathSync(join(this.path, ...segments)));
    if (real !== this.root && !real.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep)) throw 'not-permitted' satisfies ErrorCode;
    return real;
  }

  private stats(path = this.path) {
    const s = fs(() => statSync(path));
    return {
      type: typeOf(s),
      linkCount: BigInt(s.nlink),
      size: BigInt(s.size),
      dataAccessTimestamp: datetime(s.atimeMs),
      dataModificationTimestamp: datetime(s.mtimeMs),
      statusChangeTimestamp: datetime(s.ctimeMs),
    };
  }

  private readAt(offset: number, length: number): Uint8Array {
    if (this.type !== 'regular-file') throw 'is-directory' satisfies ErrorCode;
    const buffer = new Uint8Array(length);
    const fd = fs(() => openSync(this.path, 'r'));
    try {
      return buffer.subarray(0, fs(() => readSync(fd, buffer, 0, length, offset)));
    } finally {
      closeSync(fd);
    }
  }

  readViaStream(offset: bigint): InputStream {
    const start = Number(offset);
    return new InputStream(this.host, (at, length) => this.readAt(start + at, length), () => Math.max(0, fs(() => statSync(this.path).size) - start));
  }
  read(length: bigint, offset: bigint): [Uint8Array, boolean] {
    const bytes = this.readAt(Number(offset), this.host.chunkLength(length));
    return [bytes, Number(offset) + bytes.length >= fs(() => statSync(this.path).size)];
  }
  readDirectory(): DirectoryEntryStream {
    if (this.type !== 'directory') throw 'not-directory' satisfies ErrorCode;
    return new DirectoryEntryStream(fs(() => readdirSync(this.path, { withFileTypes: true })));
  }
  openAt(_pathFlags: unknown, path: string, openFlags: { create?: boolean; exclusive?: boolean; truncate?: boolean; directory?: boolean }, flags: { write?: boolean; mutateDirectory?: boolean }): Descriptor {
    if (openFlags.create || openFlags.exclusive || openFlags.truncate || flags.write || flags.mutateDirectory) throw 'read-only' satisfies ErrorCode;
    const real = this.resolve(path);
    const type = this.stats(real).type;
    if (openFlags.directory && type !== 'directory') throw 'not-directory' satisfies ErrorCode;
    return new Descriptor(this.host, this.root, real, type);
  }
  stat() {
    return this.stats();
  }
  statAt(_pathFlags: unknown, path: string) {
    return this.stats(this.resolve(path));
  }
  getType(): DescriptorType {
    return this.type;
  }
  getFlags(): { read: boolean } {
    return { read: true };
  }
  metadataHash() {
    return this.hash(this.path);
  }
  metadataHashAt(_pathFlags: unknown, path: string) {
    return this.hash(this.resolve(path));
  }
  private hash(path: string) {
    const s = fs(() => statSync(path, { bigint: true }));
    return { lower: BigInt.asUintN(64, s.ino), upper: BigInt.asUintN(64, s.dev) };
  }
  isSameObject(other: Descriptor): boolean {
    return other instanceof Descriptor && other.path === this.path;
  }
  readlinkAt(): never {
    throw 'not-permitted' satisfies ErrorCode; // a link's text could name a host path
  }
  advise(): void {}
  sync(): void {}
  syncData(): void {}
  writeViaStream = READ_ONLY;
  appendViaStream = READ_ONLY;
  setSize = READ_ONLY;
  setTimes = READ_ONLY;
  write = READ_ONLY;
  createDirectoryAt = READ_ONLY;
  setTimesAt = READ_ONLY;
  linkAt = READ_ONLY;
  removeDirectoryAt = READ_ONLY;
  renameAt = READ_ONLY;
  symlinkAt = READ_ONLY;
  unlinkFileAt = READ_ONLY;
}

export function filesystemInterfaces(host: WasiHost): Record<string, Record<string, unknown>> {
  // Resolved once per worker: the grant names directories, and their real paths bound every lookup.
  let roots: [string, string][] | null = null;
  return {
    'wasi:filesystem/types': {
      Descriptor,
      DirectoryEntryStream,
      filesystemErrorCode: () => undefined,
    },
    'wasi:filesystem/preopens': {
      // Fresh descriptors on every call: the glue hands each one to the guest as a new owned handle.
      getDirectories: () =>
        (roots ??= host.config.dirs.map(({ guestPath, hostPath }) => [realpathSync(hostPath), guestPath])).map(([root, guestPath]) => [
          new Descriptor(host, root, root, 'directory'),
          guestPath,
        ]),
    },
  };
}
