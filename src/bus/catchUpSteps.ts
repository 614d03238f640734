import type { BlockCursor } from '../chain/types.ts';
import { blockEvent, logEvent, type GuestEvent } from './guestEvents.ts';
import type { RangeBlock } from './rangeBlocks.ts';

/**
 * A catch-up range's blocks as steps of up to `maxEvents` events over as many blocks as fit, each one
 * invocation and one commit with the cursor on its last block, so a long backfill does not pay a worker
 * round trip and a commit per block. A block is never split: one with more events is a step of its own.
 * The last step moves the cursor to the range's `end` (also when no block of it had events).
 * `perBlock`: each block is a step with the cursor on it, and an empty step moves it to `end` (a module
 * that changes its trigger addresses: an address added in a block's step counts from the next block,
 * caught up or live).
 */
export function catchUpSteps(blocks: readonly RangeBlock[], end: BlockCursor, maxEvents: number, perBlock = false): { events: GuestEvent[]; cursor: BlockCursor }[] {
  if (perBlock) {
    const steps = blocks.map(({ number, hash, logs, block }) => ({ events: [...logs.map(logEvent), ...(block ? [blockEvent(block)] : [])], cursor: { number, hash } }));
    if (steps.at(-1)?.cursor.number !== end.number) steps.push({ events: [], cursor: end });
    return steps;
  }
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
