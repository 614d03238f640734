/**
 * The encoding of values that cross between the main thread and a worker inside a call slot's shared
 * memory: call arguments, results, signals, host-call arguments and answers. `v8.serialize` did this
 * before, at ~4 µs to serialise and ~2 µs to read back even a two-number call, most of a warm call's
 * budget over the cross-thread floor; this codec writes the plain data the component glue deals in
 * (numbers, bigints, strings, byte lists, arrays, records, variants) in a few hundred nanoseconds.
 *
 * Anything else (a Map, a Date, an Error, a class instance, a cycle) is written as an embedded
 * `v8.serialize` blob, so what crosses keeps structured-clone semantics, with these differences in
 * the plain subset: strings cross as UTF-8 (a lone surrogate becomes U+FFFD, as jco's glue would make
 * it anyway), holes in arrays become `undefined`, extra properties on arrays are not kept, and two
 * references to one object arrive as two objects. A value that does not fit raises `DoesNotFit`: the
 * caller then sends it another way (or refuses it, for host calls, with the sizes).
 */
import { deserialize, serialize } from 'node:v8';
import { TYPED_ARRAYS } from './typedArrays.ts';

/** Typed arrays by a one-byte kind (Uint8Array has a tag of its own). */
const TYPED = Object.values(TYPED_ARRAYS);

const enum Tag {
  Undefined = 0,
  Null = 1,
  False = 2,
  True = 3,
  Int32 = 4,
  Float64 = 5,
  BigInt64 = 6,
  BigUint64 = 7,
  Ascii = 8,
  Utf8 = 9,
  Bytes = 10,
  Typed = 11,
  Array = 12,
  Object = 13,
  /** A value outside the plain-data subset, as `v8.serialize` wrote it. */
  V8 = 14,
}

/** Raised when the encoding of a value needs more room than the buffer has. */
export class DoesNotFit extends Error {
  constructor(readonly needed: number) {
    super(`value needs at least ${needed} bytes`);
  }
}

/**
 * Nesting past this depth (a cycle, or data no WIT type produces) is written by `v8.serialize`
 * instead, which also keeps a cycle a cycle.
 */
const MAX_DEPTH = 64;
const TOO_DEEP = Symbol('too deep');

/** Strings up to this length are written and read by a loop; longer ones by Buffer's native UTF-8. */
const SHORT_STRING = 32;

/** Slots of a reader's cache of short ASCII strings (a power of two). */
const KNOWN_STRINGS = 256;

/**
 * Writes values into one region of a shared buffer. One writer per region, reused call after call:
 * it allocates nothing per value apart from what `Buffer.write` and `v8.serialize` do for long strings
 * and unusual values.
 */
export class ValueWriter {
  private readonly view: DataView;
  private readonly bytes: Uint8Array;
  private readonly buffer: Buffer;
  private offset = 0;
  private readonly end: number;

  constructor(shared: SharedArrayBuffer, byteOffset: number, byteLength: number) {
    this.view = new DataView(shared, byteOffset, byteLength);
    this.bytes = new Uint8Array(shared, byteOffset, byteLength);
    this.buffer = Buffer.from(shared, byteOffset, byteLength);
    this.end = byteLength;
  }

  /** Encodes `values` one after the other from the start of the region; returns the bytes written. */
  write(...values: unknown[]): number {
    this.begin();
    for (const value of values) this.add(value);
    return this.offset;
  }

  /** Starts a message at the beginning of the region (values follow with `add`). */
  begin(): this {
    this.offset = 0;
    return this;
  }

  /**
   * Encodes one more value after the previous ones: `write(a, b)` without the array of its arguments,
   * for the call slot's fixed layouts (protocol.ts), written on every call.
   */
  add(value: unknown): this {
    const at = this.offset;
    try {
      this.value(value, 0);
    } catch (error) {
      if (error !== TOO_DEEP) throw error;
      this.offset = at;
      this.v8(value);
    }
    return this;
  }

  private room(n: number): void {
    if (this.offset + n > this.end) throw new DoesNotFit(this.offset + n);
  }

  private tag(tag: Tag): void {
    this.room(1);
    this.bytes[this.offset++] = tag;
  }

  private u32(n: number): void {
    this.room(4);
    this.view.setUint32(this.offset, n, true);
    this.offset += 4;
  }

