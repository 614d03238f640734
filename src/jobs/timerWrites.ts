import type { Bytes, Write } from '../store/EngineStore.ts';
import { atIndexKey, blockIndexKey, TIMER_COUNT_KEY, timerKey } from '../store/reservedKeys.ts';
import type { StateTransaction } from '../store/StateTransaction.ts';

/** A timer as stored: at a time (epoch ms), or once block `block` of chain `chain` is handled. */
export type TimerSpec = { at: number } | { chain: string; block: string };

/** A stored timer of one module. */
export interface Timer {
  tag: string;
  spec: TimerSpec;
  /** The stored value, to tell this timer from a later one of the same tag. */
  raw: string;
}

/**
 * How a module's timers are written, in corral's reserved range of its state (keys: src/store/reservedKeys.ts),
 * so they commit, roll back and undo on reorgs with the writes that set them: the timer under its tag,
 * an index key that sorts by when it is due with the same value (the scheduler reads these in key order
 * and keeps only the earliest in memory), and the pending count. Every write of a timer goes through
 * `setTimerWrites`/`removeTimerWrites`, which keep the three in step.
 */

/** The index key of a timer: sorts by due time (or chain, then block), then tag. */
export function indexKey(tag: string, spec: TimerSpec): Bytes {
  return 'at' in spec ? atIndexKey(spec.at, tag) : blockIndexKey(BigInt(spec.chain), BigInt(spec.block), tag);
}

export function timerValue(spec: TimerSpec): Bytes {
  return Buffer.from(JSON.stringify(spec), 'utf8');
}

/** The timer an index (or primary) entry holds, or undefined for a value corral cannot read. */
export function decodeTimer(tag: string, value: Bytes): Timer | undefined {
  const raw = Buffer.from(value).toString('utf8');
  try {
    return { tag, spec: JSON.parse(raw) as TimerSpec, raw };
  } catch {
    return undefined; // only corral writes these keys: an unreadable one is skipped, not fatal
  }
}

/** The pending count a committed (or staged) value holds; absent is zero. */
export const countOf = (value: Bytes | undefined): number => (value === undefined ? 0 : Number(Buffer.from(value).toString('utf8')) || 0);
const countValue = (n: number): Bytes => Buffer.from(String(n), 'utf8');

/** The writes that set timer `tag` to `spec`, given the stored one (`previous`) and the pending count. */
export function setTimerWrites(tag: string, spec: TimerSpec, previous: Bytes | undefined, count: number): Write[] {
  const value = timerValue(spec);
  const writes: Write[] = [];
  const old = previous && decodeTimer(tag, previous);
  if (old) writes.push({ key: indexKey(tag, old.spec), value: null });
  writes.push({ key: timerKey(tag), value }, { key: indexKey(tag, spec), value });
  if (!previous) writes.push({ key: TIMER_COUNT_KEY, value: countValue(count + 1) });
  return writes;
}

/** The writes that remove timer `tag` (stored as `previous`), given the pending count. */
export function removeTimerWrites(tag: string, previous: Bytes, count: number): Write[] {
  const old = decodeTimer(tag, previous);
  return [{ key: timerKey(tag), value: null }, ...(old ? [{ key: indexKey(tag, old.spec), value: null }] : []), { key: TIMER_COUNT_KEY, value: countValue(Math.max(0, count - 1)) }];
}

/** Writes staged in an event's transaction that commit on their own when the event's writes are dropped. */
export interface Bookkeeping {
  writes: Write[];
  sizeDelta: number;
}

/**
 * Stages the deletion of `timer` in the transaction of the invocation it wakes, if it is still the
 * stored one (the tag may have been moved or cancelled since it was queued: then undefined, the event
 * is stale). A timer is consumed by the invocation it wakes: its deletion commits with the handler's
 * writes, or alone when the handler answers `err`.
 */
export function consumeTimer(transaction: StateTransaction, timer: Timer): Bookkeeping | undefined {
  const stored = transaction.get(timerKey(timer.tag));
  if (!stored || Buffer.from(stored).toString('utf8') !== timer.raw) return undefined;
  const before = transaction.sizeDelta;
  const writes = removeTimerWrites(timer.tag, stored, countOf(transaction.get(TIMER_COUNT_KEY)));
  for (const { key, value } of writes) {
    if (value === null) transaction.delete(key);
    else transaction.set(key, value);
  }
  return { writes, sizeDelta: transaction.sizeDelta - before };
}
