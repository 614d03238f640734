import { describe, expect, it } from 'vitest';
import { parseBlock, parseLogs } from '../../src/chain/parseRpc.ts';
import { RpcDataError } from '../../src/chain/RpcDataError.ts';

const HASH = `0x${'ab'.repeat(32)}`;
const BLOOM = `0x${'0'.repeat(512)}`;
/** A well-formed header as a node sends it (mixed-case hex, as some nodes do). */
const rawBlock = { number: '0x10', hash: HASH.toUpperCase().replace('0X', '0x'), parentHash: `0x${'cd'.repeat(32)}`, timestamp: '0x5f5e100', logsBloom: BLOOM, transactionsRoot: `0x${'ef'.repeat(32)}`, miner: '0x0' };
const rawLog = (block: number, index: number, fields: Record<string, unknown> = {}) => ({
  address: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
  topics: [`0x${'11'.repeat(32)}`],
  data: '0x',
  blockNumber: `0x${block.toString(16)}`,
  blockHash: HASH,
  transactionHash: `0x${'22'.repeat(32)}`,
  logIndex: `0x${index.toString(16)}`,
  removed: false,
  ...fields,
});

const failure = (parse: () => unknown) => {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(RpcDataError);
    const { code, details } = error as RpcDataError;
    return { code, field: details.field };
  }
  return 'parsed';
};

describe('parseBlock', () => {
  it('default: numbers as bigint, hashes lower-case, other fields left out', () => {
    expect(parseBlock(rawBlock, 1n, 'eth_getBlockByNumber')).toEqual({ chainId: 1n, number: 16n, hash: HASH, parentHash: rawBlock.parentHash, timestamp: 100_000_000n, logsBloom: BLOOM, transactionsRoot: rawBlock.transactionsRoot });
  });

  it.each<[string, unknown, string]>([
    ['error: not an object', null, 'block.(root)'],
    ['error: a missing number', { ...rawBlock, number: undefined }, 'block.number'],
    ['error: a quantity with a leading zero', { ...rawBlock, number: '0x010' }, 'block.number'],
    ['error: a number as a JSON number', { ...rawBlock, timestamp: 16 }, 'block.timestamp'],
    ['error: a short hash', { ...rawBlock, parentHash: '0xabcd' }, 'block.parentHash'],
    ['error: a bloom of the wrong size', { ...rawBlock, logsBloom: '0x00' }, 'block.logsBloom'],
  ])('%s', (_, raw, field) => {
    expect(failure(() => parseBlock(raw, 1n, 'eth_getBlockByNumber'))).toEqual({ code: 'malformed', field });
  });
});

describe('parseLogs', () => {
  const range = { fromBlock: 10n, toBlock: 20n };
  it('default: addresses and topics lower-case, numbers as bigint, never removed', () => {
    const [log] = parseLogs([rawLog(16, 2)], 1n, { blockHash: HASH });
    expect(log).toEqual({ chainId: 1n, address: '0x5fbdb2315678afecb367f032d93f642f64180aa3', topics: [`0x${'11'.repeat(32)}`], data: '0x', blockNumber: 16n, blockHash: HASH, transactionHash: `0x${'22'.repeat(32)}`, logIndex: 2, removed: false });
  });

  it('default: fields repeated from the previous log keep their parsed values (block number, hash, address, first topic)', () => {
    const logs = parseLogs([rawLog(10, 0), rawLog(10, 1), rawLog(11, 0, { blockHash: `0x${'CD'.repeat(32)}`, topics: [`0x${'33'.repeat(32)}`, `0x${'44'.repeat(32)}`] })], 1n, range);
    expect(logs.map((l) => [l.blockNumber, l.blockHash, l.address, l.topics])).toEqual([
      [10n, HASH, '0x5fbdb2315678afecb367f032d93f642f64180aa3', [`0x${'11'.repeat(32)}`]],
      [10n, HASH, '0x5fbdb2315678afecb367f032d93f642f64180aa3', [`0x${'11'.repeat(32)}`]],
      [11n, `0x${'cd'.repeat(32)}`, '0x5fbdb2315678afecb367f032d93f642f64180aa3', [`0x${'33'.repeat(32)}`, `0x${'44'.repeat(32)}`]],
    ]);
  });

  // Each row: the node's answer, what was asked (a block hash or a range), and the error's code and field.
  it.each<[string, unknown, { blockHash: string } | { fromBlock: bigint; toBlock: bigint }, { code: string; field: string } | 'parsed']>([
    ['default: logs ascending by block and index', [rawLog(10, 0), rawLog(10, 1), rawLog(12, 0)], range, 'parsed'],
    ['error: not an array', {}, range, { code: 'malformed', field: 'logs.(root)' }],
    ['error: five topics', [rawLog(10, 0, { topics: Array(5).fill(`0x${'11'.repeat(32)}`) })], range, { code: 'malformed', field: 'logs[0].topics' }],
    ['error: a short topic, named by its position', [rawLog(10, 0), rawLog(10, 1, { topics: [`0x${'11'.repeat(32)}`, '0x11'] })], range, { code: 'malformed', field: 'logs[1].topics[1]' }],
    ['error: removed that is not a boolean', [rawLog(10, 0, { removed: 'no' })], range, { code: 'malformed', field: 'logs[0].removed' }],
    ['error: odd-length data', [rawLog(10, 0, { data: '0x123' })], range, { code: 'malformed', field: 'logs[0].data' }],
    ['error: a log of another block than the hash asked for', [rawLog(10, 0, { blockHash: `0x${'99'.repeat(32)}` })], { blockHash: HASH }, { code: 'inconsistent', field: 'logs[0].blockHash' }],
    ['error: a log outside the range asked for', [rawLog(21, 0)], range, { code: 'inconsistent', field: 'logs[0].blockNumber' }],
    ['error: logs out of order', [rawLog(12, 0), rawLog(10, 0)], range, { code: 'inconsistent', field: 'logs[1].logIndex' }],
    ['error: a log index repeated in one block', [rawLog(10, 3), rawLog(10, 3)], range, { code: 'inconsistent', field: 'logs[1].logIndex' }],
    // A field equal to the previous log's is taken as checked; one that differs from it is checked again.
    ['error: a malformed block hash after a log with a valid one', [rawLog(10, 0), rawLog(11, 0, { blockHash: '0x99' })], range, { code: 'malformed', field: 'logs[1].blockHash' }],
    ['error: a malformed address after a log with a valid one', [rawLog(10, 0), rawLog(10, 1, { address: '0x5FbDB2315678afecb367f032d93F642f64180aa' })], range, { code: 'malformed', field: 'logs[1].address' }],
    ['error: a malformed first topic after a log with a valid one', [rawLog(10, 0), rawLog(10, 1, { topics: ['0x11'] })], range, { code: 'malformed', field: 'logs[1].topics[0]' }],
    ['error: a block number with a leading zero after a valid one', [rawLog(10, 0), rawLog(10, 1, { blockNumber: '0x0a' })], range, { code: 'malformed', field: 'logs[1].blockNumber' }],
  ])('%s', (_, raw, asked, expected) => {
    expect(failure(() => parseLogs(raw, 1n, asked))).toEqual(expected);
  });
});
