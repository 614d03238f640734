import { bloomMayMatch } from './logsBloom.ts';
import type { ChainBlock, LogFilter } from './types.ts';

/** Keccak-256 of the empty trie: the transactionsRoot of a block without transactions. */
export const EMPTY_TRIE_ROOT = '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421';

/**
 * Whether `block` may hold logs matching `filter`: a block without transactions holds no logs at all,
 * and its bloom rules out the rest that cannot match. `false` lets the block's `eth_getLogs` be skipped.
 */
export function mayHoldLogs(block: Pick<ChainBlock, 'transactionsRoot' | 'logsBloom'>, filter: LogFilter): boolean {
  return block.transactionsRoot !== EMPTY_TRIE_ROOT && bloomMayMatch(block.logsBloom, filter);
}
