import { describe, expect, it } from 'vitest';
import { isChained } from '../../src/chain/isChained.ts';
import { header, headers } from './headers.ts';

describe('isChained', () => {
  it.each([
    ['default: blocks each on the one before', headers('a10-a14'), true],
    ['default: one block', headers('a10'), true],
    ['behavior: a reorg between two fetches by number breaks the chain', [...headers('a10-a11'), header('b12', 'b11')], false],
    ['behavior: blocks on another branch from their first on are chained', [header('a10'), ...headers('b11-b12/a10')], true],
  ])('%s', (_, blocks, expected) => {
    expect(isChained(blocks)).toBe(expected);
  });
});
