import type { ModuleReadView, ModuleStore, Write } from '../store/EngineStore.ts';
import { commitStaged } from '../store/GuardedModuleStore.ts';
import { DEFAULT_TIMER_WINDOW } from '../limits/defaults.ts';
import { AT_PREFIX, BLOCK_PREFIX, startsWith, tagOfTimerKey, TIMER_COUNT_KEY, TIMER_PREFIX, TIMER_PREFIX_END, timerKey } from '../store/reservedKeys.ts';
import { decodeTimer, indexKey, type Timer } from './timerWrites.ts';
import { TimerWindow } from './TimerWindow.ts';


/**
 * One module's pending timers as the engine schedules them: the earliest time timers and the
 * earliest block timers (two `TimerWindow`s over their indexes), kept in step with every commit's
 * writes (a handler that sets, moves or cancels a timer, a fired timer's deletion, a reorg's undo).
 * The store is the truth; this holds at most `capacity` of each kind, however many are stored.
 */
export class ModuleTimers {
  private readonly time: TimerWindow;
  private readonly blocks: TimerWindow;

  private constructor(
    private readonly store: ModuleStore,
    capacity: number,
  ) {
    this.time = new TimerWindow(store, AT_PREFIX, capacity);
    this.blocks = new TimerWindow(store, BLOCK_PREFIX, capacity);
  }

  /** Reads the first `capacity` timers of each kind (after indexing a state written before the index existed). */
  static async load(store: ModuleStore, capacity = DEFAULT_TIMER_WINDOW): Promise<ModuleTimers> {
    await indexOldTimers(store);
    const timers = new ModuleTimers(store, capacity);
    await Promise.all([timers.time.fill(), timers.blocks.fill()]);
    return timers;
  }

  /** Applies a commit's writes; true when a timer changed. */
  apply(writes: readonly Write[]): boolean {
    const time = this.time.apply(writes);
    const blocks = this.blocks.apply(writes);
    return time || blocks;
  }

  /** Up to `limit` time timers due at `now` for which `skip` is false, earliest first. */
  dueAt(now: number, limit: number, skip: (timer: Timer) => boolean): Timer[] {
    const due: Timer[] = [];
    for (const timer of this.time.entries()) {
      if (due.length >= limit || (timer.spec as { at: number }).at > now) break;
      if (!skip(timer)) due.push(timer);
    }
    return due;
  }

  /** Block timers of `chain` at or below `block` held in memory, lowest first. */
  dueBlock(chain: bigint, block: bigint): Timer[] {
    const due: Timer[] = [];
    for (const timer of this.blocks.entries()) {
      const spec = timer.spec as { chain: string; block: string };
      if (BigInt(spec.chain) === chain && BigInt(spec.block) <= block) due.push(timer);
    }
    return due;
  }

  /** The earliest time timer held for which `skip` is false, if any. */
  next(skip: (timer: Timer) => boolean = () => false): number | undefined {
    for (const timer of this.time.entries()) if (!skip(timer)) return (timer.spec as { at: number }).at;
    return undefined;
  }

  /** Reads more timers when a window runs low; resolves when done (at once when none did). */
  refill(): Promise<void> {
    const reads = [this.time, this.blocks].filter((w) => w.low).map((w) => w.fill());
    return reads.length === 0 ? Promise.resolve() : Promise.all(reads).then(() => {});
  }

  get low(): boolean {
    return this.time.low || this.blocks.low;
  }

  /** The timer stored under `tag` now (from the store, not the windows). */
  stored(tag: string): Timer | undefined {
    const value = this.store.getSync(timerKey(tag));
    return value === undefined ? undefined : decodeTimer(tag, value);
  }

  /** Timers held in memory. */
  get held(): number {
    return this.time.size + this.blocks.size;
  }

  /** Index keys read from the store since the load (the load's own included). */
  get keysRead(): number {
    return this.time.keysRead + this.blocks.keysRead;
  }
}

/** Every pending timer of a module, by tag, as a store or a read view holds them. */
export async function listTimers(store: Pick<ModuleReadView, 'keys' | 'get'>): Promise<Timer[]> {
  const timers: Timer[] = [];
  for await (const key of store.keys({ gte: TIMER_PREFIX, lt: TIMER_PREFIX_END, limit: -1 })) {
    const value = await store.get(key);
    const timer = value && decodeTimer(tagOfTimerKey(key)!, value);
    if (timer) timers.push(timer);
  }
  return timers;
}

/**
 * A state written before timers had an index and a count (no count key, some timer keys): each timer
 * gets its index key and the count is written last, so a crash meanwhile only means doing it again.
 * Once, at the first start on such a state.
 */
async function indexOldTimers(store: ModuleStore): Promise<void> {
  if (store.getSync(TIMER_COUNT_KEY) !== undefined) return;
  let count = 0;
  let batch: Timer[] = [];
  const flush = () =>
    commitStaged(store, (tx) => {
      for (const timer of batch) tx.set(indexKey(timer.tag, timer.spec), Buffer.from(timer.raw, 'utf8'));
      return true;
    });
  for await (const key of store.keys({ gte: TIMER_PREFIX, lt: TIMER_PREFIX_END, limit: -1 })) {
    if (!startsWith(key, TIMER_PREFIX)) continue;
    const value = store.getSync(key);
    const timer = value && decodeTimer(tagOfTimerKey(key)!, value);
    if (!timer) continue;
    count++;
    batch.push(timer);
    if (batch.length >= 1_000) {
      await flush();
      batch = [];
    }
  }
  if (count === 0) return;
  if (batch.length > 0) await flush();
  await commitStaged(store, (tx) => (tx.set(TIMER_COUNT_KEY, Buffer.from(String(count), 'utf8')), true));
}
