import { describe, expect, it } from 'vitest';
import { liveStep } from '../../src/bus/liveStep.ts';
import { header } from '../chain/headers.ts';
import { log, position } from './journal.ts';

describe('liveStep', () => {
  // Each row: the block, its logs, the block trigger's `every` (none: no block trigger), the reorg window,
  // the numbers of the module's undo records; then the events, and the records the step drops.
  it.each<[string, string, number, number | undefined, number, number[], string[], number[]]>([
    ['default: the block\'s logs are its events, and its record keeps them', 'a100', 2, undefined, 64, [98, 99], ['log 0', 'log 1'], []],
    ['args: blocks every 1: the block event follows the logs', 'a100', 1, 1, 64, [], ['log 0', 'block'], []],
    ['args: blocks every 3: no block event for a number not divisible by it', 'a100', 0, 3, 64, [], [], []],
    ['args: blocks every 4: a block event for a number divisible by it', 'a100', 0, 4, 64, [], ['block'], []],
    ['behavior: records that fell out of the reorg window with this block are dropped', 'a100', 0, undefined, 4, [95, 96, 97, 99], [], [95, 96]],
    ['behavior: a window of 1 drops every earlier record', 'a100', 0, undefined, 1, [97, 98, 99], [], [97, 98, 99]],
  ])('%s', (_, id, logs, every, reorgWindow, journal, events, dropped) => {
    const block = header(id, 'a99');
    const cursor = position('a99');
    const blockLogs = Array.from({ length: logs }, (_, i) => log(cursor, i));
    const step = liveStep(block, blockLogs, cursor, every === undefined ? undefined : { every, latestOnly: false }, reorgWindow, journal.map(BigInt));
    expect(step.events.map((e) => (e.tag === 'log' ? `log ${e.val.logIndex}` : e.tag))).toEqual(events);
    expect(step.cursor).toEqual({ number: 100n, hash: '0xa100' });
    expect(step.journal?.record).toMatchObject({ number: 100n, hash: '0xa100', prev: cursor });
    expect(step.journal?.record?.payload).toHaveLength(logs);
    expect(step.journal?.remove).toEqual(dropped.map(BigInt));
  });

  it('behavior: the step carries when its block reached the engine', () => {
    expect(liveStep({ ...header('a100'), seenAt: 1234.5 }, [], position('a99'), undefined, 64, []).seenAt).toBe(1234.5);
    expect(liveStep(header('a100'), [], position('a99'), undefined, 64, [])).not.toHaveProperty('seenAt');
  });
});
