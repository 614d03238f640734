/**
 * Reading and writing the wasm binary encoding: LEB128 integers, names and a growable output buffer.
 * Nothing here knows about instructions (see opcodes.ts). The one LEB128 reader of corral: the fuel
 * rewriter, the component stubs, and the checks `Runtime.load` makes on a component's bytes
 * (prepare/validateBytes.ts, prepare/componentImports.ts) all read with `Reader`.
 */

/** Bytes that do not decode: a number, name or section cut off by the end, or a LEB128 longer than its type. */
export class MalformedBytes extends Error {
  override readonly name = 'MalformedBytes';
}

/** The fast rewriter met something it does not handle; the module goes to binaryen instead. Never user-facing. */
export class NotRewritable extends Error {
  override readonly name = 'NotRewritable';
}

export function notRewritable(reason: string): never {
  throw new NotRewritable(reason);
}

/** A cursor over wasm bytes. Reads past `end` throw MalformedBytes, as a truncated module should. */
export class Reader {
  constructor(
    readonly bytes: Uint8Array,
    public pos = 0,
    public end = bytes.length,
  ) {}

  u8(): number {
    if (this.pos >= this.end) throw new MalformedBytes('bytes run past the end');
    return this.bytes[this.pos++]!;
  }

  /** An unsigned LEB128 of at most 32 bits. */
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.u8();
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
      if (shift > 28) throw new MalformedBytes('LEB128 too long for a u32');
    }
  }

  /** A signed LEB128 of at most 33 bits (block types, heap types). */
  s33(): number {
    let result = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = this.u8();
      result += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    if (shift > 35) throw new MalformedBytes('LEB128 too long for an s33');
    return byte & 0x40 ? result - 2 ** shift : result;
  }

  /** Skips one LEB128 of any width (constants whose value does not matter here). */
  skipLeb(): void {
    while (this.u8() & 0x80);
  }

  skip(n: number): void {
    if (this.pos + n > this.end) throw new MalformedBytes('bytes run past the end');
    this.pos += n;
  }

  name(): string {
    const length = this.u32();
    const start = this.pos;
    this.skip(length);
    return new TextDecoder().decode(this.bytes.subarray(start, start + length));
  }
}

/** An unsigned LEB128, as bytes to splice into code built by hand (Writer.u32 writes one in place). */
export function leb(value: number): number[] {
  const out: number[] = [];
  do {
    let b = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) b |= 0x80;
    out.push(b);
  } while (value !== 0);
  return out;
}

/** A signed LEB128, as bytes to splice into code built by hand (Writer.s32 writes one in place). */
export function sleb(value: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = value & 0x7f;
    value >>= 7;
    if ((value === 0 && (b & 0x40) === 0) || (value === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
}

/** A growable byte buffer. */
export class Writer {
  private buf: Uint8Array;
  length = 0;

  constructor(capacity = 1024) {
    this.buf = new Uint8Array(capacity);
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.length++] = b;
  }

  u32(value: number): void {
    this.reserve(5);
    do {
      let b = value & 0x7f;
      value = Math.floor(value / 128);
      if (value !== 0) b |= 0x80;
      this.buf[this.length++] = b;
    } while (value !== 0);
  }

  s32(value: number): void {
    this.reserve(5);
    for (;;) {
      const b = value & 0x7f;
      value >>= 7;
      if ((value === 0 && (b & 0x40) === 0) || (value === -1 && (b & 0x40) !== 0)) {
        this.buf[this.length++] = b;
        return;
      }
      this.buf[this.length++] = b | 0x80;
    }
  }

  bytes(source: Uint8Array, start = 0, end = source.length): void {
    const n = end - start;
    this.reserve(n);
    if (n < 64) {
      // Most copies are a few instructions between two insertions: a loop beats making a subarray.
      const buf = this.buf;
      let at = this.length;
      for (let i = start; i < end; i++) buf[at++] = source[i]!;
    } else {
      this.buf.set(source.subarray(start, end), this.length);
    }
    this.length += n;
  }

  name(text: string): void {
    const encoded = new TextEncoder().encode(text);
    this.u32(encoded.length);
    this.bytes(encoded);
  }

  reset(): void {
    this.length = 0;
  }

  /** The bytes written so far (a view: copy it before writing more). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** Appends a section: its id, its size, its contents. */
export function writeSection(out: Writer, id: number, contents: Uint8Array): void {
  out.byte(id);
  out.u32(contents.length);
  out.bytes(contents);
}
