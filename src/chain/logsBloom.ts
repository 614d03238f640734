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

/**
 * The three 11-bit positions of keccak256(value) (Yellow Paper, M3:2048), counted from the last byte.
 * Remembered per value: a filter's addresses and topics come from manifests, and every live block
 * checks them again.
 */
const positions = new Map<string, number[]>();

function bitsOf(value: string): number[] {
  let bits = positions.get(value);
  if (!bits) {
    const hash = Buffer.from(keccak256(value as `0x${string}`).slice(2), 'hex');
    bits = [0, 2, 4].map((i) => ((hash[i]! << 8) | hash[i + 1]!) & 2047);
    positions.set(value, bits);
  }
  return bits;
}

function hasValue(bloom: Buffer, value: string): boolean {
  return bitsOf(value).every((bit) => (bloom[255 - (bit >> 3)]! & (1 << (bit & 7))) !== 0);
}
