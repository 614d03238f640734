/**
 * Pages of one module's committed state, read through a `ModuleReadView`: its own keys under a prefix,
 * its tasks, its timers. Shared by the read API and `corral inspect` (so both print the same shapes).
 * Each page is bounded by a count and by bytes, and continues from an exclusive cursor: the last key
 * a page listed, so a key written between two pages (each page is its own view) is listed once at most.
 */
import { decodeJob, type Job } from '../../jobs/Job.ts';
import { decodeTimer } from '../../jobs/timerWrites.ts';
import type { Bytes, ModuleReadView } from '../../store/EngineStore.ts';
import { decodeDeadMessage } from '../../engine/messageDeadLetters.ts';
import { CRON_PREFIX, DEAD_MSG_PREFIX, DEAD_PREFIX, JOB_PREFIX, jobKey, prefixLimit, RESERVED_RANGE, suffixOf, tagOfTimerKey, TIMER_COUNT_KEY, TIMER_PREFIX, TIMER_PREFIX_END } from '../../store/reservedKeys.ts';
import { prefixEnd } from '../../store/StateTransaction.ts';
import type { DeadMessageShape, Encoded, Entry, JobShape, KeysPage, ModuleSummary, TimersPage, TooLarge } from './shapes.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes shown every way they decode: base64 always, UTF-8 when valid, JSON when that text parses. */
export function encode(bytes: Bytes, truncated = false): Encoded {
  const out: Encoded = { base64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') };
  if (truncated) return { ...out, truncated: true }; // a cut value would decode into something it is not
  try {
    out.utf8 = utf8.decode(bytes);
  } catch {
    return out;
  }
  // Most keys and many values are plain text ('ev/12'): a failed JSON.parse builds an exception,
  // which was the largest cost of a page; text that cannot start a JSON value is not tried.
  if (!JSON_START.test(out.utf8)) return out;
  try {
    const json: unknown = JSON.parse(out.utf8);
    // A module's value is untrusted: '['×10,000 parses, but writing it back out overflows the stack.
    if (nestedWithin(json, MAX_JSON_DEPTH)) out.json = json;
  } catch {
    // not JSON: the text stands alone
  }
  return out;
}

/** What a JSON text can begin with (after whitespace): an object, array, string, number, true, false or null. */
const JSON_START = /^[\s]*[{["\-0-9tfn]/;

/** Deepest JSON nesting shown as `json` (deeper: the text alone); far beyond what state records use. */
const MAX_JSON_DEPTH = 64;

function nestedWithin(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || value === null) return true;
  if (depth === 0) return false;
  for (const item of Object.values(value)) if (!nestedWithin(item, depth - 1)) return false;
  return true;
}

/** A page's continuation for a client: base64url of the last key it listed. */
export const cursorOf = (key: Bytes): string => Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('base64url');

/** A client's continuation back to the key; undefined when it is not base64url. */
export function keyOfCursor(cursor: string): Bytes | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(cursor)) return undefined;
  return Uint8Array.from(Buffer.from(cursor, 'base64url'));
}

/** How far one page may go. */
export interface PageBounds {
  /** Entries at most. */
  limit: number;
  /** Key and value bytes at most (the first entry is kept whatever its size, its value cut). */
  maxBytes: number;
  /** List only keys after this one (a previous page's last). */
  after?: Bytes | undefined;
}

const before = (a: Bytes, b: Bytes) => Buffer.compare(a, b) < 0;

/**
 * Entries of `view` in [from, to) after `after`, in byte order; with `skipReserved`, corral's reserved
 * range is stepped over rather than walked (a module may hold 100,000 tasks there). One iterator per
 * range reads keys and values together: a page costs a few reads, not one per key.
 */
async function* entriesIn(view: ModuleReadView, from: Bytes, to: Bytes | undefined, bounds: PageBounds, skipReserved: boolean): AsyncIterable<[Bytes, Bytes]> {
  const { after } = bounds;
  // A page reads one entry past its limit (to know whether `next` is due), no more: an unbounded
  // iterator fetches 1,000 entries at a time, which for a page of 100 was most of its read's cost.
  const limit = Number.isFinite(bounds.limit) ? bounds.limit + 1 : -1;
  const ranges: [Bytes, Bytes | undefined][] = [];
  if (!skipReserved) ranges.push([from, to]);
  else {
    if (before(from, RESERVED_RANGE.from)) ranges.push([from, to && before(to, RESERVED_RANGE.from) ? to : RESERVED_RANGE.from]);
    if (!to || before(RESERVED_RANGE.to, to)) ranges.push([before(from, RESERVED_RANGE.to) ? RESERVED_RANGE.to : from, to]);
  }
  for (const [gte, lt] of ranges) {
    if (after && lt && !before(after, lt)) continue;
    const start = after && !before(after, gte) ? { gt: after } : { gte };
    yield* view.entries({ ...start, ...(lt ? { lt } : {}), limit });
  }
}

/**
 * One page of `entries`: stops at `limit` entries read or before the entry that would pass `maxBytes`.
 * `next` is set when it stopped early and another entry follows. An entry larger than a page alone is
 * listed with its value cut where the caller can show bytes (`make` gets `cut`); where it cannot (a
 * task or a timer is only shown decoded), `make` answers undefined and the entry is named in
 * `tooLarge` instead of vanishing from the listing.
 */
async function page<T>(entries: AsyncIterable<[Bytes, Bytes]>, bounds: PageBounds, make: (key: Bytes, value: Bytes, cut: boolean, size: number) => T | undefined, nameOf: (key: Bytes) => string = (key) => Buffer.from(key).toString('utf8')): Promise<{ items: T[]; next: string | null; tooLarge: TooLarge[] }> {
  const items: T[] = [];
  const tooLarge: TooLarge[] = [];
  let read = 0;
  let bytes = 0;
  let last: Bytes | undefined;
  for await (const [key, value] of entries) {
    if (read >= bounds.limit) return { items, next: cursorOf(last!), tooLarge };
    const size = key.byteLength + value.byteLength;
    if (read > 0 && bytes + size > bounds.maxBytes) return { items, next: cursorOf(last!), tooLarge };
    const cut = size > bounds.maxBytes;
    const item = make(key, cut ? value.subarray(0, Math.max(0, bounds.maxBytes - key.byteLength)) : value, cut, size);
    last = key;
    read++;
    bytes += Math.min(size, bounds.maxBytes);
    if (item !== undefined) items.push(item);
    else if (cut) tooLarge.push({ key: nameOf(key), bytes: size });
  }
  return { items, next: null, tooLarge };
}

/** The module's own keys under `prefix` (never corral's reserved ones), with their values. */
export async function keysPage(view: ModuleReadView, prefix: Bytes, bounds: PageBounds): Promise<KeysPage> {
  const entries = entriesIn(view, prefix, prefixEnd(prefix), bounds, true);
  const { items, next } = await page<Entry>(entries, bounds, (key, value, cut, size) => ({ key: encode(key), value: encode(value, cut), bytes: size }));
  return { module: view.name, prefix: encode(prefix), entries: items, cursors: await view.cursors(), next };
}

/** A task as the API and inspect show it (its module is the route's). */
export function showJob({ id, type, payload, attempts, maxRetry, runAt, enqueuedAt, enqueuedBy, version, lastError, deadAt }: Job): JobShape {
  return { id, type, payload, attempts, maxRetry, runAt, enqueuedAt, enqueuedBy, version, ...(lastError === undefined ? {} : { lastError }), ...(deadAt === undefined ? {} : { deadAt }) };
}

/** Pending (`job/`) or dead-lettered (`dead/`) tasks, by id. */
export async function jobsPage(view: ModuleReadView, state: 'pending' | 'dead', bounds: PageBounds): Promise<{ jobs: JobShape[]; next: string | null; tooLarge?: TooLarge[] }> {
  const prefix = state === 'dead' ? DEAD_PREFIX : JOB_PREFIX;
  const entries = entriesIn(view, prefix, prefixLimit(prefix), bounds, false);
  const { items, next, tooLarge } = await page(
    entries,
    bounds,
    (_key, value, cut) => {
      const job = cut ? undefined : decodeJob(value);
      return job && showJob(job);
    },
    (key) => suffixOf(key, prefix)!,
  );
  return { jobs: items, next, ...(tooLarge.length > 0 ? { tooLarge } : {}) };
}

/** Dead-lettered messages (`dead-msg/`), by sender then seq. */
export async function deadMessagesPage(view: ModuleReadView, bounds: PageBounds): Promise<{ messages: DeadMessageShape[]; next: string | null; tooLarge?: TooLarge[] }> {
  const entries = entriesIn(view, DEAD_MSG_PREFIX, prefixLimit(DEAD_MSG_PREFIX), bounds, false);
  const { items, next, tooLarge } = await page(entries, bounds, (_key, value, cut) => (cut ? undefined : decodeDeadMessage(value)), (key) => suffixOf(key, DEAD_MSG_PREFIX)!);
  return { messages: items, next, ...(tooLarge.length > 0 ? { tooLarge } : {}) };
}

/** The running tasks: live ids, each read from the view (one that committed meanwhile is gone from it). */
export async function runningJobs(view: ModuleReadView, ids: readonly string[], bounds: PageBounds): Promise<{ jobs: JobShape[]; next: string | null }> {
  const after = bounds.after && Buffer.from(bounds.after).toString('utf8');
  const sorted = [...ids].sort().filter((id) => after === undefined || id > after);
  const jobs: JobShape[] = [];
  for (const id of sorted) {
    if (jobs.length >= bounds.limit) return { jobs, next: cursorOf(Buffer.from(jobs.at(-1)!.id)) };
    const value = await view.get(jobKey(id));
    const job = value && decodeJob(value);
    if (job) jobs.push(showJob(job));
  }
  return { jobs, next: null };
}

/** Pending timers by tag. */
export async function timersPage(view: ModuleReadView, bounds: PageBounds): Promise<TimersPage> {
  const entries = entriesIn(view, TIMER_PREFIX, TIMER_PREFIX_END, bounds, false);
  const { items, next, tooLarge } = await page(
    entries,
    bounds,
    (key, value, cut) => {
      const timer = cut ? undefined : decodeTimer(tagOfTimerKey(key)!, value);
      return timer && { tag: timer.tag, spec: timer.spec };
    },
    (key) => tagOfTimerKey(key)!,
  );
  return { module: view.name, timers: items, next, ...(tooLarge.length > 0 ? { tooLarge } : {}) };
}

/** Keys in a reserved range, counted without reading their values. */
async function count(view: ModuleReadView, prefix: Bytes): Promise<number> {
  let n = 0;
  for await (const _ of view.keys({ gte: prefix, lt: prefixLimit(prefix), limit: -1 })) n++;
  return n;
}

/** A module's cron triggers' last handled ticks (epoch ms), by trigger. */
export async function cronTicks(view: ModuleReadView): Promise<Record<string, number>> {
  const ticks: Record<string, number> = {};
  for await (const [key, value] of view.entries({ gte: CRON_PREFIX, lt: prefixLimit(CRON_PREFIX), limit: -1 })) ticks[suffixOf(key, CRON_PREFIX)!] = Number(Buffer.from(value).toString('utf8'));
  return ticks;
}

/** What every report of a module holds, from one view; the breaker is the caller's (live or stored). */
export async function moduleSummary(view: ModuleReadView, breaker: ModuleSummary['breaker']): Promise<ModuleSummary> {
  const timerCount = await view.get(TIMER_COUNT_KEY);
  return {
    name: view.name,
    cursors: await view.cursors(),
    // The count key is kept with every timer write; a state from before it existed is counted.
    timers: timerCount ? Number(Buffer.from(timerCount).toString('utf8')) : await count(view, TIMER_PREFIX),
    jobs: { pending: await count(view, JOB_PREFIX), dead: await count(view, DEAD_PREFIX) },
    storedBytes: await view.storedBytes(),
    breaker,
    cronTicks: await cronTicks(view),
  };
}
