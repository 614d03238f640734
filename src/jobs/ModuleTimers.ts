import type { Bytes, ModuleStore, Write } from '../store/EngineStore.ts';
import { isReserved, RESERVED_PREFIX } from '../host/store.ts';

/** A timer as stored: at a time (epoch ms), or once block `block` of chain `chain` is handled. */
export type TimerSpec = { at: number } | { chain: string; block: string };

/** A stored timer of one module. */
export interface Timer {
  tag: string;
  spec: TimerSpec;
  /** The stored value, to tell this timer from a later one of the same tag. */
  raw: string;
}

const PREFIX = Uint8Array.from([...RESERVED_PREFIX, ...Buffer.from('timer/')]);
const PREFIX_END = Uint8Array.from([...RESERVED_PREFIX, ...Buffer.from('timer0')]); // '0' follows '/'

/** The store key of a module's timer with this tag (in the reserved range modules cannot touch). */
export function timerKey(tag: string): Bytes {
  return Uint8Array.from([...PREFIX, ...Buffer.from(tag, 'utf8')]);
}

function tagOf(key: Bytes): string | undefined {
  if (key.length < PREFIX.length || PREFIX.some((b, i) => key[i] !== b)) return undefined;
  return Buffer.from(key.subarray(PREFIX.length)).toString('utf8');
}

export function timerValue(spec: TimerSpec): Bytes {
  return Buffer.from(JSON.stringify(spec), 'utf8');
}

/**
 * One module's pending timers, mirrored from its store: loaded when the module starts, then kept in
 * step with every commit's writes (a handler that sets, moves or cancels a timer, a fired timer's
 * deletion, a reorg's undo). The store is the truth; this is its index for the engine's scheduling.
 */
export class ModuleTimers {
  private readonly timers = new Map<string, Timer>();

  static async load(store: ModuleStore): Promise<ModuleTimers> {
    const timers = new ModuleTimers();
    for await (const key of store.keys({ gte: PREFIX, lt: PREFIX_END, limit: 1_000_000 })) {
      const value = await store.get(key);
      if (value) timers.put(key, value);
    }
    return timers;
  }

  /** Applies a commit's writes; true when a timer changed. */
  apply(writes: readonly Write[]): boolean {
    let changed = false;
    for (const write of writes) {
      if (!isReserved(write.key)) continue;
      const tag = tagOf(write.key);
      if (tag === undefined) continue;
      changed = true;
      if (write.value === null) this.timers.delete(tag);
      else this.put(write.key, write.value);
    }
    return changed;
  }

  /** Time timers due at `now`, earliest first. */
  dueAt(now: number): Timer[] {
    return [...this.timers.values()].filter((t) => 'at' in t.spec && t.spec.at <= now).sort((a, b) => (a.spec as { at: number }).at - (b.spec as { at: number }).at);
  }

  /** Block timers of `chain` at or below `block`, lowest first. */
  dueBlock(chain: bigint, block: bigint): Timer[] {
    return [...this.timers.values()]
      .filter((t) => 'chain' in t.spec && BigInt(t.spec.chain) === chain && BigInt(t.spec.block) <= block)
      .sort((a, b) => Number(BigInt((a.spec as { block: string }).block) - BigInt((b.spec as { block: string }).block)));
  }

  /** The earliest time timer for which `skip` is false, if any. */
  next(skip: (timer: Timer) => boolean = () => false): number | undefined {
    let next: number | undefined;
    for (const t of this.timers.values()) if ('at' in t.spec && (next === undefined || t.spec.at < next) && !skip(t)) next = t.spec.at;
    return next;
  }

  /** Every pending timer, by tag. */
  list(): Timer[] {
    return [...this.timers.values()].sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  }

  get(tag: string): Timer | undefined {
    return this.timers.get(tag);
  }

  get size(): number {
    return this.timers.size;
  }

  private put(key: Bytes, value: Bytes): void {
    const tag = tagOf(key)!;
    const raw = Buffer.from(value).toString('utf8');
    let spec: TimerSpec;
    try {
      spec = JSON.parse(raw) as TimerSpec;
    } catch {
      return; // only corral writes these keys: an unreadable one is skipped, not fatal
    }
    this.timers.set(tag, { tag, spec, raw });
  }
}