  private value(value: unknown, depth: number): void {
    switch (typeof value) {
      case 'undefined':
        return this.tag(Tag.Undefined);
      case 'boolean':
        return this.tag(value ? Tag.True : Tag.False);
      case 'number':
        if ((value | 0) === value && !Object.is(value, -0)) {
          this.tag(Tag.Int32);
          this.room(4);
          this.view.setInt32(this.offset, value, true);
          this.offset += 4;
        } else {
          this.tag(Tag.Float64);
          this.room(8);
          this.view.setFloat64(this.offset, value, true);
          this.offset += 8;
        }
        return;
      case 'bigint':
        if (value >= -0x8000_0000_0000_0000n && value <= 0x7fff_ffff_ffff_ffffn) {
          this.tag(Tag.BigInt64);
          this.room(8);
          this.view.setBigInt64(this.offset, value, true);
        } else if (value >= 0n && value <= 0xffff_ffff_ffff_ffffn) {
          this.tag(Tag.BigUint64);
          this.room(8);
          this.view.setBigUint64(this.offset, value, true);
        } else return this.v8(value);
        this.offset += 8;
        return;
      case 'string':
        return this.string(value);
      case 'object':
        if (value === null) return this.tag(Tag.Null);
        if (depth === MAX_DEPTH) throw TOO_DEEP;
        if (Array.isArray(value)) {
          this.tag(Tag.Array);
          this.u32(value.length);
          for (let i = 0; i < value.length; i++) this.value(value[i], depth + 1);
          return;
        }
        if (ArrayBuffer.isView(value)) return this.typed(value);
        if (isPlainData(value)) {
          const keys = Object.keys(value);
          this.tag(Tag.Object);
          this.u32(keys.length);
          for (const key of keys) {
            this.string(key);
            this.value((value as Record<string, unknown>)[key], depth + 1);
          }
          return;
        }
        return this.v8(value);
      default:
        // Functions and symbols: v8.serialize refuses them with its usual error.
        return this.v8(value);
    }
  }

  private string(value: string): void {
    const length = value.length;
    if (length <= SHORT_STRING) {
      this.room(5 + length);
      const start = this.offset;
      let i = 0;
      for (; i < length; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        this.bytes[start + 5 + i] = c;
      }
      if (i === length) {
        this.bytes[start] = Tag.Ascii;
        this.view.setUint32(start + 1, length, true);
        this.offset = start + 5 + length;
        return;
      }
    }
    this.tag(Tag.Utf8);
    // At most 3 bytes per UTF-16 unit; check the exact size only when the bound does not fit.
    const bound = length * 3;
    const size = this.offset + 4 + bound <= this.end ? bound : Buffer.byteLength(value, 'utf8');
    this.room(4 + size);
    const written = this.buffer.write(value, this.offset + 4, 'utf8');
    this.view.setUint32(this.offset, written, true);
    this.offset += 4 + written;
  }

  private typed(value: ArrayBufferView): void {
    const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    if (value instanceof Uint8Array) {
      this.tag(Tag.Bytes);
    } else {
      const kind = TYPED.findIndex((Type) => value instanceof Type);
      if (kind < 0) return this.v8(value); // a DataView, a Uint8ClampedArray
      this.tag(Tag.Typed);
      this.room(1);
      this.bytes[this.offset++] = kind;
    }
    this.u32(bytes.length);
    this.room(bytes.length);
    this.bytes.set(bytes, this.offset);
    this.offset += bytes.length;
  }

  private v8(value: unknown): void {
    const blob = serialize(value);
    this.tag(Tag.V8);
    this.u32(blob.length);
    this.room(blob.length);
    this.bytes.set(blob, this.offset);
    this.offset += blob.length;
  }
}

/**
 * Objects written field by field: those of `Object.prototype` or none (records, variants, options).
 * Anything else (a class instance, a Promise, a Map) goes to `v8.serialize`, which copies or refuses
 * it exactly as structured clone would.
 */
