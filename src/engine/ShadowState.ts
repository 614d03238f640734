import type { Bytes, CommittedReader } from '../store/EngineStore.ts';
import type { GuardedModuleStore } from '../store/GuardedModuleStore.ts';
import { keyId } from '../store/StateTransaction.ts';

/** A live step's claim on the state it started from, until its candidate run is done with it. */
export interface StateHold {
  /** Commits heard before the step began: the ones after it are what its state lacks. */
  readonly mark: number;
}

/** One commit as heard: the value each key it writes had just before (`null`: absent). */
interface Heard {
  seq: number;
  before: Map<string, Bytes | null>;
  /** Key and value bytes of its pre-images. */
  bytes: number;
}

type Range = { gt?: Bytes; gte?: Bytes; lt?: Bytes; limit: number };
const compare = (a: Bytes, b: Bytes) => Buffer.compare(a, b);

/**
 * The state each queued live step started from, for its candidate run (ModuleShadow), without a
 * LevelDB snapshot per live step: a snapshot cost about a quarter of a live step (measured: the shadow's
 * bookkeeping alone was 1.33× a plain step with a snapshot per step, 1.05× without). Instead, every
 * commit of the module while some step holds its state is heard as it is handed to the store, with the
 * value each key it writes had just before (GuardedModuleStore.watchPreImages, one `getSync` per key
 * written). A step's state is then the current state (`getSync`, which sees commits not yet durable)
 * with, for each key written since the step began, the pre-image of the earliest commit since then on
 * top. Commits of every kind count (the module's own steps, skipped or not, its jobs, the runner's
 * bookkeeping), so the state is exactly the one a snapshot at the step's beginning would have given.
 * Nothing is heard while no step holds a state, and commits no held step needs are dropped at once.
 */
export class ShadowState {
  private seq = 0;
  private log: Heard[] = [];
  /** In the order they were taken, so the first has the smallest mark. */
  private holds: StateHold[] = [];
  /** Key and value bytes of the pre-images kept. */
  private bytes = 0;

  /**
   * `over` is called as a commit is heard that takes the pre-images kept past `maxCommits` or
   * `maxBytes`: it releases holds (the oldest first) until they fit. It is the one place the bound is
   * kept, so no path of commits (a full queue, a long candidate step) grows them without end.
   */
  constructor(
    private readonly store: GuardedModuleStore,
    private readonly over: () => void = () => {},
    private readonly maxCommits = Infinity,
    private readonly maxBytes = Infinity,
  ) {}

  /** Whether the pre-images kept pass the bound. */
  get overBound(): boolean {
    return this.log.length > this.maxCommits || this.bytes > this.maxBytes;
  }

  /** The state as of now, kept until `release`. */
  hold(): StateHold {
    if (this.holds.length === 0) this.store.watchPreImages((before) => this.heardCommit(before));
    const hold = { mark: this.seq };
    this.holds.push(hold);
    return hold;
  }

  /** The step is done with its state (its candidate ran, or it will not run). Idempotent. */
  release(hold: StateHold): void {
    const at = this.holds.indexOf(hold);
    if (at < 0) return;
    this.holds.splice(at, 1);
    if (this.holds.length === 0) {
      this.store.watchPreImages(undefined);
      this.log = [];
      this.bytes = 0;
      return;
    }
    const oldest = this.holds[0]!.mark;
    let drop = 0;
    while (drop < this.log.length && this.log[drop]!.seq <= oldest) this.bytes -= this.log[drop++]!.bytes;
    if (drop > 0) this.log = this.log.slice(drop);
  }

  /** Commits heard and not yet dropped (they must be freed once no held state needs them). */
  get heard(): number {
    return this.log.length;
  }

  /** Key and value bytes of the pre-images kept. */
  get heardBytes(): number {
    return this.bytes;
  }

  private heardCommit(before: Map<string, Bytes | null>): void {
    let bytes = 0;
    for (const [id, value] of before) bytes += id.length + (value?.byteLength ?? 0);
    this.bytes += bytes;
    this.log.push({ seq: ++this.seq, before, bytes });
    if (this.overBound) this.over();
  }

  /** The module's committed state as it was when `hold` was taken (valid until it is released). */
  reader(hold: StateHold): CommittedReader {
    const { store } = this;
    return {
      getSync: (key) => {
        const before = this.before(hold, keyId(key));
        return before === undefined ? store.getSync(key) : (before ?? undefined);
      },
      keys: (range) => this.keys(hold, range),
    };
  }

  /** The pre-image of `id` in the earliest commit since `hold` that wrote it; undefined when none did. */
  private before(hold: StateHold, id: string): Bytes | null | undefined {
    for (const heard of this.log) if (heard.seq > hold.mark && heard.before.has(id)) return heard.before.get(id)!;
    return undefined;
  }

  /** Ids of the keys in `range` written since `hold`. */
  private changedIn(hold: StateHold, range: Range): Set<string> {
    const changed = new Set<string>();
    for (const heard of this.log) {
      if (heard.seq <= hold.mark) continue;
      for (const id of heard.before.keys()) if (!changed.has(id) && inRange(Buffer.from(id, 'latin1'), range)) changed.add(id);
    }
    return changed;
  }

  /**
   * The keys in `range` as of `hold`, in byte order, `limit` at most. The store's listing is of some
   * state since the hold (it waits for the commits asked for so far), where only keys written since
   * can stand otherwise: each one is settled by its pre-image (dropped when it was absent, added back
   * when it was deleted since). Those keys may take places in the store's listing, so it is asked for
   * as many more; should commits during the listing write more keys of the range than that, it is
   * asked again with room for them.
   */
  private async *keys(hold: StateHold, range: Range): AsyncGenerator<Bytes> {
    let room = this.changedIn(hold, range).size;
    for (;;) {
      const listed: Bytes[] = [];
      // A limit of -1 is LevelDB's "all".
      const asked = range.limit < 0 ? -1 : range.limit + room;
      for await (const key of this.store.keys({ ...range, limit: asked })) listed.push(Uint8Array.from(key));
      // From here to the end, synchronously: the pre-images and the listing are of the same moment.
      const changed = this.changedIn(hold, range);
      if (asked >= 0 && listed.length === asked && changed.size > room) {
        room = changed.size;
        continue;
      }
      const keys = listed.filter((key) => !changed.has(keyId(key)));
      for (const id of changed) {
        const before = this.before(hold, id);
        if (before !== null) keys.push(Buffer.from(id, 'latin1'));
      }
      keys.sort(compare);
      const out = range.limit < 0 ? keys : keys.slice(0, range.limit);
      for (const key of out) yield key;
      return;
    }
  }
}

function inRange(key: Bytes, range: Range): boolean {
  if (range.gt !== undefined && compare(key, range.gt) <= 0) return false;
  if (range.gte !== undefined && compare(key, range.gte) < 0) return false;
  if (range.lt !== undefined && compare(key, range.lt) >= 0) return false;
  return true;
}
