/** A block header as corral uses it: validated, numbers as bigint, hashes as lower-case hex. */
export interface ChainBlock {
  chainId: bigint;
  number: bigint;
  hash: string;
  parentHash: string;
  timestamp: bigint;
  /** The header's 2048-bit bloom of log addresses and topics (hex); lets a block be skipped without `eth_getLogs`. */
  logsBloom: string;
  transactionsRoot: string;
  /** When the header reached the engine (epoch ms, sub-millisecond): the start of block-to-handler latency. */
  seenAt?: number;
}

/** A log as delivered to modules. `removed` is true when a reorg retracted a log delivered before. */
export interface ChainLog {
  chainId: bigint;
  address: string;
  topics: string[];
  data: string;
  blockNumber: bigint;
  blockHash: string;
  transactionHash: string;
  logIndex: number;
  removed: boolean;
}

/**
 * The `eth_getLogs` filter shape of a `log` trigger: any of `address` (empty: any contract), and per
 * topic position null (any), one topic, or a list of alternatives. Addresses and topics lower-case.
 */
export interface LogFilter {
  address: string[];
  topics: (string | string[] | null)[];
}

/** The last block a module fully handled on a chain. Number -1 means "before block 0". */
export interface BlockCursor {
  number: bigint;
  hash: string;
  /**
   * Where a new module started (the block before its first): nothing was applied at or below it, so
   * if a reorg replaces this block the cursor simply moves to the new one, where otherwise the module
   * would have to halt for want of an undo record.
   */
  origin?: boolean;
}
