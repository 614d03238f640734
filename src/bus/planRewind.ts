import type { BlockCursor } from '../chain/types.ts';
import type { JournalEntry } from '../store/EngineStore.ts';

/** How a module's cursor gets back to the canonical chain. `blocks` are the records to undo, newest first. */
export type RewindPlan =
  /** Undo `blocks`; the module then stands on `anchor`, canonical. */
  | { kind: 'undo'; blocks: JournalEntry[]; anchor: BlockCursor }
  /** Undo `blocks`, then the module stands on the block the reorg put at the height of `origin`, its start. */
  | { kind: 'move-origin'; blocks: JournalEntry[]; origin: BlockCursor }
  /** No record leads back from `from`: the reorg is deeper than the module can undo (`blocks` could be). */
  | { kind: 'beyond-window'; blocks: JournalEntry[]; from: BlockCursor };

/**
 * Walks back from `cursor` through `journal` (the module's undo records on the chain, ascending), step by
 * step (each record says where its step started), to the first position still canonical. A position no
 * record leads back from is one the module cannot undo: a gap in the journal (blocks caught up by range,
 * or records pruned past the window) or a reorg deeper than the window; anchoring across it would apply
 * blocks twice. Except a new module's origin, below which nothing was applied: it moves to the new block
 * at its height. `isCanonical` is asked in order, and no further than needed (each may cost a request).
 */
export async function planRewind(journal: readonly JournalEntry[], cursor: BlockCursor, isCanonical: (position: BlockCursor) => Promise<boolean>): Promise<RewindPlan> {
  const blocks: JournalEntry[] = [];
  let position = cursor;
  for (let i = journal.length - 1; !(await isCanonical(position)); i--) {
    const entry = journal[i];
    if (!entry || entry.number !== position.number || entry.hash !== position.hash) {
      return position.origin ? { kind: 'move-origin', blocks, origin: position } : { kind: 'beyond-window', blocks, from: position };
    }
    blocks.push(entry);
    position = entry.prev;
  }
  return { kind: 'undo', blocks, anchor: position };
}
