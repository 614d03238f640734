import type { Bytes, ModuleStore, Write } from '../store/EngineStore.ts';
import { keyId, prefixEnd } from '../store/StateTransaction.ts';
import { startsWith, tagOfIndexKey, timerKey } from '../store/reservedKeys.ts';
import { decodeTimer, type Timer } from './timerWrites.ts';

/**
 * The first entries of one timer index (src/jobs/timerWrites.ts), in key order, held in memory: every
 * stored entry up to `end` (all of them once `complete`), at most `capacity`. The rest stays in
 * LevelDB and is read, in key order, when the window runs low (`fill`). So memory and the work of
 * a start are bounded by `capacity`, whatever the number of timers stored.
 *
 * Commits reach the window through `apply`: an entry within the window is added or removed; one past
 * `end` is left to a later `fill`. A fill reads from a snapshot while commits go on, so the writes
 * applied meanwhile are replayed over what it read.
 */
export class TimerWindow {
  /** Latin1 ids (they sort as the bytes do) of the entries held, in order, and their timers. */
  private ids: string[] = [];
  private readonly timers = new Map<string, Timer>();
  /** The id of the last key the window covers; undefined with nothing read yet. */
  private end: string | undefined;
  private complete = false;
  private filling: Promise<void> | undefined;
  private recorded: Write[] | undefined;
  /** Index keys read from the store so far (what a start costs, for tests and metrics). */
  keysRead = 0;

  constructor(
    private readonly store: Pick<ModuleStore, 'keys' | 'getSync'>,
    private readonly prefix: Bytes,
    readonly capacity: number,
  ) {}

  get size(): number {
    return this.ids.length;
  }

  /** Whether a fill should start: fewer than a quarter of `capacity` held and more stored. */
  get low(): boolean {
    return !this.complete && this.filling === undefined && this.ids.length < this.capacity / 4;
  }

  /** The held timers, in key order. */
  entries(): IterableIterator<Timer> {
    const { ids, timers } = this;
    return (function* () {
      for (const id of ids) yield timers.get(id)!;
    })();
  }

  /** Reads the entries past `end` until the window is full (or the index ends). One at a time. */
  fill(): Promise<void> {
    if (this.complete) return Promise.resolve();
    this.filling ??= this.read().finally(() => (this.filling = undefined));
    return this.filling;
  }

  /** A commit's writes: true when one touched this index. */
  apply(writes: readonly Write[]): boolean {
    let changed = false;
    for (const write of writes) {
      if (!startsWith(write.key, this.prefix)) continue;
      changed = true;
      this.recorded?.push(write);
      const id = keyId(write.key);
      if (this.covers(id)) this.put(id, write);
    }
    if (changed && this.recorded === undefined) this.trim();
    return changed;
  }

  private covers(id: string): boolean {
    return this.complete || (this.end !== undefined && id <= this.end);
  }

  private async read(): Promise<void> {
    const from = this.end;
    const want = Math.max(1, this.capacity - this.ids.length);
    this.recorded = [];
    try {
      const lt = prefixEnd(this.prefix)!;
      const range = from === undefined ? { gte: this.prefix, lt, limit: want } : { gt: Buffer.from(from, 'latin1'), lt, limit: want };
      let read = 0;
      let last: string | undefined;
      for await (const key of this.store.keys(range)) {
        read++;
        this.keysRead++;
        last = keyId(key);
        const value = this.store.getSync(key);
        if (value !== undefined) this.put(last, { key, value });
      }
      if (read < want) this.complete = true;
      else this.end = last;
      // What committed while the read ran, past the old end: the read may or may not have seen it.
      for (const write of this.recorded) {
        const id = keyId(write.key);
        if ((from === undefined || id > from) && this.covers(id)) this.put(id, write);
      }
    } finally {
      this.recorded = undefined;
    }
    this.trim();
  }

  private put(id: string, write: Write): void {
    const index = this.search(id);
    const present = this.ids[index] === id;
    if (write.value === null) {
      if (present) this.ids.splice(index, 1);
      this.timers.delete(id);
      return;
    }
    const tag = tagOfIndexKey(write.key);
    const timer = tag === undefined ? undefined : decodeTimer(tag, write.value);
    // An index entry is only a timer while its tag's own key holds the same timer. A reorg's undo
    // restores keys one by one and may keep a later write of the timer key (another source moved it)
    // while restoring an older index entry: held, that stale entry would be fired, refused as stale,
    // and picked again, for ever.
    const current = tag === undefined ? undefined : this.store.getSync(timerKey(tag));
    if (!timer || current === undefined || Buffer.compare(current, write.value) !== 0) {
      if (present) this.ids.splice(index, 1);
      this.timers.delete(id);
      return;
    }
    if (!present) this.ids.splice(index, 0, id);
    this.timers.set(id, timer);
  }

  /** Past `capacity`, the last entries go back to being read from the store later. */
  private trim(): void {
    if (this.ids.length <= this.capacity) return;
    for (const id of this.ids.splice(this.capacity)) this.timers.delete(id);
    this.end = this.ids[this.ids.length - 1];
    this.complete = false;
  }

  /** The position of `id` in `ids`, or where it would go. */
  private search(id: string): number {
    let lo = 0;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ids[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
