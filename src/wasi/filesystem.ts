import { closeSync, constants, existsSync, fstatSync, openSync, readdirSync, readlinkSync, readSync, realpathSync, type Dirent, type Stats } from 'node:fs';
import { join, sep } from 'node:path';
import { WASI_MAX_OPEN_DESCRIPTORS } from '../limits/defaults.ts';
import { InputStream } from './io.ts';
import { BudgetedResource, type ResourceBudget } from './ResourceBudget.ts';
import type { WasiContext } from './WasiContext.ts';

/*
 * wasi:filesystem 0.2 — read-only preopened directories, and nothing else. Without a `dirs` grant
 * `get-directories` is empty, and with no descriptor a guest can name no file at all (WASI's
 * capability model), which is why a component that merely imports wasi:filesystem (every
 * componentize-js component does) loads without a grant.
 *
 * Confinement. A descriptor is an open host file descriptor, never a path: every read, listing and
 * stat goes through it, so replacing a file or directory by a symlink after the guest opened it
 * changes nothing. Opening checks where the opened descriptor really is (`/proc/self/fd`, Linux),
 * after opening, so a symlink swapped in between cannot slip through either: a path whose real
 * location is outside the preopened directory is `not-permitted`, as are absolute paths and a `..`
 * above the descriptor. Every change (write, create, truncate, rename, link, remove, set-times) is
 * `read-only`. Errors are thrown as the WASI error code, which jco's glue returns as the result's `err`.
 */

type ErrorCode = 'no-entry' | 'not-permitted' | 'read-only' | 'not-directory' | 'is-directory' | 'access' | 'loop' | 'invalid' | 'io' | 'quota' | 'bad-descriptor';
type DescriptorType = 'directory' | 'regular-file' | 'symbolic-link' | 'unknown' | 'fifo' | 'socket' | 'block-device' | 'character-device';

/** Where the kernel shows what an open descriptor refers to. Without it no directory can be granted. */
const PROC_FD = '/proc/self/fd';
export const CAN_CONFINE_DIRECTORIES = existsSync(PROC_FD);

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
      return 'not-permitted'; // O_NOFOLLOW met a symlink swapped in after the path was resolved
    case 'EMFILE':
    case 'ENFILE':
      return 'quota';
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

/** A WASI datetime (u64 seconds): times before 1970 are reported as the epoch. */
function datetime(ms: number): { seconds: bigint; nanoseconds: number } {
  const ns = BigInt(Math.max(0, Math.round(ms * 1e6)));
  return { seconds: ns / 1_000_000_000n, nanoseconds: Number(ns % 1_000_000_000n) };
}

/** Runs a Node fs call, throwing its WASI error code instead of Node's error. */
function fs<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    throw typeof error === 'string' ? error : errorCode(error);
  }
}

const READ_ONLY = (): never => {
  throw 'read-only' satisfies ErrorCode;
};

