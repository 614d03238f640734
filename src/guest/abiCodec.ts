// ABI encoding and decoding over hex strings, driven by viem's ABI parameters. viem's own functions turn the
// hex into bytes and back a byte at a time and checksum every address they decode (a keccak each): in
// QuickJS, which interprets all of it, that was 10–20× the fuel of a module's whole event handling. Here a
// 32-byte word is a slice of 64 hex characters, a uint is BigInt('0x' + word), an address the word's last 40
// characters (in lower case: no checksum), bytes and strings are slices found by their offsets, and UTF-8
// goes through the engine's native URI functions: the per-byte work runs in native code.
// Whatever this does not cover (an odd type, malformed data or values) throws NotCovered: `corral/guest/abi`
// then hands the call to viem's functions, whose results and errors stay the reference
// (test/guest/abiCodec.test.ts checks the agreement).
import { type AbiParameter, isAddress } from 'viem';

/** How one ABI type sits in an encoding, and how to read and write it on hex without the `0x`. */
interface Codec {
  /** Whether the value sits in the tail, its head word an offset into the enclosing sequence. */
  readonly dynamic: boolean;
  /** Hex characters the value takes in the head: 64 for a dynamic one. */
  readonly head: number;
  /** The value whose head is at character `at`; a dynamic value's offset counts from `base`. */
  decode(data: Reader, at: number, base: number): unknown;
  /** A static value's head, or a dynamic value's tail. */
  encode(value: unknown): string;
}

interface Reader {
  readonly hex: string;
  /** Hex characters of bytes and strings left to decode: viem's bound (32 times the data) against offsets that repeat. */
  budget: number;
}

/** A type, data or value this codec leaves to viem, which gives the result or the error. */
export class NotCovered extends Error {
  constructor() {
    super('not covered by the hex codec: viem decides');
    this.name = 'NotCovered';
  }
}

const ZERO_WORD = '0'.repeat(64);
const ONE_WORD = `${'0'.repeat(63)}1`;
const TWO_256 = 1n << 256n;
const TWO_255 = 1n << 255n;
const LOWER_ADDRESS = /^0x[0-9a-f]{40}$/;
const ZEROS_48 = '0'.repeat(48);
const ADDRESS_MASK = (1n << 160n) - 1n;

const CODECS = new WeakMap<object, Codec | null>();
const LISTS = new WeakMap<readonly AbiParameter[], readonly Codec[] | null>();

/**
 * The values of `params` in `hex` (the data without `0x`), as viem's decodeAbiParameters gives them but for
 * addresses, in lower case. Anything it does not cover throws (NotCovered, the engine's SyntaxError for a
 * character that is not hex, URIError for invalid UTF-8). Only the characters of the words and byte
 * strings it reads are looked at: every pass over a whole string costs hundreds of fuel per character in
 * QuickJS, where viem's hexToBytes refuses a stray character anywhere in the data.
 */
export function decodeHex(params: readonly AbiParameter[], hex: string): unknown[] {
  const codecs = codecsOf(params);
  const reader: Reader = { hex, budget: hex.length * 32 };
  const values: unknown[] = [];
  let at = 0;
  for (const codec of codecs) {
    values.push(codec.decode(reader, at, 0));
    at += codec.head;
  }
  return values;
}

/** The encoding of `values` as `params` (without `0x`), as viem's encodeAbiParameters gives it; anything it does not cover throws. */
export function encodeHex(params: readonly AbiParameter[], values: readonly unknown[]): string {
  const codecs = codecsOf(params);
  if (values.length !== codecs.length) throw new NotCovered();
  return encodeSequence(codecs, values);
}

function codecsOf(params: readonly AbiParameter[]): readonly Codec[] {
  let codecs = LISTS.get(params);
  if (codecs === undefined) {
    try {
      codecs = params.map(codecOf);
    } catch {
      codecs = null;
    }
    LISTS.set(params, codecs);
  }
  if (!codecs) throw new NotCovered();
  return codecs;
}

/** The codec of `param`, kept per parameter object; a type this path does not cover throws NotCovered. */
function codecOf(param: AbiParameter): Codec {
  const known = CODECS.get(param);
  if (known) return known;
  if (known === null) throw new NotCovered();
  let codec: Codec;
  try {
    codec = compile(param.type, 'components' in param ? param.components : undefined);
  } catch (error) {
    CODECS.set(param, null);
    throw error;
  }
  CODECS.set(param, codec);
  return codec;
}

