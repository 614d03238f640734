import type { TrapCode } from '../../signals/Trap.ts';

/**
 * V8's trap messages (wasm/wasm-opcodes / message-template.h) mapped to corral's closed set of codes.
 * Matching text is unavoidable here: V8 reports every trap as a `WebAssembly.RuntimeError`.
 */
const V8_TRAPS: [RegExp, TrapCode][] = [
  [/^unreachable|unreachable( instruction)? executed/, 'unreachable'],
  [/memory access out of bounds|data segment (has been dropped|out of bounds)/, 'memory-out-of-bounds'],
  [/(divide|remainder) by zero/, 'integer-divide-by-zero'],
  [/divide result unrepresentable|integer overflow/, 'integer-overflow'],
  [/float unrepresentable in integer range|invalid conversion to integer/, 'bad-conversion'],
  [/function signature mismatch|null function/, 'indirect-call-type-mismatch'],
  [/table index is out of bounds|element segment (has been dropped|out of bounds)|table (access )?out of bounds/, 'table-out-of-bounds'],
  [/dereferencing a null pointer|null reference/, 'null-reference'],
];

/** Classifies an error thrown out of guest code (not a host error, not a limit: those are decided first). */
export function classifyTrap(error: unknown): { code: TrapCode; message: string } {
  if (error instanceof RangeError && /call stack size/i.test(error.message)) {
    return { code: 'stack-overflow', message: error.message };
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof WebAssembly.RuntimeError) {
    for (const [pattern, code] of V8_TRAPS) if (pattern.test(message)) return { code, message };
  }
  return { code: 'unknown', message };
}
