import { keccak256 } from 'viem';
import type { LogFilter } from './types.ts';

/**
 * Whether a block's `logsBloom` may hold logs matching `filter`. A bloom has no false negatives, so
 * `false` means no matching log is in the block and its `eth_getLogs` can be skipped: on a chain
 * where a watched contract is quiet, most blocks cost no log request at all.
 */
export function bloomMayMatch(bloom: string, filter: LogFilter): boolean {
  const bits = Buffer.from(bloom.slice(2), 'hex');
  if (filter.address.length > 0 && !filter.address.some((a) => hasValue(bits, a))) return false;
  for (const position of filter.topics) {
    if (position === null) continue;
    const alternatives = Array.isArray(position) ? position : [position];
    if (!alternatives.some((t) => hasValue(bits, t))) return false;
  }
  return true;
}

/** The three 11-bit positions of keccak256(value) (Yellow Paper, M3:2048), counted from the last byte. */
function hasValue(bits: Buffer, value: string): boolean {
  const hash = Buffer.from(keccak256(value as `0x${string}`).slice(2), 'hex');
  for (let i = 0; i < 6; i += 2) {
    const bit = ((hash[i]! << 8) | hash[i + 1]!) & 2047;
    if ((bits[255 - (bit >> 3)]! & (1 << (bit & 7))) === 0) return false;
  }
  return true;
}
