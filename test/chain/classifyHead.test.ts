import { describe, expect, it } from 'vitest';
import { classifyHead, type HeadAction } from '../../src/chain/classifyHead.ts';
import { header, headers } from './headers.ts';

describe('classifyHead', () => {
  it.each<[string, string, string, boolean, number, HeadAction]>([
    ['default: the first head starts the window', '', 'a5', false, 64, { kind: 'first' }],
    ['default: the next block extends the tip with nothing between', 'a10-a20', 'a21', false, 64, { kind: 'extend', between: [] }],
    ['behavior: a head past the tip fetches the blocks between by number', 'a10-a20', 'a25', false, 64, { kind: 'extend', between: [21n, 22n, 23n, 24n] }],
    ['behavior: after a gap longer than the window only a window\'s worth is fetched (modules backfill by range)', 'a10-a20', 'a100', false, 4, { kind: 'extend', between: [97n, 98n, 99n] }],
    ['behavior: the tip again is known', 'a10-a20', 'a20', false, 64, { kind: 'known' }],
    ['behavior: a block held below the tip is known (a repeat from a slower source)', 'a10-a20', 'a15', false, 64, { kind: 'known' }],
    ['behavior: a stale head (another block below the tip) is not followed until the node\'s latest confirms it', 'a10-a20', 'b15', false, 64, { kind: 'stale' }],
    ['behavior: another block at the tip\'s height is stale too', 'a10-a20', 'b20', false, 64, { kind: 'stale' }],
    ['behavior: a head below the window is stale', 'a10-a20', 'b9', false, 64, { kind: 'stale' }],
    ['behavior: a head the node\'s latest confirmed is linked (a reorg to a shorter chain)', 'a10-a20', 'b15', true, 64, { kind: 'extend', between: [] }],
  ])('%s', (_, window, head, confirmed, windowBlocks, expected) => {
    expect(classifyHead(headers(window), header(head), confirmed, windowBlocks)).toEqual(expected);
  });
});
