import { describe, expect, it } from 'vitest';
import { planRewind } from '../../src/bus/planRewind.ts';
import type { BlockCursor } from '../../src/chain/types.ts';
import { canonical, journal, position } from './journal.ts';

/** A plan as the tables write it: its kind, the records to undo (newest first), and where the walk ended. */
const summary = (plan: Awaited<ReturnType<typeof planRewind>>) => {
  const at = (p: BlockCursor) => `${p.origin ? 'o' : ''}${p.hash.slice(2 + (p.origin ? 1 : 0))}`;
  const end = plan.kind === 'undo' ? plan.anchor : plan.kind === 'move-origin' ? plan.origin : plan.from;
  return { kind: plan.kind, undo: plan.blocks.map((b) => b.hash.slice(2)), end: at(end) };
};

describe('planRewind', () => {
  // Each row: the module's journal (ascending), its cursor, the canonical chain (its tip, and the heights
  // from which another branch is canonical), then the plan.
  it.each<[string, string, string, number, Record<number, string>, { kind: string; undo: string[]; end: string }]>([
    ['default: a canonical cursor has nothing to undo', 'a11<a10 a12<a11', 'a12', 12, {}, { kind: 'undo', undo: [], end: 'a12' }],
    ['behavior: a reorg replacing the last two blocks undoes them, newest first, back to the common ancestor', 'a10<a9 a11<a10 a12<a11', 'a12', 12, { 11: 'b' }, { kind: 'undo', undo: ['a12', 'a11'], end: 'a10' }],
    ['behavior: a reorg 1 deep undoes the cursor\'s block only', 'a10<a9 a11<a10 a12<a11', 'a12', 12, { 12: 'b' }, { kind: 'undo', undo: ['a12'], end: 'a11' }],
    ['behavior: a chain that got shorter (the cursor above the tip) undoes the blocks above it', 'a10<a9 a11<a10 a12<a11', 'a12', 10, {}, { kind: 'undo', undo: ['a12', 'a11'], end: 'a10' }],
    ['behavior: a record whose step skipped blocks (a latestOnly block trigger) is walked back to where its step started', 'a10<a9 a13<a10', 'a13', 13, { 11: 'b' }, { kind: 'undo', undo: ['a13'], end: 'a10' }],
    ['error: a journal gap (a step that kept no record, e.g. a range caught up) halts: anchoring across it would apply blocks twice', 'a10<a9 a12<a11', 'a12', 12, { 11: 'b' }, { kind: 'beyond-window', undo: ['a12'], end: 'a11' }],
    ['error: a cursor a catch-up step placed past the newest record halts at once', 'a10<a9', 'a15', 15, { 12: 'b' }, { kind: 'beyond-window', undo: [], end: 'a15' }],
    ['error: a reorg below the oldest record (deeper than the window) halts', 'a11<a10 a12<a11', 'a12', 12, { 9: 'b' }, { kind: 'beyond-window', undo: ['a12', 'a11'], end: 'a10' }],
    ['error: no journal at all (records pruned) halts', '', 'a12', 12, { 12: 'b' }, { kind: 'beyond-window', undo: [], end: 'a12' }],
    ['behavior: a reorg replacing a new module\'s start block moves its origin: nothing below it was applied', '', 'o9', 12, { 8: 'b' }, { kind: 'move-origin', undo: [], end: 'o9' }],
    ['behavior: a reorg replacing the blocks a new module handled and its start block undoes them, then moves the origin', 'a10<o9 a11<a10', 'a11', 12, { 9: 'b' }, { kind: 'move-origin', undo: ['a11', 'a10'], end: 'o9' }],
    ['behavior: a reorg above a new module\'s start block undoes to the origin, which stays', 'a10<o9 a11<a10', 'a11', 12, { 10: 'b' }, { kind: 'undo', undo: ['a11', 'a10'], end: 'o9' }],
    ['behavior: a record that does not match the position (another block at its height) is not undone', 'a10<a9 b11<a10', 'a11', 12, { 11: 'c' }, { kind: 'beyond-window', undo: [], end: 'a11' }],
  ])('%s', async (_, records, cursor, tip, branches, expected) => {
    expect(summary(await planRewind(journal(records), position(cursor), canonical(tip, branches)))).toEqual(expected);
  });

  it('behavior: canonicity is asked position by position, and no deeper than the first canonical one', async () => {
    const asked: string[] = [];
    const chain = canonical(12, { 11: 'b' });
    await planRewind(journal('a9<a8 a10<a9 a11<a10 a12<a11'), position('a12'), async (at) => (asked.push(at.hash.slice(2)), chain(at)));
    expect(asked).toEqual(['a12', 'a11', 'a10']);
  });
});
