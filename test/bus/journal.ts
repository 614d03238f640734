import type { BlockCursor, ChainLog } from '../../src/chain/types.ts';
import { logToJson } from '../../src/bus/guestEvents.ts';
import type { JournalEntry } from '../../src/store/EngineStore.ts';

/**
 * Positions and undo records written as the tables write them: `a12` is block 12 of branch `a` (hash
 * `0xa12`), `o9` an origin (a new module's start) at block 9 of branch `a`, and `a12<a11` the record of
 * block a12 whose step started at a11 (`a12<o9`: at the origin; `a15<a12`: a catch-up step before it).
 */
export function position(id: string): BlockCursor {
  const origin = id.startsWith('o');
  const block = origin ? `a${id.slice(1)}` : id;
  return { number: BigInt(block.replace(/^[a-z]+/, '')), hash: `0x${block}`, ...(origin ? { origin: true } : {}) };
}

/** Undo records, ascending; each record's payload is `logs` logs of its block (log index 0, 1, …). */
export function journal(spec: string, logs = 1): JournalEntry[] {
  if (spec === '') return [];
  return spec.split(' ').map((record) => {
    const [block, prev] = record.split('<') as [string, string];
    const at = position(block);
    return { number: at.number, hash: at.hash, prev: position(prev), undo: [], payload: Array.from({ length: logs }, (_, i) => logToJson(log(at, i))) };
  });
}

export function log(block: BlockCursor, logIndex: number): ChainLog {
  return {
    chainId: 1n,
    address: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
    topics: [],
    data: '0x',
    blockNumber: block.number,
    blockHash: block.hash,
    transactionHash: `0x${'1'.repeat(64)}`,
    logIndex,
    removed: false,
  };
}

/**
 * A canonical chain up to `tip` on branch `a`, except that from each height in `branches` on it is the
 * branch named there (`{ 11: 'b' }`: a0 … a10, then b11 …). Above the tip nothing is canonical.
 */
export function canonical(tip: number, branches: Record<number, string> = {}): (at: BlockCursor) => Promise<boolean> {
  return async (at) => {
    if (at.number < 0n) return true;
    if (at.number > BigInt(tip)) return false;
    let branch = 'a';
    for (const [from, name] of Object.entries(branches)) if (at.number >= BigInt(from)) branch = name;
    return at.hash === `0x${branch}${at.number}`;
  };
}
