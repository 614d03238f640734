import {
  AbiDecodingDataSizeTooSmallError,
  AbiDecodingZeroDataError,
  AbiEncodingArrayLengthMismatchError,
  AbiEncodingBytesSizeMismatchError,
  AbiEncodingLengthMismatchError,
  type AbiParameter,
  BaseError,
  type Hex,
  IntegerOutOfRangeError,
  InvalidAddressError,
  InvalidBytesBooleanError,
  decodeAbiParameters,
  encodeAbiParameters,
  getAddress,
} from 'viem';
import { describe, expect, it } from 'vitest';
import { decodeAbi, encodeAbi } from '../../src/guest/abi.ts';
import { NotCovered, decodeHex, encodeHex } from '../../src/guest/abiCodec.ts';

// The hex codec against viem's own decodeAbiParameters and encodeAbiParameters (the oracle: code we did not
// write), over random types and values. The codec is called directly, so a case it left to viem would fail
// here rather than pass through the fallback.

/** mulberry32: the same cases on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rnd = random(25);
const pick = <T,>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!;
const below = (n: number) => Math.floor(rnd() * n);
const hexOf = (bytes: number) => Array.from({ length: bytes * 2 }, () => '0123456789abcdef'[below(16)]).join('');
const WIDTHS = Array.from({ length: 32 }, (_, i) => (i + 1) * 8);
const CHARS = ['a', 'Z', '0', ' ', '%', '~', "'", 'é', 'ß', '€', '中', '😀', '\u0000', '\n', '\u{10ffff}'];

function bigOf(bits: number): bigint {
  const edge = below(4);
  const max = (1n << BigInt(bits)) - 1n;
  if (edge === 0) return 0n;
  if (edge === 1) return max;
  return BigInt(`0x${hexOf(bits / 8)}`) & max;
}

function uintValue(bits: number): bigint | number {
  const value = bigOf(bits);
  return bits > 48 ? value : Number(value);
}

function intValue(bits: number): bigint | number {
  const half = 1n << BigInt(bits - 1);
  const value = bigOf(bits) - half; // from -2^(bits-1) to 2^(bits-1) - 1
  return bits > 48 ? value : Number(value);
}

const BASE_TYPES = ['address', 'bool', 'string', 'bytes', ...WIDTHS.map((w) => `uint${w}`), ...WIDTHS.map((w) => `int${w}`), ...WIDTHS.map((w) => `bytes${w / 8}`), 'uint', 'int'];

function randomParam(depth: number, named: boolean): AbiParameter {
  const name = named ? `p${below(1e6)}` : undefined;
  const kind = depth > 0 ? below(6) : 0;
  let param: AbiParameter;
  if (kind === 4) {
    const allNamed = rnd() < 0.6;
    param = { type: 'tuple', components: Array.from({ length: 1 + below(4) }, () => randomParam(depth - 1, allNamed)) };
  } else {
    param = { type: pick(BASE_TYPES) };
  }
  if (kind === 5) {
    const inner = randomParam(depth - 1, false);
    param = { ...inner, type: `${inner.type}${rnd() < 0.5 ? '[]' : `[${1 + below(3)}]`}` } as AbiParameter;
  }
  return name === undefined ? param : ({ ...param, name } as AbiParameter);
}

function randomValue(param: AbiParameter): unknown {
  const array = /^(.*)\[(\d*)\]$/.exec(param.type);
  if (array) {
    const length = array[2] === '' ? below(4) : Number(array[2]);
    return Array.from({ length }, () => randomValue({ ...param, type: array[1]! } as AbiParameter));
  }
  if (param.type === 'tuple') {
    const { components } = param as { components: readonly AbiParameter[] };
    const values = components.map(randomValue);
    return components.every((c) => c.name) && rnd() < 0.8 ? Object.fromEntries(components.map((c, i) => [c.name!, values[i]])) : values;
  }
  if (param.type === 'address') return `0x${hexOf(20)}`;
  if (param.type === 'bool') return rnd() < 0.5;
  if (param.type === 'string') return Array.from({ length: below(3) === 0 ? below(80) : below(8) }, () => pick(CHARS)).join('');
  if (param.type === 'bytes') return `0x${hexOf(below(3) === 0 ? below(100) : below(33))}`;
  const fixed = /^bytes(\d+)$/.exec(param.type);
  if (fixed) return `0x${hexOf(Number(fixed[1]))}`;
  const integer = /^(u?)int(\d*)$/.exec(param.type)!;
  const bits = integer[2] === '' ? 256 : Number(integer[2]);
  return integer[1] === 'u' ? uintValue(bits) : intValue(bits);
}

/** viem's decoded value with its checksummed addresses in lower case, as the codec gives them. */
function lowerAddresses(param: AbiParameter, value: unknown): unknown {
  const array = /^(.*)\[\d*\]$/.exec(param.type);
  if (array) return (value as unknown[]).map((item) => lowerAddresses({ ...param, type: array[1]! } as AbiParameter, item));
  if (param.type === 'address') return (value as string).toLowerCase();
  if (param.type === 'tuple') {
    const { components } = param as { components: readonly AbiParameter[] };
    if (Array.isArray(value)) return components.map((c, i) => lowerAddresses(c, value[i]));
    const record = value as Record<string, unknown>;
    return Object.fromEntries(components.map((c) => [c.name!, lowerAddresses(c, record[c.name!])]));
  }
  return value;
}

