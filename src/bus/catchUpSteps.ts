import type { BlockCursor } from '../chain/types.ts';
import { blockEvent, logEvent, type GuestEvent } from './guestEvents.ts';
import type { RangeBlock } from './rangeBlocks.ts';

/**
 * A catch-up range's blocks as steps of up to `maxEvents` events over as many blocks as fit, each one
 * invocation and one commit with the cursor on its last block, so a long backfill does not pay a worker
 * round trip and a commit per block. A block is never split: one with more events is a step of its own.
 * The last step moves the cursor to the range's `end` (also when no block of it had events).
 */
export function catchUpSteps(blocks: readonly RangeBlock[], end: BlockCursor, maxEvents: number): { events: GuestEvent[]; cursor: BlockCursor }[] {
  const steps: { events: GuestEvent[]; cursor: BlockCursor }[] = [];
  let events: GuestEvent[] = [];
  let last: BlockCursor | undefined;
  for (const { number, hash, logs, block } of blocks) {
    const count = logs.length + (block ? 1 : 0);
    if (last && events.length + count > maxEvents) {
      steps.push({ events, cursor: last });
      events = [];
    }
    for (const log of logs) events.push(logEvent(log));
    if (block) events.push(blockEvent(block));
    last = { number, hash };
  }
  steps.push({ events, cursor: end });
  return steps;
}