function isPlainData(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Reads what a `ValueWriter` wrote over the same region. Values it returns share no memory with it. */
export class ValueReader {
  private readonly view: DataView;
  private readonly bytes: Uint8Array;
  private readonly buffer: Buffer;
  private offset = 0;
  /** Where the run `span()` last read ends. */
  private spanEnd = 0;
  /**
   * Short ASCII strings read before, by a hash of their bytes: the same few (record keys, component
   * ids, export names) cross on every call, and returning the string already made skips building it
   * and, for a key, interning it again (reading a call's task took ~2 µs before, most of it here).
   */
  private readonly known: (string | undefined)[] = new Array<string | undefined>(KNOWN_STRINGS).fill(undefined);

  constructor(shared: SharedArrayBuffer, byteOffset: number, byteLength: number) {
    this.view = new DataView(shared, byteOffset, byteLength);
    this.bytes = new Uint8Array(shared, byteOffset, byteLength);
    this.buffer = Buffer.from(shared, byteOffset, byteLength);
  }

  /** Starts reading at the beginning of the region. */
  rewind(): this {
    this.offset = 0;
    return this;
  }

  /** The next value. */
  next(): unknown {
    const tag = this.bytes[this.offset++] as Tag;
    switch (tag) {
      case Tag.Undefined:
        return undefined;
      case Tag.Null:
        return null;
      case Tag.False:
        return false;
      case Tag.True:
        return true;
      case Tag.Int32: {
        const n = this.view.getInt32(this.offset, true);
        this.offset += 4;
        return n;
      }
      case Tag.Float64: {
        const n = this.view.getFloat64(this.offset, true);
        this.offset += 8;
        return n;
      }
      case Tag.BigInt64: {
        const n = this.view.getBigInt64(this.offset, true);
        this.offset += 8;
        return n;
      }
      case Tag.BigUint64: {
        const n = this.view.getBigUint64(this.offset, true);
        this.offset += 8;
        return n;
      }
      case Tag.Ascii: {
        const start = this.span();
        const end = this.spanEnd;
        if (end - start > SHORT_STRING) return this.buffer.toString('latin1', start, end);
        return this.shortAscii(start, end);
      }
      case Tag.Utf8: {
        const start = this.span();
        return this.buffer.toString('utf8', start, this.spanEnd);
      }
      case Tag.Bytes: {
        const start = this.span();
        return this.bytes.slice(start, this.spanEnd); // a copy: the region is reused by the next message
      }
      case Tag.Typed: {
        const Type = TYPED[this.bytes[this.offset++]!]!;
        const start = this.span();
        return new Type(this.bytes.slice(start, this.spanEnd).buffer);
      }
      case Tag.Array: {
        const length = this.u32();
        const array = new Array(length);
        for (let i = 0; i < length; i++) array[i] = this.next();
        return array;
      }
      case Tag.Object: {
        const count = this.u32();
        const object: Record<string, unknown> = {};
        for (let i = 0; i < count; i++) {
          const key = this.next() as string;
          // An own property even when it is named `__proto__` (an assignment would set the prototype).
          if (key === '__proto__') Object.defineProperty(object, key, { value: this.next(), enumerable: true, writable: true, configurable: true });
          else object[key] = this.next();
        }
        return object;
      }
      case Tag.V8: {
        const start = this.span();
        return deserialize(this.bytes.slice(start, this.spanEnd));
      }
      default:
        throw new Error(`corrupt value in a call slot: tag ${tag as number} at ${this.offset - 1}`);
    }
  }

  private u32(): number {
    const n = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return n;
  }

  /** A length-prefixed run of bytes: where it starts (it ends at `spanEnd`); the reader moves past it. */
  private span(): number {
    const length = this.u32();
    const start = this.offset;
    this.offset += length;
    this.spanEnd = this.offset;
    return start;
  }

  /** The ASCII string of bytes start..end (at most SHORT_STRING of them): the one read before, if it is the same. */
  private shortAscii(start: number, end: number): string {
    const bytes = this.bytes;
    const length = end - start;
    let hash = length;
    for (let i = start; i < end; i++) hash = (Math.imul(hash, 31) + bytes[i]!) | 0;
    const slot = hash & (KNOWN_STRINGS - 1);
    const known = this.known[slot];
    if (known !== undefined && known.length === length) {
      let i = 0;
      while (i < length && known.charCodeAt(i) === bytes[start + i]) i++;
      if (i === length) return known;
    }
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
    this.known[slot] = s;
    return s;
  }
}

/** The encoded size of `value` in bytes (for error messages about values that did not fit: it writes it). */
export function encodedSize(value: unknown): number {
  for (let bytes = 1 << 20; ; bytes *= 2) {
    try {
      return new ValueWriter(new SharedArrayBuffer(bytes), 0, bytes).write(value);
    } catch (error) {
      if (!(error instanceof DoesNotFit)) throw error;
    }
  }
}
