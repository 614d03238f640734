import type { BlockCursor } from '../chain/types.ts';

/**
 * Whether block `number`, whose parent is `parentHash`, may follow `cursor`: the block right after it
 * must build on it (the cursor and the block come from two answers of the node, and the chain may have
 * moved in between). Block 0, and a parent not known, have nothing to compare.
 */
export function continuesCursor(cursor: BlockCursor, number: bigint, parentHash: string | undefined): boolean {
  return number !== cursor.number + 1n || cursor.number < 0n || parentHash === undefined || parentHash === cursor.hash;
}
