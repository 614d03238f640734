import { RESERVED_PREFIX } from '../host/store.ts';
import type { Bytes, Write } from '../store/EngineStore.ts';

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
 * How a module's timers are kept, all in corral's reserved range of its state (so they commit, roll
 * back and undo on reorgs with the writes that set them):
 *
 * - `corral/timer/<tag>` → the spec (JSON): the timer itself, found by its tag (set again, cancel).
 * - an index key that sorts by when it is due, with the same value: `corral/timer-at/<at>/<tag>` for
 *   a time timer, `corral/timer-blk/<chain>/<block>/<tag>` for a block timer (numbers as 16 hex
 *   digits). The scheduler reads these in key order and keeps only the earliest in memory.
 * - `corral/timer-count` → how many are pending (decimal): the cap is checked against it without a scan.
 *
 * Every write of a timer goes through `setTimerWrites`/`removeTimerWrites`, which keep the three in step.
 */
const reserved = (name: string) => Uint8Array.from([...RESERVED_PREFIX, ...Buffer.from(name, 'utf8')]);
export const TIMER_PREFIX = reserved('timer/');
export const TIMER_PREFIX_END = reserved('timer0'); // '0' follows '/'
export const AT_PREFIX = reserved('timer-at/');
export const BLOCK_PREFIX = reserved('timer-blk/');
export const TIMER_COUNT_KEY = reserved('timer-count');

const hex16 = (n: bigint | number) => BigInt(n).toString(16).padStart(16, '0');
const withText = (prefix: Bytes, text: string) => Uint8Array.from([...prefix, ...Buffer.from(text, 'utf8')]);

/** The store key of a module's timer with this tag. */
export const timerKey = (tag: string): Bytes => withText(TIMER_PREFIX, tag);

/** Index keys of one chain's block timers start with this. */
export const chainPrefix = (chain: bigint): Bytes => withText(BLOCK_PREFIX, `${hex16(chain)}/`);

/** The index key of a timer: sorts by due time (or chain, then block), then tag. */
export function indexKey(tag: string, spec: TimerSpec): Bytes {
  return 'at' in spec ? withText(AT_PREFIX, `${hex16(spec.at)}/${tag}`) : withText(BLOCK_PREFIX, `${hex16(BigInt(spec.chain))}/${hex16(BigInt(spec.block))}/${tag}`);
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

/** The tag of an index key (after its prefix and numbers). */
export function tagOfIndexKey(key: Bytes): string | undefined {
  const prefix = startsWith(key, AT_PREFIX) ? AT_PREFIX : startsWith(key, BLOCK_PREFIX) ? BLOCK_PREFIX : undefined;
  if (!prefix) return undefined;
  const skip = prefix === AT_PREFIX ? 17 : 34; // "<16 hex>/" once or twice
  return Buffer.from(key.subarray(prefix.length + skip)).toString('utf8');
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

export function startsWith(key: Bytes, prefix: Bytes): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}
