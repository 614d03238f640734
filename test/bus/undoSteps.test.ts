import { describe, expect, it } from 'vitest';
import { undoSteps } from '../../src/bus/undoSteps.ts';
import { journal, position } from './journal.ts';

describe('undoSteps', () => {
  // The records to undo come newest first (see planRewind); each row: records, logs per record, anchor.
  it.each<[string, string, number, string, { block: string; cursor: string; removed: string[] }[]]>([
    ['default: each block is one step whose cursor is where its step started, the last one on the anchor', 'a12<a11 a11<a10', 2, 'a10', [
      { block: 'a12', cursor: 'a11', removed: ['a12/1', 'a12/0'] },
      { block: 'a11', cursor: 'a10', removed: ['a11/1', 'a11/0'] },
    ]],
    ['behavior: a block without logs is still undone (its writes), with no events', 'a12<a11', 0, 'a11', [{ block: 'a12', cursor: 'a11', removed: [] }]],
    ['behavior: where an origin moved, the last step lands on the new block at its height', 'a11<a10 a10<o9', 1, 'b9', [
      { block: 'a11', cursor: 'a10', removed: ['a11/0'] },
      { block: 'a10', cursor: 'b9', removed: ['a10/0'] },
    ]],
  ])('%s', (_, records, logs, anchor, expected) => {
    const steps = undoSteps(journal(records, logs), position(anchor));
    expect(
      steps.map((step) => ({
        block: step.undo!.entry.hash.slice(2),
        cursor: step.cursor.hash.slice(2),
        removed: step.events.map((e) => (e.tag === 'log' && e.val.removed ? `${e.val.blockHash.slice(2)}/${e.val.logIndex}` : 'not removed')),
      })),
    ).toEqual(expected);
    // Each step drops its own record from the journal, in the same commit.
    expect(steps.map((step) => step.journal?.remove)).toEqual(steps.map((step) => [step.undo!.entry.number]));
  });
});
