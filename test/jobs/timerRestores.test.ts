import { describe, expect, it } from 'vitest';
import { countOf, indexKey, timerRestores, timerValue, type TimerSpec } from '../../src/jobs/timerWrites.ts';
import type { Bytes, Write } from '../../src/store/EngineStore.ts';
import { startsWith, tagOfIndexKey, tagOfTimerKey, TIMER_COUNT_KEY, TIMER_PREFIX, timerKey } from '../../src/store/reservedKeys.ts';
import { keyId } from '../../src/store/StateTransaction.ts';

/** A module's state as key id → value. */
type State = Map<string, Bytes>;

const timer = (tag: string, spec: TimerSpec): Write[] => [
  { key: timerKey(tag), value: timerValue(spec) },
  { key: indexKey(tag, spec), value: timerValue(spec) },
];
const count = (n: number | null): Write => ({ key: TIMER_COUNT_KEY, value: n === null ? null : Buffer.from(String(n)) });
const gone = (tag: string, spec: TimerSpec): Write[] => timer(tag, spec).map(({ key }) => ({ key, value: null }));

function stateOf(...writes: Write[]): State {
  return apply(new Map(), writes);
}
function apply(state: State, writes: readonly Write[]): State {
  for (const { key, value } of writes) {
    if (value === null) state.delete(keyId(key));
    else state.set(keyId(key), value);
  }
  return state;
}
/** What a state says of its timers: the stored count, the timers' tags, and the index entries their timer does not hold. */
function timersOf(state: State) {
  const keys = [...state.keys()].map((id) => Buffer.from(id, 'latin1'));
  const stale = keys.filter((key) => {
    const tag = tagOfIndexKey(key);
    const held = tag === undefined ? undefined : state.get(keyId(timerKey(tag)));
    return tag !== undefined && (held === undefined || Buffer.compare(held, state.get(keyId(key))!) !== 0);
  });
  return {
    count: state.has(keyId(TIMER_COUNT_KEY)) ? countOf(state.get(keyId(TIMER_COUNT_KEY))) : undefined,
    tags: keys.flatMap((key) => (startsWith(key, TIMER_PREFIX) ? [tagOfTimerKey(key)!] : [])).sort(),
    stale: stale.length,
  };
}
/** Undoes `restores` over `state` as the invocation stages them. */
const undo = (state: State, restores: Write[]) => apply(state, timerRestores(restores, (key) => state.get(keyId(key))));

const A0 = { at: 100 };
const A1 = { at: 200 };
const A2 = { at: 300 };

describe('timerRestores', () => {
  // Each case: the state the undo finds, the restores its plan makes (the keys no other source wrote
  // since, back to their values before the block), and what the state holds after.
  const cases: { name: string; now: Write[]; restores: Write[]; after: ReturnType<typeof timersOf> }[] = [
    {
      name: 'default: nothing written since: the restores stand as they are (no count left where there was none)',
      now: [...timer('a', A0), count(1)],
      restores: [...gone('a', A0), count(null)],
      after: { count: undefined, tags: [], stale: 0 },
    },
    {
      name: 'behavior: a timer the block set is taken back, the count another source wrote since is kept: it drops by one',
      now: [...timer('a', A0), ...timer('b', A1), count(2)],
      restores: gone('a', A0),
      after: { count: 1, tags: ['b'], stale: 0 },
    },
    {
      name: 'behavior: a timer the block cancelled comes back, the count another source wrote since is kept: it rises by one',
      now: [...timer('b', A1), count(1)],
      restores: timer('a', A0),
      after: { count: 2, tags: ['a', 'b'], stale: 0 },
    },
    {
      name: 'behavior: a timer the block set and another source moved is kept: the count is not restored to before the block',
      now: [...timer('a', A2), count(1)],
      restores: [count(0)],
      after: { count: 1, tags: ['a'], stale: 0 },
    },
    {
      name: "behavior: an index entry is restored as planned though its timer was kept (not that timer's: skipped when read), and the count stays",
      now: [...timer('a', A1), count(1)],
      restores: [{ key: indexKey('a', A0), value: timerValue(A0) }],
      after: { count: 1, tags: ['a'], stale: 1 },
    },
    {
      name: 'behavior: the block moved a timer and nothing else wrote it: it goes back to its old time',
      now: [...timer('a', A1), count(1)],
      restores: [{ key: timerKey('a'), value: timerValue(A0) }, { key: indexKey('a', A0), value: timerValue(A0) }, { key: indexKey('a', A1), value: null }],
      after: { count: 1, tags: ['a'], stale: 0 },
    },
  ];
  for (const { name, now, restores, after } of cases) {
    it(name, () => {
      expect(timersOf(undo(stateOf(...now), restores))).toEqual(after);
    });
  }

  it('behavior: a rewind of two blocks that each set a timer, the count kept by both: each step drops it by one', () => {
    // Block 1 set a (count 0 → 1), block 2 set b (1 → 2), then a custom event set c (2 → 3).
    const state = stateOf(...timer('a', A0), ...timer('b', A1), ...timer('c', A2), count(3));
    undo(state, gone('b', A1)); // block 2, newest first
    expect(timersOf(state)).toEqual({ count: 2, tags: ['a', 'c'], stale: 0 });
    undo(state, gone('a', A0));
    expect(timersOf(state)).toEqual({ count: 1, tags: ['c'], stale: 0 });
  });
});
