import { describe, expect, it } from 'vitest';
import { allocBytes, concatBytes, copyBytes } from '../../src/store/copyBytes.ts';

describe('copyBytes', () => {
  it('default: a copy equals its source as a plain Uint8Array, and a later change to the source does not reach it', () => {
    const source = Uint8Array.from([1, 2, 3]);
    const copy = copyBytes(source);
    expect(copy).toEqual(Uint8Array.from([1, 2, 3]));
    source[0] = 9;
    expect(copy[0]).toBe(1);
  });

  it('behavior: copies that share a slab do not overlap, past a slab\'s end too', () => {
    const copies = Array.from({ length: 200 }, (_, i) => copyBytes(new Uint8Array(100).fill(i)));
    copies.forEach((copy, i) => expect(copy.every((b) => b === i)).toBe(true));
    expect(allocBytes(4_096).byteLength).toBe(4_096); // larger than a pooled array: its own buffer
  });

  it('default: concatBytes puts the prefix, the text as UTF-8 and the tail one after another', () => {
    expect(concatBytes(Uint8Array.from([0xff, 0]), 'é/', Uint8Array.from([7]))).toEqual(Uint8Array.from([0xff, 0, 0xc3, 0xa9, 0x2f, 7]));
  });
});
