import { describe, expect, it } from 'vitest';
import { catchUpSteps } from '../../src/bus/catchUpSteps.ts';
import type { RangeBlock } from '../../src/bus/rangeBlocks.ts';
import { header } from '../chain/headers.ts';
import { log, position } from './journal.ts';

/** A range's blocks as the tables write them: `a12:3` holds 3 logs, `a14:2+b` 2 logs and a block event. */
const range = (spec: string): RangeBlock[] =>
  spec.split(' ').map((item) => {
    const [id, count] = item.split(':') as [string, string];
    const at = position(id);
    return { number: at.number, hash: at.hash, logs: Array.from({ length: Number.parseInt(count, 10) }, (_, i) => log(at, i)), ...(count.endsWith('+b') ? { block: header(id) } : {}) };
  });

describe('catchUpSteps', () => {
  // Each row: the range's blocks with events, its end, the step size, then each step as its cursor and event count.
  it.each<[string, string, string, number, [string, number][]]>([
    ['default: a range that fits is one step with the cursor on the range\'s end', 'a12:3 a14:2', 'a20', 1000, [['a20', 5]]],
    ['behavior: a range without events is one step that moves the cursor to its end', '', 'a20', 1000, [['a20', 0]]],
    ['behavior: steps hold as many whole blocks as fit; each but the last ends on its last block', 'a11:2 a12:2 a13:2 a15:2', 'a20', 4, [['a12', 4], ['a20', 4]]],
    ['behavior: a block is never split: one with more events than a step is a step of its own', 'a11:1 a12:7 a13:1', 'a20', 4, [['a11', 1], ['a12', 7], ['a20', 1]]],
    ['behavior: a block event counts as an event, after the block\'s logs', 'a11:3+b a12:1', 'a20', 4, [['a11', 4], ['a20', 1]]],
    ['behavior: a step exactly full is not followed by an empty one', 'a11:2 a12:2', 'a20', 4, [['a20', 4]]],
  ])('%s', (_, blocks, end, maxEvents, expected) => {
    const steps = catchUpSteps(blocks === '' ? [] : range(blocks), position(end), maxEvents);
    expect(steps.map((s) => [s.cursor.hash.slice(2), s.events.length])).toEqual(expected);
  });

  it('behavior: events keep block order, logs before the block\'s own event', () => {
    const steps = catchUpSteps(range('a11:2+b a12:1'), position('a20'), 1000);
    expect(steps[0]!.events.map((e) => (e.tag === 'log' ? `log ${e.val.blockNumber}/${e.val.logIndex}` : `${e.tag} ${e.tag === 'block' ? e.val.number : ''}`))).toEqual(['log 11/0', 'log 11/1', 'block 11', 'log 12/0']);
  });
});
