import type { ChainBlock } from './types.ts';

/**
 * Whether each of `blocks` (ascending) builds on the one before it. Blocks fetched one by one by number
 * are not when the chain moved while they were fetched.
 */
export function isChained(blocks: readonly ChainBlock[]): boolean {
  for (let i = blocks.length - 1; i > 0; i--) if (blocks[i]!.parentHash !== blocks[i - 1]!.hash) return false;
  return true;
}
