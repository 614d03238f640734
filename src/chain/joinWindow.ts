import { blockAt } from './blockAt.ts';
import type { ChainBlock } from './types.ts';

/** Where new canonical blocks meet the headers the follower holds. */
export type Join =
  /** `added[0]` builds on the held block before index `keep`: the held blocks from `keep` on are abandoned (a reorg as deep as they are many). */
  | { kind: 'joins'; keep: number }
  /** The block held below `added[0]` is not its parent: the parent, by hash, is the next to add. */
  | { kind: 'parent' }
  /**
   * `added[0]` lies past the held window: after a gap longer than the window (nothing known to be
   * abandoned), or a reorg deeper than it (all held blocks abandoned). Either way the new blocks replace
   * all held; modules compare their own cursors with the node.
   */
  | { kind: 'replace'; reason: 'gap' | 'reorg' };

/**
 * Where `added` (contiguous, ascending) joins `window` (contiguous canonical headers, oldest first, not
 * empty). The reorg is found here: a new block whose parent is not the block held at the height below.
 */
export function joinWindow(window: readonly ChainBlock[], added: readonly ChainBlock[]): Join {
  const oldest = added[0]!;
  const parent = blockAt(window, oldest.number - 1n);
  if (parent?.hash === oldest.parentHash) return { kind: 'joins', keep: Number(oldest.number - window[0]!.number) };
  if (parent) return { kind: 'parent' };
  return { kind: 'replace', reason: oldest.number > window[window.length - 1]!.number + 1n ? 'gap' : 'reorg' };
}
