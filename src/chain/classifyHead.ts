import { blockAt } from './blockAt.ts';
import type { ChainBlock } from './types.ts';

/** What the follower does with a head, given the canonical headers it holds. */
export type HeadAction =
  /** Nothing held yet: the head starts the window. */
  | { kind: 'first' }
  /** The tip again, or a block held at its height: nothing changes. */
  | { kind: 'known' }
  /** Not above the tip and not held, not yet confirmed by the node: its latest block decides. */
  | { kind: 'stale' }
  /** Fetch the blocks `between` the tip and the head by number, then join them to the window by parent hash. */
  | { kind: 'extend'; between: bigint[] };

/**
 * Decides what a head means for `window` (contiguous canonical headers, oldest first). A head at or
 * below the tip that is not ours is a reorg to a chain no longer than ours, or a source that lags (a
 * fallback node, a load-balanced backend, a node restarted from an old snapshot): one such head must
 * not shorten the chain and halt every module, so unless the node's latest block `confirmed` it, it
 * is `stale`. Between tip and head at most `windowBlocks` are fetched: after a longer outage the
 * modules backfill by range, not by header.
 */
export function classifyHead(window: readonly ChainBlock[], head: ChainBlock, confirmed: boolean, windowBlocks: number): HeadAction {
  const tip = window[window.length - 1];
  if (!tip) return { kind: 'first' };
  if (head.hash === tip.hash || blockAt(window, head.number)?.hash === head.hash) return { kind: 'known' };
  if (head.number <= tip.number && !confirmed) return { kind: 'stale' };
  const lowest = head.number - BigInt(windowBlocks) + 1n;
  const between: bigint[] = [];
  for (let n = tip.number + 1n > lowest ? tip.number + 1n : lowest; n < head.number; n++) between.push(n);
  return { kind: 'extend', between };
}
