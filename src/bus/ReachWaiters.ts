import type { BlockCursor } from '../chain/types.ts';

interface ReachWaiter {
  number: bigint;
  hash?: string | undefined;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Callers waiting for a module's cursor on one chain to reach a block (`engine.reached`): each settles
 * once the cursor has passed the block, or stands on it (with the hash, if given: after a reorg at the
 * same height, the new block, not the old one). ModuleFeed tells every cursor it commits or loads.
 */
export class ReachWaiters {
  private readonly waiters: ReachWaiter[] = [];

  /** Resolves once the cursor, `cursor` now, reaches block `number` (at once if it has). */
  wait(cursor: BlockCursor | undefined, number: bigint, hash?: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter = { number, hash, resolve, reject };
      if (!settles(cursor, waiter)) this.waiters.push(waiter);
    });
  }

  /** The cursor is now `cursor`: the waiters it reaches resolve. */
  moved(cursor: BlockCursor | undefined): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) if (settles(cursor, this.waiters[i]!)) this.waiters.splice(i, 1);
  }

  /** No cursor will move any more: every waiter rejects with `error`. */
  reject(error: () => Error): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(error());
  }
}

function settles(cursor: BlockCursor | undefined, waiter: ReachWaiter): boolean {
  if (!cursor || cursor.number < waiter.number) return false;
  if (cursor.number === waiter.number && waiter.hash !== undefined && cursor.hash !== waiter.hash) return false;
  waiter.resolve();
  return true;
}
