import { describe, expect, it } from 'vitest';
import { joinWindow, type Join } from '../../src/chain/joinWindow.ts';
import { replaceWindow } from '../../src/chain/replaceWindow.ts';
import { headers, ids } from './headers.ts';

// The follower holds a10 … a20; each row brings new blocks (oldest first) and says where they join.
const window = headers('a10-a20');

describe('joinWindow', () => {
  it.each<[string, string, Join, number]>([
    ['default: the next block joins at the tip: nothing abandoned', 'a21-a22/a20', { kind: 'joins', keep: 11 }, 0],
    ['behavior: a branch on a17 replaces a18 … a20: a reorg 3 deep', 'b18-b21/a17', { kind: 'joins', keep: 8 }, 3],
    ['behavior: a branch at the tip\'s height replaces the tip: a reorg 1 deep', 'b20-b21/a19', { kind: 'joins', keep: 10 }, 1],
    ['behavior: a branch on the oldest held block replaces all the others', 'b11/a10', { kind: 'joins', keep: 1 }, 10],
    ['behavior: a block whose parent is not the one held below it needs that parent first', 'b21/b20', { kind: 'parent' }, 0],
    ['behavior: a branch below the window is a reorg deeper than it: everything held is replaced', 'b10-b12/x9', { kind: 'replace', reason: 'reorg' }, 11],
    ['behavior: blocks past the tip with a gap (a long outage) replace the window, nothing known abandoned', 'a30-a31/a29', { kind: 'replace', reason: 'gap' }, 0],
  ])('%s', (_, added, expected, depth) => {
    const join = joinWindow(window, headers(added));
    expect(join).toEqual(expected);
    if (join.kind !== 'parent') expect(replaceWindow(window, headers(added), join, 64).abandoned).toHaveLength(depth);
  });
});

describe('replaceWindow', () => {
  it.each<[string, string, string, Exclude<Join, { kind: 'parent' }>, number, string[], string[]]>([
    ['default: the first head starts the window', '', 'a5', { kind: 'joins', keep: 0 }, 64, ['a5'], []],
    ['default: new blocks join the tip', 'a10-a12', 'a13-a14/a12', { kind: 'joins', keep: 3 }, 64, ids(headers('a10-a14')), []],
    ['behavior: a reorg abandons the held blocks from the join on, oldest first', 'a10-a20', 'b18-b21/a17', { kind: 'joins', keep: 8 }, 64, [...ids(headers('a10-a17')), 'b18', 'b19', 'b20', 'b21'], ['a18', 'a19', 'a20']],
    ['behavior: the window keeps its newest windowBlocks', 'a10-a20', 'b18-b21/a17', { kind: 'joins', keep: 8 }, 5, ['a17', 'b18', 'b19', 'b20', 'b21'], ['a18', 'a19', 'a20']],
    ['behavior: a gap replaces the window and abandons nothing', 'a10-a12', 'a30-a31/a29', { kind: 'replace', reason: 'gap' }, 64, ['a30', 'a31'], []],
    ['behavior: a reorg deeper than the window abandons everything held', 'a10-a12', 'b10-b13/x9', { kind: 'replace', reason: 'reorg' }, 64, ['b10', 'b11', 'b12', 'b13'], ['a10', 'a11', 'a12']],
  ])('%s', (_, held, added, join, windowBlocks, expectedWindow, expectedAbandoned) => {
    const before = headers(held);
    const { window: next, abandoned } = replaceWindow(before, headers(added), join, windowBlocks);
    expect(ids(next)).toEqual(expectedWindow);
    expect(ids(abandoned)).toEqual(expectedAbandoned);
    expect(ids(before)).toEqual(ids(headers(held))); // the held window is not changed in place
  });
});
