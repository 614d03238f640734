import type { BlockCursor, ChainBlock, ChainLog } from '../chain/types.ts';
import type { FeedDelivery } from './FeedDelivery.ts';
import { blockEvent, logEvent, logToJson } from './guestEvents.ts';
import type { ChainInterest } from './triggers.ts';

/**
 * The step of one block near the head after `cursor`: its logs, then its block event if the module's
 * block trigger wants this number; an undo record of the block (where its step started, and its logs to
 * re-deliver as removed); and the records of blocks (`journal`: their numbers) that fell out of the reorg
 * window with it, which can never be undone now.
 */
export function liveStep(
  block: ChainBlock,
  logs: ChainLog[],
  cursor: BlockCursor,
  blocks: ChainInterest['blocks'],
  reorgWindow: number,
  journal: readonly bigint[],
): FeedDelivery {
  const events = logs.map(logEvent);
  if (blocks && block.number % BigInt(blocks.every) === 0n) events.push(blockEvent(block));
  const oldest = block.number - BigInt(reorgWindow);
  return {
    events,
    cursor: { number: block.number, hash: block.hash },
    ...(block.seenAt === undefined ? {} : { seenAt: block.seenAt }),
    journal: { record: { number: block.number, hash: block.hash, prev: cursor, payload: logs.map(logToJson) }, remove: journal.filter((n) => n <= oldest) },
  };
}