function compile(type: string, components: readonly AbiParameter[] | undefined): Codec {
  const array = /^(.*)\[(\d*)\]$/.exec(type);
  if (array) {
    const item = compile(array[1]!, components);
    if (item.head === 0) throw new NotCovered();
    return array[2] === '' ? dynamicArray(item) : fixedArray(item, Number(array[2]));
  }
  if (type === 'tuple') {
    if (!components) throw new NotCovered();
    return tuple(components);
  }
  if (type === 'address') return ADDRESS;
  if (type === 'bool') return BOOL;
  if (type === 'string') return STRING;
  if (type === 'bytes') return BYTES;
  const fixed = /^bytes(\d+)$/.exec(type);
  if (fixed) {
    const size = Number(fixed[1]);
    if (size < 1 || size > 32) throw new NotCovered();
    return fixedBytes(size);
  }
  const integer = /^(u?)int(\d*)$/.exec(type);
  if (integer) {
    const bits = integer[2] === '' ? 256 : Number(integer[2]);
    if (bits < 8 || bits > 256 || bits % 8 !== 0) throw new NotCovered();
    return integer[1] === 'u' ? uint(bits) : int(bits);
  }
  throw new NotCovered();
}

// ---- reading

function word(data: Reader, at: number): string {
  if (at < 0 || at + 64 > data.hex.length) throw new NotCovered();
  return data.hex.slice(at, at + 64);
}

/** A word read as a byte count (an offset or a length), in hex characters; one beyond the data gives up. */
function count(data: Reader, at: number): number {
  const value = word(data, at);
  if (!value.startsWith(ZEROS_48)) throw new NotCovered();
  const n = Number(`0x${value.slice(48)}`) * 2;
  if (!(n <= data.hex.length)) throw new NotCovered(); // NaN too: not hex
  return n;
}

/** A word as an unsigned integer: BigInt's parser checks the characters (SyntaxError). */
function big(data: Reader, at: number): bigint {
  return BigInt(`0x${word(data, at)}`);
}

/** Hex in lower case, checked: a BigInt's round trip, native code (toLowerCase and regexes cost far more per character in QuickJS). */
function lowerHex(hex: string): string {
  return hex.length === 0 ? '' : BigInt(`0x${hex}`).toString(16).padStart(hex.length, '0');
}

/** The byte string whose offset word is at `at`: its hex, without the `0x`. */
function readBytes(data: Reader, at: number, base: number): string {
  const start = base + count(data, at);
  const length = count(data, start);
  const end = start + 64 + length;
  if (end > data.hex.length) throw new NotCovered();
  data.budget -= length;
  if (data.budget < 0) throw new NotCovered();
  return data.hex.slice(start + 64, end);
}

// ---- writing

function wordOf(n: number): string {
  return n.toString(16).padStart(64, '0');
}

/** Hex without the `0x`, a nibble added in front when odd as viem does. */
function bytesOf(value: unknown): string {
  // viem checks no more (its encoding copies the characters as they are).
  if (typeof value !== 'string' || !value.startsWith('0x')) throw new NotCovered();
  return value.length % 2 ? `0${value.slice(2)}` : value.slice(2);
}

/** Right-padded to whole words. */
function padded(hex: string): string {
  const rest = hex.length % 64;
  return rest === 0 ? hex : hex + '0'.repeat(64 - rest);
}

/** Heads, then tails, each dynamic head the offset of its tail from the start of the sequence. */
function encodeSequence(codecs: readonly Codec[], values: readonly unknown[]): string {
  let headSize = 0;
  for (const codec of codecs) headSize += codec.head;
  let heads = '';
  let tails = '';
  for (let i = 0; i < codecs.length; i++) {
    const codec = codecs[i]!;
    const encoded = codec.encode(values[i]);
    if (codec.dynamic) {
      heads += wordOf((headSize + tails.length) / 2);
      tails += encoded;
    } else {
      heads += encoded;
    }
  }
  return heads + tails;
}

// ---- the types

const ADDRESS: Codec = {
  dynamic: false,
  head: 64,
  decode: (data, at) => `0x${(big(data, at) & ADDRESS_MASK).toString(16).padStart(40, '0')}`,
  encode(value) {
    if (typeof value !== 'string') throw new NotCovered();
    if (LOWER_ADDRESS.test(value)) return `${'0'.repeat(24)}${value.slice(2)}`;
    if (!isAddress(value)) throw new NotCovered();
    return `${'0'.repeat(24)}${value.slice(2).toLowerCase()}`;
  },
};

const BOOL: Codec = {
  dynamic: false,
  head: 64,
  decode(data, at) {
    const value = word(data, at);
    if (value === ZERO_WORD) return false;
    if (value === ONE_WORD) return true;
    throw new NotCovered();
  },
  encode(value) {
    if (typeof value !== 'boolean') throw new NotCovered();
    return value ? ONE_WORD : ZERO_WORD;
  },
};

const BYTES: Codec = {
  dynamic: true,
  head: 64,
  decode: (data, at, base) => `0x${lowerHex(readBytes(data, at, base))}`,
  encode(value) {
    const hex = bytesOf(value);
    return wordOf(hex.length / 2) + padded(hex);
  },
};

