import { describe, expect, it } from 'vitest';
import { continuesCursor } from '../../src/bus/continuesCursor.ts';
import type { BlockCursor } from '../../src/chain/types.ts';
import { position } from './journal.ts';

const beforeZero: BlockCursor = { number: -1n, hash: '', origin: true };

describe('continuesCursor', () => {
  it.each<[string, BlockCursor, number, string | undefined, boolean]>([
    ['default: the next block on the cursor\'s block continues it', position('a10'), 11, '0xa10', true],
    ['error: the next block on another parent does not (the chain moved between two answers, or below the window)', position('a10'), 11, '0xb10', false],
    ['behavior: block 0 after a cursor before it has no parent to compare', beforeZero, 0, undefined, true],
    ['behavior: a block further on (a skip) is not compared', position('a10'), 15, '0xb14', true],
    ['behavior: a parent not known is not compared', position('a10'), 11, undefined, true],
  ])('%s', (_, cursor, number, parentHash, expected) => {
    expect(continuesCursor(cursor, BigInt(number), parentHash)).toBe(expected);
  });
});
