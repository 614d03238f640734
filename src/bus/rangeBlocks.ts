import type { ChainBlock, ChainLog } from '../chain/types.ts';

/** A block of a catch-up range with events for the module: its logs, and its header if a block trigger wants it. */
export interface RangeBlock {
  number: bigint;
  hash: string;
  logs: ChainLog[];
  block?: ChainBlock;
}

/** The blocks of a range that carry `logs` (in order) or one of `headers`, ascending; blocks with neither are left out. */
export function rangeBlocks(logs: readonly ChainLog[], headers: readonly ChainBlock[]): RangeBlock[] {
  const byBlock = new Map<bigint, RangeBlock>();
  for (const log of logs) {
    let entry = byBlock.get(log.blockNumber);
    if (!entry) byBlock.set(log.blockNumber, (entry = { number: log.blockNumber, hash: log.blockHash, logs: [] }));
    entry.logs.push(log);
  }
  for (const block of headers) {
    const entry = byBlock.get(block.number);
    if (entry) entry.block = block;
    else byBlock.set(block.number, { number: block.number, hash: block.hash, logs: [], block });
  }
  return [...byBlock.values()].sort((a, b) => (a.number < b.number ? -1 : a.number > b.number ? 1 : 0));
}
