import { encodeEventTopics, parseAbi, type Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bloomMayMatch } from '../../src/chain/logsBloom.ts';
import { EMPTY_TRIE_ROOT, mayHoldLogs } from '../../src/chain/mayHoldLogs.ts';
import { parseBlock } from '../../src/chain/parseRpc.ts';
import type { ChainBlock, LogFilter } from '../../src/chain/types.ts';
import { startAnvil, type Anvil } from '../anvil.ts';
import { deployEmitter } from '../emitter.ts';

// The Emitter's events (fixtures/contracts/Emitter.sol); their topics are viem's encoding, not corral's.
const abi = parseAbi(['event Ping(uint256 indexed tag, uint256 seq)', 'event Pong(address indexed from, uint256 seq)']);
// One value per argument given: each topic is a single value (no alternatives).
const ping = (tag?: bigint) => encodeEventTopics({ abi, eventName: 'Ping', ...(tag === undefined ? {} : { args: { tag } }) }) as Hex[];
const pong = (from?: Hex) => encodeEventTopics({ abi, eventName: 'Pong', ...(from === undefined ? {} : { args: { from } }) }) as Hex[];
/** anvil's first default account, the sender of every transaction here. */
const SENDER = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266';
const OTHER = '0x000000000000000000000000000000000000dead';

let anvil: Anvil;
let emitter: Hex;
/** Real blocks: two Pings tagged 1 and a Pong; one Ping tagged 2; no transaction at all. */
const blocks: Record<'pings' | 'ping' | 'empty', ChainBlock> = {} as never;

const blockAt = async (number: bigint | 'latest') => parseBlock(await anvil.rpc('eth_getBlockByNumber', [typeof number === 'bigint' ? `0x${number.toString(16)}` : number, false]), 31337n, 'eth_getBlockByNumber');

beforeAll(async () => {
  anvil = await startAnvil();
  const deployed = await deployEmitter(anvil);
  emitter = deployed.address;
  blocks.pings = await blockAt(await deployed.emit(1, 2));
  blocks.ping = await blockAt(await deployed.emit(2, 1));
  await anvil.rpc('evm_mine');
  blocks.empty = await blockAt('latest');
});

afterAll(() => anvil?.stop());

/** What the node answers for `filter` in `block`: the truth a bloom may over-approximate but never miss. */
const nodeLogs = (block: ChainBlock, filter: LogFilter) => anvil.rpc<unknown[]>('eth_getLogs', [{ blockHash: block.hash, topics: filter.topics, ...(filter.address.length > 0 ? { address: filter.address } : {}) }]);

describe('bloomMayMatch', () => {
  // Each row: the block, the filter (built when the emitter is deployed), whether its bloom may match.
  it.each<[string, keyof typeof blocks, () => LogFilter, boolean]>([
    ['default: the emitter\'s address is in the bloom of its block', 'pings', () => ({ address: [emitter], topics: [] }), true],
    ['args: topic0 of Ping', 'pings', () => ({ address: [], topics: [ping()[0]!] }), true],
    ['args: Ping tagged 1 from the emitter', 'pings', () => ({ address: [emitter], topics: ping(1n) }), true],
    ['args: Pong from the sender (an address as an indexed topic)', 'pings', () => ({ address: [], topics: pong(SENDER) }), true],
    ['args: alternatives: one of them present is enough', 'pings', () => ({ address: [OTHER, emitter], topics: [ping()[0]!, [ping(7n)[1]!, ping(1n)[1]!]] }), true],
    ['args: null: any topic at that position', 'pings', () => ({ address: [], topics: [null, ping(1n)[1]!] }), true],
    ['behavior: no filter at all: any block with logs may match', 'pings', () => ({ address: [], topics: [] }), true],
    ['behavior: a Ping tag the block does not hold is a miss', 'pings', () => ({ address: [emitter], topics: ping(2n) }), false],
    ['behavior: another address is a miss', 'pings', () => ({ address: [OTHER], topics: [] }), false],
    ['behavior: alternatives none of which is present are a miss', 'pings', () => ({ address: [], topics: [[ping(7n)[1]!, ping(8n)[1]!]] }), false],
    ['behavior: the Pong the block without one lacks is a miss', 'ping', () => ({ address: [emitter], topics: [pong()[0]!] }), false],
    ['behavior: the tag the other block holds is a hit there', 'ping', () => ({ address: [emitter], topics: ping(2n) }), true],
    ['behavior: an empty block\'s bloom holds nothing', 'empty', () => ({ address: [emitter], topics: [] }), false],
  ])('%s', async (_, name, filterOf, expected) => {
    const block = blocks[name];
    const filter = filterOf();
    expect(bloomMayMatch(block.logsBloom, filter)).toBe(expected);
    // A bloom has no false negatives: what the node finds, the bloom lets through.
    if ((await nodeLogs(block, filter)).length > 0) expect(expected).toBe(true);
  });
});

describe('bloomMayMatch on a known bloom', () => {
  // The logsBloom of one log of 0x095e7bae… with a zero topic, as Ethereum's state tests (and other
  // clients' tests) give it: computed elsewhere, not by corral.
  const known = `0x${'00000000000000001000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000020000000000000000000800000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000004000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000020000000000040000000000000000000000000000000000000000000000000000000'}`;
  it.each<[string, LogFilter, boolean]>([
    ['default: the log\'s address', { address: ['0x095e7baea6a6c7c4c2dfeb977efac326af552d87'], topics: [] }, true],
    ['default: the log\'s topic (32 zero bytes)', { address: [], topics: [`0x${'00'.repeat(32)}`] }, true],
    ['behavior: address and topic together', { address: ['0x095e7baea6a6c7c4c2dfeb977efac326af552d87'], topics: [`0x${'00'.repeat(32)}`] }, true],
    ['behavior: 20 zero bytes are another value than the 32-byte zero topic', { address: [`0x${'00'.repeat(20)}`], topics: [] }, false],
    ['behavior: another address', { address: ['0x000000000000000000000000000000000000dead'], topics: [] }, false],
    ['behavior: the right address with a topic the log does not have', { address: ['0x095e7baea6a6c7c4c2dfeb977efac326af552d87'], topics: [`0x${'11'.repeat(32)}`] }, false],
  ])('%s', (_, filter, expected) => {
    expect(bloomMayMatch(known, filter)).toBe(expected);
  });
});

describe('mayHoldLogs', () => {
  it('default: the empty trie root corral knows is the transactionsRoot of a real block without transactions', () => {
    expect(blocks.empty.transactionsRoot).toBe(EMPTY_TRIE_ROOT);
    expect(blocks.pings.transactionsRoot).not.toBe(EMPTY_TRIE_ROOT);
  });

  it.each<[string, keyof typeof blocks, () => LogFilter, boolean]>([
    ['default: a block with matching logs may hold them', 'pings', () => ({ address: [emitter], topics: [] }), true],
    ['behavior: a block without transactions holds no logs, whatever the filter', 'empty', () => ({ address: [], topics: [] }), false],
    ['behavior: a block whose bloom rules the filter out is skipped', 'ping', () => ({ address: [emitter], topics: [pong()[0]!] }), false],
  ])('%s', (_, name, filterOf, expected) => {
    expect(mayHoldLogs(blocks[name], filterOf())).toBe(expected);
  });
});
