import { createPublicClient, http, parseAbi, type Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainInterests, filterOf, type ChainInterest, type LogTrigger } from '../../src/bus/triggers.ts';
import { TriggerSchema, type Trigger } from '../../src/config/TriggerSchema.ts';
import { ChainClient } from '../../src/chain/ChainClient.ts';
import { RpcAccounting } from '../../src/chain/RpcStats.ts';
import { startAnvil, type Anvil } from '../anvil.ts';
import { deployEmitter, PING, PONG, tagTopic } from '../emitter.ts';

const A = '0x00000000000000000000000000000000000000aa';
const B = '0x00000000000000000000000000000000000000bb';
const T1 = `0x${'1'.repeat(64)}`;
const T2 = `0x${'2'.repeat(64)}`;
const log = (fields: Record<string, unknown>) => TriggerSchema.parse({ kind: 'log', chain: 1, ...fields }) as LogTrigger;
const triggers = (...list: Record<string, unknown>[]) => list.map((t) => TriggerSchema.parse(t));

describe('filterOf', () => {
  // Each row: a log trigger as a manifest declares it, and the eth_getLogs filter corral asks for.
  it.each<[string, Record<string, unknown>, { address: string[]; topics: unknown[] }]>([
    ['default: no address and no topics: any log of the chain', {}, { address: [], topics: [] }],
    ['args: one address becomes a list of one, lower-case', { address: A.toUpperCase().replace('0X', '0x') }, { address: [A], topics: [] }],
    ['args: a list of addresses is sorted', { address: [B, A] }, { address: [A, B], topics: [] }],
    ['args: topic alternatives are sorted', { topics: [[T2, T1]] }, { address: [], topics: [[T1, T2]] }],
    ['behavior: trailing nulls ask nothing, and are dropped', { topics: [T1, null, null] }, { address: [], topics: [T1] }],
    ['behavior: a null before a topic stays (any topic at that position)', { topics: [null, T2] }, { address: [], topics: [null, T2] }],
  ])('%s', (_, fields, expected) => {
    expect(filterOf(log(fields)).filter).toEqual(expected);
  });

  it.each([
    ['behavior: triggers differing in address order and case share one filter key (one fetch)', { address: [A, B] }, { address: [B.toUpperCase().replace('0X', '0x'), A] }, true],
    ['behavior: triggers differing only in trailing nulls share one key', { topics: [T1] }, { topics: [T1, null] }, true],
    ['behavior: triggers with different topics have different keys', { topics: [T1] }, { topics: [T2] }, false],
    ['behavior: a topic and the same topic among alternatives are different filters', { topics: [T1] }, { topics: [[T1, T2]] }, false],
  ])('%s', (_, a, b, same) => {
    expect(filterOf(log(a)).key === filterOf(log(b)).key).toBe(same);
  });
});

