/**
 * The typed arrays jco 1.11's glue uses for numeric lists (`list<u32>` is a `Uint32Array`, `list<s64>`
 * a `BigInt64Array`), by constructor name: what the CLI builds from JSON arguments and what a
 * recording reads back.
 */
export const TYPED_ARRAYS = {
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
} as const;

export type TypedArrayName = keyof typeof TYPED_ARRAYS;

export function isTypedArrayName(name: string): name is TypedArrayName {
  return Object.hasOwn(TYPED_ARRAYS, name);
}