const STRING: Codec = {
  dynamic: true,
  head: 64,
  // Each byte as %XX, then the engine's UTF-8 decoder: invalid UTF-8 throws (URIError) and viem decides.
  decode: (data, at, base) => decodeURIComponent(readBytes(data, at, base).replace(/../g, '%$&')),
  encode(value) {
    if (typeof value !== 'string') throw new NotCovered();
    // encodeURIComponent leaves only ASCII unescaped; a lone surrogate throws (URIError) and viem decides.
    const hex = encodeURIComponent(value).replace(/%([0-9A-F]{2})|[^%]/g, (char, escaped: string | undefined) =>
      escaped === undefined ? char.charCodeAt(0).toString(16).padStart(2, '0') : escaped.toLowerCase(),
    );
    return wordOf(hex.length / 2) + padded(hex);
  },
};

function fixedBytes(size: number): Codec {
  const shift = BigInt(256 - size * 8);
  return {
    dynamic: false,
    head: 64,
    decode: (data, at) => `0x${(big(data, at) >> shift).toString(16).padStart(size * 2, '0')}`,
    encode(value) {
      const hex = bytesOf(value);
      if (hex.length !== size * 2) throw new NotCovered();
      return padded(hex);
    },
  };
}

/** An integer value as viem takes it: a BigInt, or a number that is a safe integer. */
function integerOf(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  throw new NotCovered();
}

function uint(bits: number): Codec {
  const max = (1n << BigInt(bits)) - 1n;
  return {
    dynamic: false,
    head: 64,
    decode(data, at) {
      const value = big(data, at);
      return bits > 48 ? value : Number(value);
    },
    encode(value) {
      const n = integerOf(value);
      if (n < 0n || n > max) throw new NotCovered();
      return n.toString(16).padStart(64, '0');
    },
  };
}

function int(bits: number): Codec {
  const max = (1n << BigInt(bits - 1)) - 1n;
  const min = -max - 1n;
  return {
    dynamic: false,
    head: 64,
    decode(data, at) {
      let value = big(data, at);
      // Two's complement over the whole word, as viem reads it whatever the declared width.
      if (value >= TWO_255) value -= TWO_256;
      return bits > 48 ? value : Number(value);
    },
    encode(value) {
      const n = integerOf(value);
      if (n < min || n > max) throw new NotCovered();
      return (n < 0n ? TWO_256 + n : n).toString(16).padStart(64, '0');
    },
  };
}

function tuple(components: readonly AbiParameter[]): Codec {
  const codecs = components.map(codecOf);
  // viem gives a tuple whose components all have names as an object, otherwise as an array.
  const names = components.length > 0 && components.every((component) => component.name) ? components.map((component) => component.name!) : null;
  const dynamic = codecs.some((codec) => codec.dynamic);
  let head = 0;
  for (const codec of codecs) head += codec.head;
  const read = (data: Reader, at: number, base: number): unknown => {
    const value: Record<string, unknown> | unknown[] = names ? {} : [];
    for (let i = 0; i < codecs.length; i++) {
      const codec = codecs[i]!;
      (value as Record<string, unknown>)[names ? names[i]! : i] = codec.decode(data, at, base);
      at += codec.head;
    }
    return value;
  };
  return {
    dynamic,
    head: dynamic ? 64 : head,
    decode(data, at, base) {
      if (!dynamic) return read(data, at, base);
      const start = base + count(data, at);
      return read(data, start, start);
    },
    encode(value) {
      if (typeof value !== 'object' || value === null) throw new NotCovered();
      const items = Array.isArray(value) ? value : components.map((component) => (value as Record<string, unknown>)[component.name!]);
      if (dynamic) return encodeSequence(codecs, items);
      let hex = '';
      for (let i = 0; i < codecs.length; i++) hex += codecs[i]!.encode(items[i]);
      return hex;
    },
  };
}

function dynamicArray(item: Codec): Codec {
  return {
    dynamic: true,
    head: 64,
    decode(data, at, base) {
      const start = base + count(data, at);
      const length = count(data, start) / 2;
      const first = start + 64;
      if (first + length * item.head > data.hex.length) throw new NotCovered();
      const value: unknown[] = [];
      for (let i = 0; i < length; i++) value.push(item.decode(data, first + i * item.head, first));
      return value;
    },
    encode(value) {
      if (!Array.isArray(value)) throw new NotCovered();
      return wordOf(value.length) + encodeSequence(value.map(() => item), value);
    },
  };
}

function fixedArray(item: Codec, length: number): Codec {
  const dynamic = item.dynamic;
  const decodeItems = (data: Reader, first: number, base: number): unknown[] => {
    const value: unknown[] = [];
    for (let i = 0; i < length; i++) value.push(item.decode(data, first + i * item.head, base));
    return value;
  };
  return {
    dynamic,
    head: dynamic ? 64 : length * item.head,
    decode(data, at, base) {
      if (!dynamic) return decodeItems(data, at, base);
      const start = base + count(data, at);
      return decodeItems(data, start, start);
    },
    encode(value) {
      if (!Array.isArray(value) || value.length !== length) throw new NotCovered();
      if (dynamic) return encodeSequence(value.map(() => item), value);
      let hex = '';
      for (const element of value) hex += item.encode(element);
      return hex;
    },
  };
}
