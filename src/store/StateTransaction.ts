import { copyBytes } from './copyBytes.ts';
import type { Bytes, CommittedReader, Write } from './EngineStore.ts';

/** Overlay map key: one char per byte (latin1 is the cheapest exact encoding of bytes as a string). */
export const keyId = (key: Bytes) => Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
const compare = (a: Bytes, b: Bytes) => Buffer.compare(a, b);

/**
 * The writes of one invocation, held in memory. The module's own reads see them at once; nothing
 * reaches LevelDB unless the invocation succeeds and the engine commits (with the cursor).
 */
export class StateTransaction {
  private readonly overlay = new Map<string, Write>();
  /** Committed keys this transaction read (a staged key's read sees the overlay, not the store). */
  private readonly readKeys = new Set<string>();
  /** Prefix ranges it listed: `[prefix, after]`. */
  private readonly listed: [Bytes, Bytes | undefined][] = [];
  /** Change of the module's stored bytes if this commits. */
  sizeDelta = 0;

  constructor(private readonly committedState: CommittedReader) {}

  get(key: Bytes): Bytes | undefined {
    const id = keyId(key);
    const staged = this.overlay.get(id);
    if (staged) return staged.value ?? undefined;
    this.readKeys.add(id);
    return this.committed(key);
  }

  /** True when this transaction's outcome may depend on `key`: it read it, or listed a range holding it. */
  dependsOn(key: Bytes): boolean {
    if (this.readKeys.has(keyId(key))) return true;
    return this.listed.some(([prefix, after]) => startsWith(key, prefix) && (after === undefined || compare(key, after) > 0));
  }

  /** Keys of `keys` (latin1 ids, as `writtenIds` gives them) this transaction depends on: one is enough. */
  dependsOnAny(ids: Iterable<string>): boolean {
    for (const id of ids) if (this.readKeys.has(id) || (this.listed.length > 0 && this.dependsOn(Buffer.from(id, 'latin1')))) return true;
    return false;
  }

  /** The keys this transaction writes, as ids (for a conflict log). */
  writtenIds(): Set<string> {
    return new Set(this.overlay.keys());
  }


  /**
   * Stages a write. `admit`, when given, sees the module's size change this write would bring the
   * invocation to, and may throw to refuse it before anything is staged.
   */
  set(key: Bytes, value: Bytes, admit?: (sizeDelta: number) => void, decoded?: unknown): void {
    const previous = this.get(key);
    const sizeDelta = this.sizeDelta + key.byteLength + value.byteLength - (previous === undefined ? 0 : key.byteLength + previous.byteLength);
    admit?.(sizeDelta);
    this.sizeDelta = sizeDelta;
    this.overlay.set(keyId(key), staged(key, value, decoded));
  }

  /**
   * Stages a write of a key the caller knows is not committed (a new task's id: a time, a random
   * prefix and a counter, never minted twice): its bytes count whole, and the store is not read.
   */
  setNew(key: Bytes, value: Bytes, admit?: (sizeDelta: number) => void, decoded?: unknown): void {
    const id = keyId(key);
    if (this.overlay.has(id)) return this.set(key, value, admit, decoded);
    const sizeDelta = this.sizeDelta + key.byteLength + value.byteLength;
    admit?.(sizeDelta);
    this.sizeDelta = sizeDelta;
    this.overlay.set(id, staged(key, value, decoded));
  }

  /**
   * Stages the delete of a committed key whose value the caller knows to be `committedBytes` long
   * (the runner's index of its tasks' records), without reading the store; it still counts as read,
   * so a commit that rewrote the key since this transaction began conflicts with it.
   */
  deleteKnown(key: Bytes, committedBytes: number): void {
    const id = keyId(key);
    if (this.overlay.has(id)) return this.delete(key);
    this.readKeys.add(id);
    this.sizeDelta -= key.byteLength + committedBytes;
    this.overlay.set(id, { key: copyBytes(key), value: null });
  }

  delete(key: Bytes): void {
    const previous = this.get(key);
    if (previous !== undefined) this.sizeDelta -= key.byteLength + previous.byteLength;
    this.overlay.set(keyId(key), { key: copyBytes(key), value: null });
  }

  /**
   * Up to `limit` keys with `prefix`, after `after` (exclusive), in byte order; staged writes included.
   * Keys in `skip` (`from` inclusive, `to` exclusive) are left out without being read: LevelDB seeks
   * past them, so a listing costs what it returns, however many keys lie in the range skipped.
   */
  async listKeys(prefix: Bytes, after: Bytes | undefined, limit: number, skip?: { from: Bytes; to: Bytes }): Promise<Bytes[]> {
    this.listed.push([Uint8Array.from(prefix), after === undefined ? undefined : Uint8Array.from(after)]);
    const skipped = (key: Bytes) => skip !== undefined && compare(key, skip.from) >= 0 && compare(key, skip.to) < 0;
    const inRange = (key: Bytes) => startsWith(key, prefix) && (after === undefined || compare(key, after) > 0) && !skipped(key);
    const staged = [...this.overlay.values()].filter((w) => inRange(w.key));
    const deleted = new Set(staged.filter((w) => w.value === null).map((w) => keyId(w.key)));
    const keys: Bytes[] = staged.filter((w) => w.value !== null).map((w) => w.key);
    const range: { gte?: Bytes; gt?: Bytes; lt?: Bytes; limit: number } = { limit: limit + deleted.size };
    if (after && compare(after, prefix) >= 0) range.gt = after;
    else range.gte = prefix;
    const end = prefixEnd(prefix);
    if (end) range.lt = end;
    // The range, as one or two LevelDB ranges around `skip` (an empty one is dropped).
    type Range = typeof range;
    let ranges: Range[] = [range];
    if (skip) {
      const lower = range.gt ?? range.gte!;
      const below: Range = { ...range, lt: range.lt === undefined || compare(skip.from, range.lt) < 0 ? skip.from : range.lt };
      const above: Range = compare(skip.to, lower) > 0 ? { limit: range.limit, gte: skip.to, ...(range.lt ? { lt: range.lt } : {}) } : range;
      ranges = [below, above].filter((r) => r.lt === undefined || compare(r.gt ?? r.gte!, r.lt) < 0);
    }
    let found = 0;
    for (const r of ranges) {
      if (found >= range.limit) break;
      for await (const key of this.committedState.keys({ ...r, limit: range.limit - found })) {
        found++;
        if (!deleted.has(keyId(key)) && !this.overlay.has(keyId(key))) keys.push(Uint8Array.from(key));
      }
    }
    return keys.sort(compare).slice(0, limit);
  }

  /** Staged writes, in the order of their keys (`value: null` is a delete). */
  writes(): Write[] {
    return [...this.overlay.values()].sort((a, b) => compare(a.key, b.key));
  }

  get size(): number {
    return this.overlay.size;
  }

  private committed(key: Bytes): Bytes | undefined {
    return this.committedState.getSync(key);
  }
}

/** A staged write of copies of `key` and `value`; `decoded` (see Write.decoded) only when given. */
function staged(key: Bytes, value: Bytes, decoded: unknown): Write {
  const write: Write = { key: copyBytes(key), value: copyBytes(value) };
  if (decoded !== undefined) write.decoded = decoded;
  return write;
}

function startsWith(key: Bytes, prefix: Bytes): boolean {
  if (key.byteLength < prefix.byteLength) return false;
  for (let i = 0; i < prefix.byteLength; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

/** The smallest key greater than every key with `prefix`, or undefined when there is none (all 0xff). */
export function prefixEnd(prefix: Bytes): Bytes | undefined {
  const end = Uint8Array.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return undefined;
}
