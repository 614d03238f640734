import { describe, expect, it } from 'vitest';
import { liveStep } from '../../src/bus/liveStep.ts';
import { withoutEvents } from '../../src/bus/withoutEvents.ts';
import { header } from '../chain/headers.ts';
import { log, position } from './journal.ts';

describe('withoutEvents', () => {
  const cursor = position('a99');
  const step = liveStep(header('a100', 'a99'), [0, 1, 2].map((i) => log(cursor, i)), cursor, { every: 1, latestOnly: false }, 64, []);
  const indexOf = (e: (typeof step.events)[number]) => (e.tag === 'log' ? e.val.logIndex : e.tag);

  // Each row: the indices of the events the module refused; the events left, and the log indices left in the undo record.
  it.each<[string, number[], (number | string)[], number[]]>([
    ['default: nothing refused: the step is unchanged', [], [0, 1, 2, 'block'], [0, 1, 2]],
    ['behavior: a refused log leaves the events and the undo record (a reorg must not retract it)', [1], [0, 2, 'block'], [0, 2]],
    ['behavior: a refused block event leaves the record\'s logs alone', [3], [0, 1, 2], [0, 1, 2]],
    ['behavior: everything refused', [0, 1, 2, 3], [], []],
  ])('%s', (_, refused, events, recorded) => {
    const left = withoutEvents(step, refused);
    expect(left.events.map(indexOf)).toEqual(events);
    expect((left.journal!.record!.payload as { logIndex: number }[]).map((l) => l.logIndex)).toEqual(recorded);
    expect(left.cursor).toEqual(step.cursor);
  });

  it('behavior: a step without a record (catching up) loses the events only', () => {
    const left = withoutEvents({ events: step.events, cursor: step.cursor }, [0]);
    expect(left.events).toHaveLength(3);
    expect(left).not.toHaveProperty('journal');
  });
});
