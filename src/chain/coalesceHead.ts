import type { ChainBlock } from './types.ts';

/**
 * The head left waiting once `head` arrives while `pending` waits (see ChainFollower.pending). A newer
 * head replaces the waiting one: linking it fetches whatever lies between, so nothing is lost. A head
 * not above the waiting one comes from a lagging source or a reorg to a shorter chain; which of the two
 * is newest is the node's to say, so they coalesce into `'latest'` (and stay so until drained).
 */
export function coalesceHead(pending: ChainBlock | 'latest' | undefined, head: ChainBlock): ChainBlock | 'latest' {
  if (pending === 'latest') return 'latest';
  if (pending && head.number <= pending.number && head.hash !== pending.hash) return 'latest';
  return head;
}
