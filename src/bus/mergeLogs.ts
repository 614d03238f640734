import type { ChainLog } from '../chain/types.ts';

/**
 * The logs of several filters as one list in (block, log index) order, each log once: a log two of a
 * module's triggers match is one event, not two.
 */
export function mergeLogs(lists: readonly ChainLog[][]): ChainLog[] {
  if (lists.length === 1) return lists[0]!;
  const seen = new Map<string, ChainLog>();
  for (const list of lists) for (const log of list) seen.set(`${log.blockNumber}/${log.logIndex}`, log);
  return [...seen.values()].sort((a, b) => (a.blockNumber !== b.blockNumber ? (a.blockNumber < b.blockNumber ? -1 : 1) : a.logIndex - b.logIndex));
}
