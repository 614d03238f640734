import { isTypedArrayName, TYPED_ARRAYS } from '../runtime/typedArrays.ts';
import type { ExportSignature } from '../runtime/prepare/transpileComponent.ts';

export class ArgumentError extends Error {
  override readonly name = 'ArgumentError';
}

/**
 * Turns JSON command-line arguments into the JS values jco's glue expects, guided by the export's
 * signature: numeric lists become typed arrays, 64-bit integers become bigints.
 */
export function argsFromJson(raw: string[], signature: ExportSignature | undefined, exportName: string): unknown[] {
  return raw.map((text, i) => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      // A bare word is taken as a string, so `corral call g.wasm greet world` works.
      value = text;
    }
    const type = signature?.params[i]?.type;
    if (!type) return value;
    const where = `argument ${i + 1} (${signature!.params[i]!.name}: ${type}) of ${exportName}`;
    if (type === 'bigint') {
      if (typeof value !== 'number' && typeof value !== 'string') throw new ArgumentError(`${where} must be an integer`);
      try {
        return BigInt(value);
      } catch {
        throw new ArgumentError(`${where} must be an integer, got ${text}`);
      }
    }
    // 64-bit lists (BigInt64Array) are left to the glue: JSON numbers cannot carry them exactly.
    const TypedArray = isTypedArrayName(type) && !type.startsWith('Big') ? (TYPED_ARRAYS[type] as new (values: number[]) => ArrayBufferView) : undefined;
    if (TypedArray) {
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'number')) throw new ArgumentError(`${where} must be a JSON array of numbers`);
      return new TypedArray(value as number[]);
    }
    if (type === 'number' && typeof value !== 'number') throw new ArgumentError(`${where} must be a number, got ${text}`);
    if (type === 'string' && typeof value !== 'string') return text;
    return value;
  });
}

/** JSON for a guest's result: bigints as numbers when exact (else strings), typed arrays as arrays. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number>);
  return value;
}
