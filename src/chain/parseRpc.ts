import type { ChainBlock, ChainLog } from './types.ts';
import { RpcDataError } from './RpcDataError.ts';

/**
 * Validation of what an RPC node returns, field by field, before anything reaches the bus: a
 * malformed answer becomes an RpcDataError naming the chain, the method and the field. Hand-written
 * rather than a zod schema: a block of 1,000 logs is parsed on the hot path of every fan-out.
 */
const HASH = /^0x[0-9a-fA-F]{64}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const QUANTITY = /^0x(0|[1-9a-fA-F][0-9a-fA-F]*)$/;
const DATA = /^0x([0-9a-fA-F]{2})*$/;
const BLOOM = /^0x[0-9a-fA-F]{512}$/;

class Reader {
  /** Set per item of a list (one reader serves them all; the path is only built on failure). */
  index: number | undefined;

  constructor(
    private readonly chainId: bigint,
    private readonly method: string,
    private readonly path: string,
  ) {}

  fail(field: string, value: unknown, expected: string, code: 'malformed' | 'inconsistent' = 'malformed'): never {
    const shown = value === undefined ? 'undefined' : JSON.stringify(value) ?? String(value);
    throw new RpcDataError(code, {
      chainId: String(this.chainId),
      method: this.method,
      field: `${this.path}${this.index === undefined ? '' : `[${this.index}]`}.${field}`,
      value: shown.length > 80 ? `${shown.slice(0, 77)}...` : shown,
      expected,
    });
  }

  object(value: unknown): Record<string, unknown> {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail('(root)', value, 'an object');
    return value as Record<string, unknown>;
  }

  match(raw: Record<string, unknown>, field: string, pattern: RegExp, expected: string): string {
    const value = raw[field];
    if (typeof value !== 'string' || !pattern.test(value)) this.fail(field, value, expected);
    return value.toLowerCase();
  }

  quantity(raw: Record<string, unknown>, field: string): bigint {
    return BigInt(this.match(raw, field, QUANTITY, 'a hex quantity'));
  }

  /**
   * Like `match`, for a field that mostly repeats the previous item's (a log's block hash, block
   * number, address, event topic): the same text as last time is the same checked value, and costs
   * one string comparison instead of a pattern test, a lower-casing and (numbers) a BigInt.
   */
  repeated<T>(raw: Record<string, unknown>, field: string, last: { text?: unknown; value?: T }, check: (raw: Record<string, unknown>, field: string) => T): T {
    const text = raw[field];
    if (typeof text === 'string' && text === last.text) return last.value!;
    const value = check(raw, field);
    last.text = text;
    last.value = value;
    return value;
  }
}

/** A block header from `eth_getBlockByNumber`/`ByHash` or a `newHeads` notification. */
export function parseBlock(value: unknown, chainId: bigint, method: string): ChainBlock {
  const r = new Reader(chainId, method, 'block');
  const raw = r.object(value);
  return {
    chainId,
    number: r.quantity(raw, 'number'),
    hash: r.match(raw, 'hash', HASH, 'a 32-byte hash'),
    parentHash: r.match(raw, 'parentHash', HASH, 'a 32-byte hash'),
    timestamp: r.quantity(raw, 'timestamp'),
    logsBloom: r.match(raw, 'logsBloom', BLOOM, 'a 256-byte bloom'),
    transactionsRoot: r.match(raw, 'transactionsRoot', HASH, 'a 32-byte hash'),
  };
}

/**
 * The logs of one `eth_getLogs` answer, checked against the block range or hash asked for and for
 * order: (block number, log index) ascending, as the node must return them.
 */
export function parseLogs(value: unknown, chainId: bigint, asked: { fromBlock: bigint; toBlock: bigint } | { blockHash: string }): ChainLog[] {
  const r = new Reader(chainId, 'eth_getLogs', 'logs');
  if (!Array.isArray(value)) return r.fail('(root)', value, 'an array of logs');
  const logs: ChainLog[] = new Array(value.length);
  let previous: ChainLog | undefined;
  // The fields a range's logs share with the log before them (see Reader.repeated).
  const last = { address: {}, topic0: {}, blockNumber: {}, blockHash: {} } as Record<'address' | 'topic0' | 'blockHash', { text?: unknown; value?: string }> & { blockNumber: { text?: unknown; value?: bigint } };
  const address = (raw: Record<string, unknown>, field: string) => r.match(raw, field, ADDRESS, 'a 20-byte address');
  const hash = (raw: Record<string, unknown>, field: string) => r.match(raw, field, HASH, 'a 32-byte hash');
  const quantity = (raw: Record<string, unknown>, field: string) => r.quantity(raw, field);
  for (let i = 0; i < value.length; i++) {
    r.index = i;
    const raw = r.object(value[i]);
    const rawTopics = raw.topics as unknown[];
    if (!Array.isArray(rawTopics) || rawTopics.length > 4) r.fail('topics', rawTopics, 'an array of at most 4 topics');
    const topics: string[] = new Array(rawTopics.length);
    for (let t = 0; t < rawTopics.length; t++) topics[t] = t === 0 ? r.repeated(rawTopics as unknown as Record<string, unknown>, '0', last.topic0, topic) : topic(rawTopics as unknown as Record<string, unknown>, String(t));
    if (raw.removed !== undefined && typeof raw.removed !== 'boolean') r.fail('removed', raw.removed, 'a boolean');
    const log: ChainLog = {
      chainId,
      address: r.repeated(raw, 'address', last.address, address),
      topics,
      data: r.match(raw, 'data', DATA, 'hex data'),
      blockNumber: r.repeated(raw, 'blockNumber', last.blockNumber, quantity),
      blockHash: r.repeated(raw, 'blockHash', last.blockHash, hash),
      transactionHash: r.match(raw, 'transactionHash', HASH, 'a 32-byte hash'),
      logIndex: Number(r.quantity(raw, 'logIndex')),
      removed: false,
    };
    if ('blockHash' in asked) {
      if (log.blockHash !== asked.blockHash.toLowerCase()) r.fail('blockHash', log.blockHash, `the block asked for (${asked.blockHash})`, 'inconsistent');
    } else if (log.blockNumber < asked.fromBlock || log.blockNumber > asked.toBlock) {
      r.fail('blockNumber', `0x${log.blockNumber.toString(16)}`, `a block from ${asked.fromBlock} to ${asked.toBlock}`, 'inconsistent');
    }
    if (previous && (log.blockNumber < previous.blockNumber || (log.blockNumber === previous.blockNumber && log.logIndex <= previous.logIndex))) {
      r.fail('logIndex', `${log.blockNumber}/${log.logIndex}`, `after ${previous.blockNumber}/${previous.logIndex} (ascending order)`, 'inconsistent');
    }
    logs[i] = previous = log;
  }
  return logs;

  function topic(topics: Record<string, unknown>, t: string): string {
    const value = topics[t];
    if (typeof value !== 'string' || !HASH.test(value)) r.fail(`topics[${t}]`, value, 'a 32-byte topic');
    return (value as string).toLowerCase();
  }
}
