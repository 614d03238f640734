import { describe, expect, it } from 'vitest';
import { blocksEvery } from '../../src/bus/blocksEvery.ts';
import { nextRange } from '../../src/bus/nextRange.ts';
import { rangeBlocks } from '../../src/bus/rangeBlocks.ts';
import { header } from '../chain/headers.ts';
import { log, position } from './journal.ts';

describe('nextRange', () => {
  it.each<[string, number, number, number, [number, number] | undefined]>([
    ['default: the range after the cursor, maxRange blocks long', 99, 10_000, 2_000, [100, 2_099]],
    ['behavior: the last range ends at the target', 8_099, 9_000, 2_000, [8_100, 9_000]],
    ['behavior: a range of one block', 8_999, 9_000, 1, [9_000, 9_000]],
    ['behavior: a range after block -1 (a module starting at block 0) starts at block 0', -1, 10, 5, [0, 4]],
    ['behavior: nothing after the target', 9_000, 9_000, 2_000, undefined],
  ])('%s', (_, after, to, maxRange, expected) => {
    const range = nextRange(BigInt(after), BigInt(to), maxRange);
    expect(range && [Number(range.from), Number(range.end)]).toEqual(expected);
  });
});

describe('blocksEvery', () => {
  it.each<[string, number, number, number, number[]]>([
    ['default: every 1: every block', 5, 8, 1, [5, 6, 7, 8]],
    ['args: every 4: the numbers divisible by 4', 5, 17, 4, [8, 12, 16]],
    ['behavior: a range starting on a multiple includes it', 8, 12, 4, [8, 12]],
    ['behavior: block 0 is divisible by every `every`', 0, 10, 7, [0, 7]],
    ['behavior: a range without a multiple has none', 9, 11, 12, []],
  ])('%s', (_, from, end, every, expected) => {
    expect(blocksEvery(BigInt(from), BigInt(end), every).map(Number)).toEqual(expected);
  });
});

describe('rangeBlocks', () => {
  it.each<[string, [string, number][], string[], [string, number, boolean][]]>([
    ['default: logs grouped by block, ascending', [['a12', 0], ['a12', 1], ['a15', 0]], [], [['a12', 2, false], ['a15', 1, false]]],
    ['behavior: a block trigger\'s header joins its block\'s logs', [['a12', 0]], ['a12'], [['a12', 1, true]]],
    ['behavior: a header without logs is a block of its own, in order', [['a12', 0], ['a16', 0]], ['a14'], [['a12', 1, false], ['a14', 0, true], ['a16', 1, false]]],
    ['behavior: a range with neither logs nor headers has no blocks', [], [], []],
  ])('%s', (_, logs, headers, expected) => {
    const blocks = rangeBlocks(logs.map(([id, index]) => log(position(id), index)), headers.map((id) => header(id)));
    expect(blocks.map((b) => [b.hash.slice(2), b.logs.length, b.block !== undefined])).toEqual(expected);
  });
});
