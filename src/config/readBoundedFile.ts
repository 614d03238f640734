import { constants, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';

/** What `readBoundedFile` refuses: a path that is not a regular file, or one past its bound. */
export class FileRefused extends Error {
  override readonly name = 'FileRefused';

  constructor(
    readonly reason: 'not-a-regular-file' | 'too-large',
    readonly path: string,
    /** `fifo`, `character-device`, `directory`… for `not-a-regular-file`. */
    readonly kind: string,
    readonly limitBytes: number,
  ) {
    super(reason === 'too-large' ? `${path} is larger than ${limitBytes} bytes` : `${path} is not a regular file (a ${kind})`);
  }
}

/**
 * Reads a file someone else wrote (a component, an engine.toml, a recording), at most `maxBytes`.
 * Opened with O_NONBLOCK, so a FIFO never blocks the open (which would hold a libuv thread for good),
 * then refused on `fstat` of that same descriptor unless it is a regular file: a path swapped between
 * a check and the read cannot slip past. A file that grows past the bound while it is read is refused
 * too. Other errors (ENOENT, EACCES) are the `open`'s own.
 */
export async function readBoundedFile(path: string, maxBytes: number): Promise<Buffer> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new FileRefused('not-a-regular-file', path, fileKind(stat), maxBytes);
    if (stat.size > maxBytes) throw new FileRefused('too-large', path, 'file', maxBytes);
    // Room for one byte more than the file's size: a file that grew since the fstat is read to its
    // end or to one byte past the bound, whichever comes first.
    let buffer = Buffer.allocUnsafe(Math.min(maxBytes + 1, stat.size + 1));
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > maxBytes) throw new FileRefused('too-large', path, 'file', maxBytes);
        const grown = Buffer.allocUnsafe(Math.min(maxBytes + 1, buffer.length * 2));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) return buffer.subarray(0, length);
      length += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

function fileKind(stat: Stats): string {
  if (stat.isFIFO()) return 'fifo';
  if (stat.isCharacterDevice()) return 'character-device';
  if (stat.isBlockDevice()) return 'block-device';
  if (stat.isDirectory()) return 'directory';
  if (stat.isSocket()) return 'socket';
  return 'special file';
}
