import { describe, expect, it } from 'vitest';
import {
  atIndexKey,
  BLOCK_PREFIX,
  blockIndexKey,
  chainOfSource,
  chainSource,
  CRON_PREFIX,
  cronKey,
  CUSTOM_SOURCE,
  DEAD_PREFIX,
  deadKey,
  DEDUPE_PREFIX,
  dedupeKey,
  isReserved,
  JOB_PREFIX,
  jobKey,
  prefixLimit,
  RESERVED_PREFIX,
  RESERVED_RANGE,
  reorgMarkKey,
  startsWith,
  suffixOf,
  tagOfIndexKey,
  tagOfTimerKey,
  TIMER_COUNT_KEY,
  TIMER_PREFIX,
  TIMER_PREFIX_END,
  timerKey,
} from '../../src/store/reservedKeys.ts';

const text = (key: Uint8Array) => Buffer.from(key.subarray(RESERVED_PREFIX.length)).toString('utf8');
const compare = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe('reservedKeys', () => {
  it('default: every key corral keeps is under 0xff 0x00 "corral/", in the layout the docs give', () => {
    expect([...RESERVED_PREFIX.subarray(0, 2)]).toEqual([0xff, 0x00]);
    const cases: [Uint8Array, string][] = [
      [timerKey('t'), 'timer/t'],
      [atIndexKey(255, 't'), 'timer-at/00000000000000ff/t'],
      [blockIndexKey(1n, 16n, 't'), 'timer-blk/0000000000000001/0000000000000010/t'],
      [TIMER_COUNT_KEY, 'timer-count'],
      [cronKey('hourly'), 'cron/hourly'],
      [jobKey('j1'), 'job/j1'],
      [deadKey('j1'), 'dead/j1'],
      [reorgMarkKey(1n, 16n, Buffer.from('n')), 'reorg/0000000000000001/0000000000000010/n'],
    ];
    for (const [key, expected] of cases) {
      expect(isReserved(key)).toBe(true);
      expect(text(key)).toBe(expected);
    }
    expect(text(dedupeKey('unique', 'module:m:t', '{}'))).toMatch(/^dedupe\/[0-9a-f]{64}$/);
  });

  it('args: parsers give back what the builders were given, and nothing for a key of another kind', () => {
    expect(tagOfTimerKey(timerKey('a/b'))).toBe('a/b');
    expect(tagOfTimerKey(jobKey('a'))).toBeUndefined();
    expect(tagOfIndexKey(atIndexKey(1_700_000_000_000, 'wake'))).toBe('wake');
    expect(tagOfIndexKey(blockIndexKey(10n, 20n, 'block/tag'))).toBe('block/tag');
    expect(tagOfIndexKey(timerKey('x'))).toBeUndefined();
    expect(suffixOf(cronKey('n'), CRON_PREFIX)).toBe('n');
    expect(suffixOf(deadKey('d'), JOB_PREFIX)).toBeUndefined();
    expect(chainOfSource(chainSource(137n))).toBe(137n);
    expect(chainOfSource(CUSTOM_SOURCE)).toBeUndefined();
  });

  it('behavior: index keys sort by due time, then by chain and block, so a scan in key order meets the earliest first', () => {
    expect(compare(atIndexKey(9, 'z'), atIndexKey(10, 'a'))).toBeLessThan(0);
    expect(compare(blockIndexKey(1n, 0xffn, 'z'), blockIndexKey(1n, 0x100n, 'a'))).toBeLessThan(0);
    expect(compare(blockIndexKey(1n, 5n, 'a'), blockIndexKey(2n, 1n, 'a'))).toBeLessThan(0);
    expect(startsWith(blockIndexKey(3n, 7n, 't'), BLOCK_PREFIX)).toBe(true);
  });

  it('behavior: each prefix range holds its own kind only (timer- indexes are outside timer/, dedupe outside dead/)', () => {
    const within = (key: Uint8Array, from: Uint8Array, to: Uint8Array) => compare(key, from) >= 0 && compare(key, to) < 0;
    expect(within(timerKey('t'), TIMER_PREFIX, TIMER_PREFIX_END)).toBe(true);
    expect(within(atIndexKey(1, 't'), TIMER_PREFIX, TIMER_PREFIX_END)).toBe(false);
    expect(within(TIMER_COUNT_KEY, TIMER_PREFIX, TIMER_PREFIX_END)).toBe(false);
    expect(within(dedupeKey('idempotency', 'k'), DEAD_PREFIX, prefixLimit(DEAD_PREFIX))).toBe(false);
    expect(within(dedupeKey('idempotency', 'k'), DEDUPE_PREFIX, prefixLimit(DEDUPE_PREFIX))).toBe(true);
    expect(within(jobKey('j'), RESERVED_RANGE.from, RESERVED_RANGE.to)).toBe(true);
    // A mark ends in the module's key as it is, binary included: still under the reserved prefix.
    expect(isReserved(reorgMarkKey(1n, 2n, Uint8Array.from([0xff, 0x00])))).toBe(true);
  });

  it('error: a module key, even one starting with 0xff, is not reserved', () => {
    expect(isReserved(Uint8Array.from([0xff, 0x01, 0x63]))).toBe(false);
    expect(isReserved(Uint8Array.from([0xff, 0x00]))).toBe(false);
    expect(isReserved(Buffer.from('corral/timer/t'))).toBe(false);
  });
});
