import type { Bytes, CommittedReader, Write } from './EngineStore.ts';

/** Overlay map key: one char per byte (latin1 is the cheapest exact encoding of bytes as a string). */
const hex = (key: Bytes) => Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
const compare = (a: Bytes, b: Bytes) => Buffer.compare(a, b);

/**
 * The writes of one invocation, held in memory. The module's own reads see them at once; nothing
 * reaches LevelDB unless the invocation succeeds and the engine commits (with the cursor).
 */
export class StateTransaction {
  private readonly overlay = new Map<string, Write>();
  /** Change of the module's stored bytes if this commits. */
  sizeDelta = 0;

  constructor(private readonly committedState: CommittedReader) {}

  get(key: Bytes): Bytes | undefined {
    const staged = this.overlay.get(hex(key));
    if (staged) return staged.value ?? undefined;
    return this.committed(key);
  }

  /**
   * Stages a write. `admit`, when given, sees the module's size change this write would bring the
   * invocation to, and may throw to refuse it before anything is staged.
   */
  set(key: Bytes, value: Bytes, admit?: (sizeDelta: number) => void): void {
    const previous = this.get(key);
    const sizeDelta = this.sizeDelta + key.byteLength + value.byteLength - (previous === undefined ? 0 : key.byteLength + previous.byteLength);
    admit?.(sizeDelta);
    this.sizeDelta = sizeDelta;
    this.overlay.set(hex(key), { key: Uint8Array.from(key), value: Uint8Array.from(value) });
  }

  delete(key: Bytes): void {
    const previous = this.get(key);
    if (previous !== undefined) this.sizeDelta -= key.byteLength + previous.byteLength;
    this.overlay.set(hex(key), { key: Uint8Array.from(key), value: null });
  }

  /** Up to `limit` keys with `prefix`, after `after` (exclusive), in byte order; staged writes included. */
  async listKeys(prefix: Bytes, after: Bytes | undefined, limit: number): Promise<Bytes[]> {
    const inRange = (key: Bytes) => startsWith(key, prefix) && (after === undefined || compare(key, after) > 0);
    const staged = [...this.overlay.values()].filter((w) => inRange(w.key));
    const deleted = new Set(staged.filter((w) => w.value === null).map((w) => hex(w.key)));
    const keys: Bytes[] = staged.filter((w) => w.value !== null).map((w) => w.key);
    const range: { gte?: Bytes; gt?: Bytes; lt?: Bytes; limit: number } = { limit: limit + deleted.size };
    if (after && compare(after, prefix) >= 0) range.gt = after;
    else range.gte = prefix;
    const end = prefixEnd(prefix);
    if (end) range.lt = end;
    for await (const key of this.committedState.keys(range)) {
      if (!deleted.has(hex(key)) && !this.overlay.has(hex(key))) keys.push(Uint8Array.from(key));
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
