import type { BlockCursor } from '../chain/types.ts';
import type { JournalEntry } from '../store/EngineStore.ts';
import type { FeedDelivery } from './FeedDelivery.ts';
import { logEvent, logFromJson, type logToJson } from './guestEvents.ts';

/**
 * The steps that undo `blocks` (newest first, see planRewind), one commit each: the block's logs
 * re-delivered with `removed = true` in reverse order, its record to undo and drop, and the cursor where
 * the block's step started; the last step lands on `anchor` (where an origin moved, the new block).
 */
export function undoSteps(blocks: readonly JournalEntry[], anchor: BlockCursor): FeedDelivery[] {
  return blocks.map((entry, i) => {
    const removed = (entry.payload as ReturnType<typeof logToJson>[]).map(logFromJson).reverse();
    return {
      events: removed.map((log) => logEvent({ ...log, removed: true })),
      cursor: i === blocks.length - 1 ? anchor : entry.prev,
      undo: { entry },
      journal: { remove: [entry.number] },
    };
  });
}