function inside(root: string, real: string): boolean {
  return real === root || real.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** Host descriptors still open, closed when their Descriptor is collected if the guest never dropped it. */
const leaked = new FinalizationRegistry<{ fd: number; open: { count: number } }>(({ fd, open }) => {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
  open.count--;
});

export class DirectoryEntryStream extends BudgetedResource {
  private next = 0;
  constructor(
    budget: ResourceBudget,
    private readonly entries: Dirent[],
  ) {
    super(budget, 'wasi:filesystem/types#directory-entry-stream');
  }
  readDirectoryEntry(): { type: DescriptorType; name: string } | undefined {
    const entry = this.entries[this.next++];
    return entry && { type: typeOf(entry), name: entry.name };
  }
}

/** An open file or directory inside a preopened directory (`root`, its real path). */
export class Descriptor extends BudgetedResource {
  private closed = false;
  private readonly token = {};

  private constructor(
    private readonly host: WasiContext,
    budget: ResourceBudget,
    private readonly open: { count: number },
    private readonly root: string,
    private readonly fd: number,
    private readonly type: DescriptorType,
  ) {
    super(budget, 'wasi:filesystem/types#descriptor');
    open.count++;
    leaked.register(this, { fd, open }, this.token);
  }

  /**
   * Opens `path` (no symlinks in it: a realpath) read-only, then checks where the descriptor really
   * is. O_NOFOLLOW refuses a last component swapped for a symlink; O_NONBLOCK keeps a FIFO from
   * blocking the worker.
   */
  static openInside(host: WasiContext, budget: ResourceBudget, open: { count: number }, root: string, path: string): Descriptor {
    if (open.count >= WASI_MAX_OPEN_DESCRIPTORS) throw 'quota' satisfies ErrorCode;
    const fd = fs(() => openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK));
    try {
      const real = fs(() => readlinkSync(`${PROC_FD}/${fd}`));
      if (!inside(root, real)) throw 'not-permitted' satisfies ErrorCode;
      return new Descriptor(host, budget, open, root, fd, typeOf(fs(() => fstatSync(fd))));
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  protected override dispose(): void {
    if (this.closed) return;
    this.closed = true;
    leaked.unregister(this.token);
    closeSync(this.fd);
    this.open.count--;
    super.dispose();
  }

  private live(): number {
    if (this.closed) throw 'bad-descriptor' satisfies ErrorCode;
    return this.fd;
  }

  /** The real path of `path` relative to this directory (through its descriptor), checked to be inside the root. */
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
    const real = fs(() => realpathSync(join(`${PROC_FD}/${this.live()}`, ...segments)));
    if (!inside(this.root, real)) throw 'not-permitted' satisfies ErrorCode;
    return real;
  }

  private stats(fd = this.live()) {
    const s = fs(() => fstatSync(fd));
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
    return buffer.subarray(0, fs(() => readSync(this.live(), buffer, 0, length, offset)));
  }

  private size(): number {
    return fs(() => fstatSync(this.live()).size);
  }

  readViaStream(offset: bigint): InputStream {
    if (this.type !== 'regular-file') throw (this.type === 'directory' ? 'is-directory' : 'invalid') satisfies ErrorCode;
    const start = offset > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(offset);
    return new InputStream(this.host, this.budget, (at, length) => this.readAt(start + at, length), () => Math.max(0, this.size() - start));
  }
  read(length: bigint, offset: bigint): [Uint8Array, boolean] {
    const size = this.size();
    if (offset >= BigInt(size)) return [new Uint8Array(0), true];
    const bytes = this.readAt(Number(offset), this.host.chunkLength(length));
    return [bytes, Number(offset) + bytes.length >= size];
  }
  readDirectory(): DirectoryEntryStream {
    if (this.type !== 'directory') throw 'not-directory' satisfies ErrorCode;
    // Through the descriptor: the directory that was opened, whatever now sits at its path.
    return new DirectoryEntryStream(this.budget, fs(() => readdirSync(`${PROC_FD}/${this.live()}`, { withFileTypes: true })));
  }
  openAt(_pathFlags: unknown, path: string, openFlags: { create?: boolean; exclusive?: boolean; truncate?: boolean; directory?: boolean }, flags: { write?: boolean; mutateDirectory?: boolean }): Descriptor {
    if (openFlags.create || openFlags.exclusive || openFlags.truncate || flags.write || flags.mutateDirectory) throw 'read-only' satisfies ErrorCode;
    const opened = Descriptor.openInside(this.host, this.budget, this.open, this.root, this.resolve(path));
    if (openFlags.directory && opened.type !== 'directory') {
      opened.dispose();
      throw 'not-directory' satisfies ErrorCode;
    }
    return opened;
  }
  stat() {
    return this.stats();
  }
  statAt(_pathFlags: unknown, path: string) {
    return this.at(path, (fd) => this.stats(fd));
  }
  /** Opens `path` just long enough to answer from its descriptor (a stat through a path could be swapped). */
  private at<T>(path: string, answer: (fd: number) => T): T {
    if (this.open.count >= WASI_MAX_OPEN_DESCRIPTORS) throw 'quota' satisfies ErrorCode;
    const real = this.resolve(path);
    const fd = fs(() => openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK));
    try {
      if (!inside(this.root, fs(() => readlinkSync(`${PROC_FD}/${fd}`)))) throw 'not-permitted' satisfies ErrorCode;
      return answer(fd);
    } finally {
      closeSync(fd);
    }
  }
  getType(): DescriptorType {
    return this.type;
  }
  getFlags(): { read: boolean } {
    return { read: true };
  }
  metadataHash() {
    return hash(this.live());
  }
  metadataHashAt(_pathFlags: unknown, path: string) {
    return this.at(path, hash);
  }
  isSameObject(other: Descriptor): boolean {
    if (!(other instanceof Descriptor)) return false;
    const [a, b] = [hash(this.live()), hash(other.live())];
    return a.lower === b.lower && a.upper === b.upper;
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

function hash(fd: number) {
  const s = fs(() => fstatSync(fd, { bigint: true }));
  return { lower: BigInt.asUintN(64, s.ino), upper: BigInt.asUintN(64, s.dev) };
}

export function filesystemInterfaces(host: WasiContext, budget: ResourceBudget): Record<string, Record<string, unknown>> {
  return {
    'wasi:filesystem/types': {
      Descriptor,
      DirectoryEntryStream,
      filesystemErrorCode: () => undefined,
    },
    'wasi:filesystem/preopens': {
      // Fresh descriptors on every call: the glue hands each one to the guest as a new owned handle.
      // `hostPath` is the directory's real path, resolved when the grant was given.
      getDirectories: () =>
        host.config.dirs.map(({ guestPath, hostPath }) => [Descriptor.openInside(host, budget, host.openDescriptors, hostPath, hostPath), guestPath]),
    },
  };
}
