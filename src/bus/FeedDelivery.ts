import type { BlockCursor } from '../chain/types.ts';
import type { JournalEntry } from '../store/EngineStore.ts';
import type { UndoPlan } from '../store/planUndo.ts';
import type { FeedWrite } from './factoryChildren.ts';
import type { GuestEvent } from './guestEvents.ts';

/** One step of a module's cursor on a chain: the events to hand the guest, and what commits with them. */
export interface FeedDelivery {
  events: GuestEvent[];
  /** The cursor after this step, committed with the guest's writes. */
  cursor: BlockCursor;
  /** Journal changes: a record to undo this block later (blocks inside the reorg window), entries to drop. */
  journal?: { record?: Omit<JournalEntry, 'undo'>; remove?: bigint[] };
  /**
   * The undo of a block a reorg abandoned: its record, and the plan the feed made for this try (which
   * keys to restore, which keep a later write). The invocation plans again when the step's turn comes
   * and refuses the step as stale if that plan differs: the feed then plans and tries again.
   */
  undo?: { entry: JournalEntry; plan?: UndoPlan };
  /**
   * corral's own records that commit with the step's events (reserved keys): the factory children the
   * step's blocks created. Inside the reorg window the block's undo record takes them back with the rest.
   */
  writes?: FeedWrite[];
  /** When the block of a live step reached the engine (see ChainBlock.seenAt). */
  seenAt?: number;
}
