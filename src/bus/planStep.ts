import type { BlockCursor } from '../chain/types.ts';
import type { ChainInterest } from './triggers.ts';

/** What a module's feed does next on its chain. */
export type StepPlan =
  /** No cursor yet: a new module's origin is the block before its first (-1: before block 0). */
  | { kind: 'start'; origin: bigint }
  | ({
      /** The height the module's events wait for: the tip less the confirmations. */
      target: bigint;
      /** Check first that the cursor is still canonical (if not, rewind instead). */
      verify: boolean;
    } & (
      | { kind: 'waiting' }
      /** Blocks below the reorg window, fetched as final by range. */
      | { kind: 'catch-up'; from: bigint; to: bigint }
      /** The next block inside the window, by itself, with an undo record. */
      | { kind: 'live'; number: bigint }
    ));

export interface StepFeed {
  interest: Pick<ChainInterest, 'confirmations' | 'blocks'>;
  /** Where a module without a cursor starts (default: the head less the confirmations). */
  startBlock: bigint | undefined;
  /** Blocks below `tip - reorgWindow` are treated as final. */
  reorgWindow: number;
}

/**
 * Plans a feed's next step from the chain's tip and the module's cursor (`final`: placed by a catch-up
 * step on a block fetched as final). The cursor is checked even with nothing new to deliver: a reorg can
 * replace its block at the same height (or shorten the chain), and a module must not keep effects of a
 * block that is gone. A final cursor still below the window needs no check (it would cost a request per
 * step; the catch-up step checks instead that each range starts on the cursor). A `latestOnly` block
 * trigger skips to the target instead of catching up.
 */
export function planStep(tip: bigint, cursor: BlockCursor | undefined, final: boolean, feed: StepFeed): StepPlan {
  const target = tip - BigInt(feed.interest.confirmations);
  if (!cursor) return { kind: 'start', origin: (feed.startBlock ?? (target < 0n ? 0n : target)) - 1n };
  const finalBelow = tip - BigInt(feed.reorgWindow);
  const verify = !(final && cursor.number <= finalBelow);
  if (cursor.number >= target) return { kind: 'waiting', target, verify };
  let from = cursor.number + 1n;
  if (feed.interest.blocks?.latestOnly && from < target) from = target;
  if (from <= finalBelow) return { kind: 'catch-up', from, to: target < finalBelow ? target : finalBelow, target, verify };
  return { kind: 'live', number: from, target, verify };
}
