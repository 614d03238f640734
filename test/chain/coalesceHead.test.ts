import { describe, expect, it } from 'vitest';
import { coalesceHead } from '../../src/chain/coalesceHead.ts';
import { header } from './headers.ts';

describe('coalesceHead', () => {
  it.each([
    ['default: nothing waits: the head waits', undefined, 'a5', 'a5'],
    ['default: a newer head replaces the waiting one (linking it fetches what lies between)', 'a5', 'a7', 'a7'],
    ['behavior: a repeat of the waiting head changes nothing', 'a7', 'a7', 'a7'],
    ['behavior: a stale head (below the waiting one) lets the node\'s latest decide', 'a7', 'a5', 'latest'],
    ['behavior: another block at the waiting height (a reorg or a lagging source) lets the node\'s latest decide', 'a7', 'b7', 'latest'],
    ['behavior: once the heads disagreed, the node\'s latest decides whatever comes next', 'latest', 'a9', 'latest'],
  ] as const)('%s', (_, pending, head, expected) => {
    const waiting = pending === undefined || pending === 'latest' ? pending : header(pending);
    const result = coalesceHead(waiting, header(head));
    expect(result === 'latest' ? 'latest' : result.hash.slice(2)).toBe(expected);
  });
});