function agree(params: readonly AbiParameter[], values: readonly unknown[]): void {
  const oracle = encodeAbiParameters(params, values as never);
  expect(`0x${encodeHex(params, values)}`, JSON.stringify(params)).toBe(oracle);
  const expected = decodeAbiParameters(params, oracle).map((value, i) => lowerAddresses(params[i]!, value));
  expect(decodeHex(params, oracle.slice(2)), JSON.stringify(params)).toEqual(expected);
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (error) {
    return error;
  }
  throw new Error('did not throw');
}

describe('corral/guest ABI codec against viem', () => {
  it('behavior: every base type, edge and random values, encodes and decodes as viem does', () => {
    for (const type of BASE_TYPES) {
      for (let i = 0; i < 30; i++) {
        const param = { type } as AbiParameter;
        agree([param], [randomValue(param)]);
      }
    }
  });

  it('behavior: random nested tuples and arrays (fixed and dynamic, of static and dynamic items), named or not, encode and decode as viem does', () => {
    for (let i = 0; i < 400; i++) {
      const params = Array.from({ length: 1 + below(4) }, () => randomParam(3, rnd() < 0.5));
      agree(params, params.map(randomValue));
    }
  });

  it('behavior: data with uppercase hex decodes as viem decodes it; bytes values keep their case in the encoding as in viem', () => {
    const params = [{ type: 'address' }, { type: 'bytes' }, { type: 'bytes2' }] as const;
    const data = encodeAbiParameters(params, ['0x00000000000000000000000000000000000000ab', '0xABcd', '0xEF01']);
    expect(data).toContain('ABcd');
    expect(`0x${encodeHex(params, ['0x00000000000000000000000000000000000000ab', '0xABcd', '0xEF01'])}`).toBe(data);
    const upper = `0x${data.slice(2).toUpperCase()}` as Hex;
    expect(decodeHex(params, upper.slice(2))).toEqual(lowerAddresses({ type: 'tuple', components: params } as AbiParameter, decodeAbiParameters(params, upper)));
  });

  it('args: a checksummed address encodes as viem encodes it; an odd-length bytes value gets its leading nibble as in viem', () => {
    const address = getAddress('0x6cf1e9ca41f7611def408122793c358a3d11e5a5');
    expect(encodeAbi([{ type: 'address' }], [address])).toBe(encodeAbiParameters([{ type: 'address' }], [address]));
    expect(`0x${encodeHex([{ type: 'address' }], [address])}`).toBe(encodeAbiParameters([{ type: 'address' }], [address]));
    expect(`0x${encodeHex([{ type: 'bytes' }, { type: 'bytes2' }], ['0xabc', '0x123'])}`).toBe(encodeAbiParameters([{ type: 'bytes' }, { type: 'bytes2' }], ['0xabc', '0x123']));
  });

  it('error: what the codec does not cover throws, never a wrong value (truncated data, a bool not 0 or 1, an offset past the end, a character that is not hex in a word or byte string it reads, an uncovered type)', () => {
    const data = encodeAbiParameters([{ type: 'string' }, { type: 'uint256[]' }], ['hello', [1n, 2n]]).slice(2);
    expect(thrown(() => decodeHex([{ type: 'string' }, { type: 'uint256[]' }], data.slice(0, -64)))).toBeInstanceOf(NotCovered);
    expect(thrown(() => decodeHex([{ type: 'bool' }], `${'0'.repeat(63)}2`))).toBeInstanceOf(NotCovered);
    expect(thrown(() => decodeHex([{ type: 'bytes' }], `${'0'.repeat(62)}40`))).toBeInstanceOf(NotCovered);
    expect(thrown(() => decodeHex([{ type: 'fixed128x18' }], '0'.repeat(64)))).toBeInstanceOf(NotCovered);
    for (const type of ['uint256', 'address', 'bytes32', 'bool']) expect(thrown(() => decodeHex([{ type }], `${'0'.repeat(62)}g1`))).toBeInstanceOf(Error);
    expect(thrown(() => decodeHex([{ type: 'bytes' }], `${'0'.repeat(62)}20${'0'.repeat(63)}1x${'0'.repeat(62)}`))).toBeInstanceOf(SyntaxError);
    expect(thrown(() => encodeHex([{ type: 'uint8' }], [256]))).toBeInstanceOf(NotCovered);
    expect(thrown(() => encodeHex([{ type: 'uint256' }], [1.5]))).toBeInstanceOf(NotCovered);
  });

  it("error: decodeAbi and encodeAbi throw viem's typed errors for bad data and values", () => {
    const word = '0'.repeat(64);
    expect(thrown(() => decodeAbi([{ type: 'uint256' }], '0x'))).toBeInstanceOf(AbiDecodingZeroDataError);
    expect(thrown(() => decodeAbi([{ type: 'uint256' }], '0x1234'))).toBeInstanceOf(AbiDecodingDataSizeTooSmallError);
    expect(thrown(() => decodeAbi([{ type: 'bool' }], `0x${'0'.repeat(63)}2`))).toBeInstanceOf(InvalidBytesBooleanError);
    expect(thrown(() => decodeAbi([{ type: 'address' }], `0x${'0'.repeat(62)}g1`))).toBeInstanceOf(BaseError);
    const truncated = thrown(() => decodeAbi([{ type: 'bytes' }], `0x${'0'.repeat(62)}40${word}`));
    expect(truncated).toBeInstanceOf(BaseError);
    expect((truncated as BaseError).name).toBe('PositionOutOfBoundsError');
    expect(thrown(() => encodeAbi([{ type: 'uint8' }], [256]))).toBeInstanceOf(IntegerOutOfRangeError);
    expect(thrown(() => encodeAbi([{ type: 'int8' }], [-129]))).toBeInstanceOf(IntegerOutOfRangeError);
    expect(thrown(() => encodeAbi([{ type: 'address' }], ['0x6Cf1e9ca41f7611def408122793c358a3d11e5a5']))).toBeInstanceOf(InvalidAddressError);
    expect(thrown(() => encodeAbi([{ type: 'address' }], ['0x1234']))).toBeInstanceOf(InvalidAddressError);
    expect(thrown(() => encodeAbi([{ type: 'bytes4' }], ['0x123456']))).toBeInstanceOf(AbiEncodingBytesSizeMismatchError);
    expect(thrown(() => encodeAbi([{ type: 'uint256[2]' }], [[1n]] as never))).toBeInstanceOf(AbiEncodingArrayLengthMismatchError);
    expect(thrown(() => encodeAbi([{ type: 'uint256' }, { type: 'bool' }] as const, [1n] as never))).toBeInstanceOf(AbiEncodingLengthMismatchError);
  });

  it('default: decodeAbi and encodeAbi give the codec\'s results, typed from the ABI parameters', () => {
    const params = [{ name: 'who', type: 'address' }, { name: 'amounts', type: 'tuple', components: [{ name: 'a', type: 'uint256' }, { name: 'b', type: 'uint32' }] }] as const;
    const data = encodeAbi(params, ['0x00000000000000000000000000000000000000a1', { a: 10n ** 30n, b: 7 }]);
    expect(data).toBe(encodeAbiParameters(params, ['0x00000000000000000000000000000000000000a1', { a: 10n ** 30n, b: 7 }]));
    const [who, amounts] = decodeAbi(params, data);
    expect(who).toBe('0x00000000000000000000000000000000000000a1');
    expect(amounts).toEqual({ a: 10n ** 30n, b: 7 });
  });
});
