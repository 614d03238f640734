import { describe, expect, it } from 'vitest';
import { cursorFromJson, cursorToJson } from '../../src/bus/cursorJson.ts';
import type { BlockCursor } from '../../src/chain/types.ts';
import { position } from './journal.ts';

// Cursors are stored as JSON: what comes back must be what went in.
describe('cursorJson', () => {
  it.each<[string, BlockCursor, unknown]>([
    ['default: number as a decimal string', position('a12'), { number: '12', hash: '0xa12' }],
    ['behavior: an origin says so', position('o9'), { number: '9', hash: '0xa9', origin: true }],
    ['behavior: the origin before block 0', { number: -1n, hash: '', origin: true }, { number: '-1', hash: '', origin: true }],
    ['behavior: a number past 2^53 keeps every digit', { number: 2n ** 64n + 1n, hash: '0xff' }, { number: '18446744073709551617', hash: '0xff' }],
  ])('%s', (_, cursor, json) => {
    expect(cursorToJson(cursor)).toEqual(json);
    expect(cursorFromJson(JSON.parse(JSON.stringify(cursorToJson(cursor))))).toEqual(cursor);
  });
});