describe('chainInterests', () => {
  const chainConfirmations = (chain: number) => (chain === 5 ? 12 : 0);
  // Each row: a module's triggers; then its interests per chain (chain, confirmations, block trigger, filters), or that they conflict.
  it.each<[string, Trigger[], { chain: bigint; confirmations: number; blocks?: { every: number; latestOnly: boolean }; filters: number }[] | 'conflict']>([
    ['default: one log trigger', triggers({ kind: 'log', chain: 1, address: A }), [{ chain: 1n, confirmations: 0, filters: 1 }]],
    ['behavior: a trigger without confirmations takes its chain\'s', triggers({ kind: 'log', chain: 5, address: A }), [{ chain: 5n, confirmations: 12, filters: 1 }]],
    ['behavior: a block and a log trigger of one chain share one interest', triggers({ kind: 'block', chain: 1, every: 10 }, { kind: 'log', chain: 1, address: A }), [{ chain: 1n, confirmations: 0, blocks: { every: 10, latestOnly: false }, filters: 1 }]],
    ['behavior: two log triggers with one filter are fetched once', triggers({ kind: 'log', chain: 1, address: [A, B] }, { kind: 'log', chain: 1, address: [B, A] }), [{ chain: 1n, confirmations: 0, filters: 1 }]],
    ['behavior: triggers of two chains are two interests; custom and cron triggers none', triggers({ kind: 'log', chain: 1 }, { kind: 'block', chain: 5 }, { kind: 'custom', topic: 't' }, { kind: 'cron', schedule: '* * * * *' }), [
      { chain: 1n, confirmations: 0, filters: 1 },
      { chain: 5n, confirmations: 12, blocks: { every: 1, latestOnly: false }, filters: 0 },
    ]],
    ['error: triggers of one chain asking for different confirmations conflict', triggers({ kind: 'log', chain: 1, confirmations: 2 }, { kind: 'block', chain: 1 }), 'conflict'],
    ['error: two block triggers on one chain conflict', triggers({ kind: 'block', chain: 1 }, { kind: 'block', chain: 1, every: 2 }), 'conflict'],
    ['error: a latestOnly block trigger cannot share a chain with log triggers', triggers({ kind: 'block', chain: 1, latestOnly: true }, { kind: 'log', chain: 1 }), 'conflict'],
  ])('%s', (_, list, expected) => {
    const result = chainInterests(list, chainConfirmations);
    if (expected === 'conflict') return expect(typeof result).toBe('string');
    expect(typeof result).not.toBe('string');
    expect((result as ChainInterest[]).map((i) => ({ chain: i.chainId, confirmations: i.confirmations, ...(i.blocks ? { blocks: i.blocks } : {}), filters: i.filters.length }))).toEqual(expected);
  });
});

describe('filterOf against a node', () => {
  // The logs a trigger's filter gets from a real node, compared with what viem's getLogs finds for the
  // same event and arguments (viem encodes the topics itself).
  const abi = parseAbi(['event Ping(uint256 indexed tag, uint256 seq)', 'event Pong(address indexed from, uint256 seq)']);
  const SENDER = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266';
  let anvil: Anvil;
  let emitter: Hex;
  let from: bigint;
  let to: bigint;

  beforeAll(async () => {
    anvil = await startAnvil();
    const deployed = await deployEmitter(anvil);
    emitter = deployed.address;
    from = await deployed.emit(1, 3);
    await deployed.emit(2, 2);
    to = await deployed.emit(3, 1);
  });
  afterAll(() => anvil?.stop());

  it.each<[string, (emitter: Hex) => Record<string, unknown>, (emitter: Hex) => Parameters<ReturnType<typeof createPublicClient>['getLogs']>[0]]>([
    ['default: every log of the emitter', (e) => ({ address: e.toUpperCase().replace('0X', '0x') }), (e) => ({ address: e })],
    ['args: Pings tagged 2', (e) => ({ address: e, topics: [PING, tagTopic(2)] }), (e) => ({ address: e, event: abi[0], args: { tag: 2n } })],
    ['args: Pings tagged 3 or 1 (alternatives)', (e) => ({ address: [e], topics: [PING, [tagTopic(3), tagTopic(1)]] }), (e) => ({ address: e, event: abi[0], args: { tag: [1n, 3n] } })],
    ['args: Pongs from the sender', (e) => ({ address: e, topics: [PONG, `0x${SENDER.slice(2).padStart(64, '0')}`] }), (e) => ({ address: e, event: abi[1], args: { from: SENDER } })],
  ])('%s', async (_, trigger, viemFilter) => {
    const client = new ChainClient({ chainId: 31337n, rpcUrl: anvil.url, accounting: new RpcAccounting() });
    const viem = createPublicClient({ transport: http(anvil.url) });
    const ours = await client.logs(filterOf(TriggerSchema.parse({ kind: 'log', chain: 31337, ...trigger(emitter) }) as LogTrigger).filter, { fromBlock: from, toBlock: to }, 'backfill');
    const theirs = await viem.getLogs({ ...viemFilter(emitter), fromBlock: from, toBlock: to } as never);
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.map((l) => `${l.blockNumber}/${l.logIndex}`)).toEqual(theirs.map((l) => `${l.blockNumber}/${l.logIndex}`));
  });
});
