import { Level } from 'level';
import type { Bytes, ModuleReadView, ReadView } from './EngineStore.ts';

type Snapshot = ReturnType<Level<Bytes, Bytes>['snapshot']>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Where one module's keys live in the root database (see LevelStore: `!d-<name>!`, `!m-<name>!`). */
export interface LevelModuleLayout {
  name: string;
  dataPrefix: Bytes;
  metaPrefix: Bytes;
}

/**
 * Reads of committed state through one LevelDB snapshot. A step's writes, cursor and stored size go
 * in one batch (LevelStore's GroupCommit only ever merges whole batches), so a snapshot sees each
 * commit whole or not at all. Reads are asynchronous (libuv's pool) except `getSync`, which a query
 * on a worker's host call needs; none takes the module's commit turn.
 */
export class LevelReadView implements ReadView {
  private closed = false;

  constructor(
    private readonly db: Level<Bytes, Bytes>,
    private readonly snapshot: Snapshot,
    private readonly layout: (name: string) => Promise<LevelModuleLayout | undefined>,
  ) {}

  /** The database's directory: where a read thread opens it too (see openLevelReads). */
  get location(): string {
    return this.db.location;
  }

  async module(name: string): Promise<ModuleReadView | undefined> {
    const layout = await this.layout(name);
    return layout && new LevelModuleReadView(this.db, this.snapshot, layout);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.snapshot.close();
  }
}

/**
 * Read views of the database at `location`, opened from another thread of the process that writes it
 * (the read API's thread, src/metrics/api/ReadThread.ts). classic-level's `multithreading` lets every
 * thread open one location and shares the one LevelDB instance among them (the writer opens it so
 * too, LevelStore.open), so a snapshot taken here sees exactly the batches the writer committed: each
 * step whole or not at all. Module names arrive checked (loaded modules): a module that never
 * committed reads as empty, as LevelStore's own view shows it.
 */
export async function openLevelReads(location: string): Promise<{ readView(): ReadView; close(): Promise<void> }> {
  const db = new Level<Bytes, Bytes>(location, { keyEncoding: 'view', valueEncoding: 'view', multithreading: true, createIfMissing: false });
  await db.open();
  const prefix = (name: string) => encoder.encode(db.sublevel(name).prefix);
  // Built once per module (a sublevel is a whole database object); as many as the engine loaded.
  const layouts = new Map<string, LevelModuleLayout>();
  const layout = async (name: string) => {
    let known = layouts.get(name);
    if (!known) layouts.set(name, (known = { name, dataPrefix: prefix(`d-${name}`), metaPrefix: prefix(`m-${name}`) }));
    return known;
  };
  return { readView: () => new LevelReadView(db, db.snapshot(), layout), close: () => db.close() };
}

class LevelModuleReadView implements ModuleReadView {
  readonly name: string;

  constructor(
    private readonly db: Level<Bytes, Bytes>,
    private readonly snapshot: Snapshot,
    private readonly layout: LevelModuleLayout,
  ) {
    this.name = layout.name;
  }

  async get(key: Bytes): Promise<Bytes | undefined> {
    return (await this.db.get(join(this.layout.dataPrefix, key), { snapshot: this.snapshot })) ?? undefined;
  }

  getSync(key: Bytes): Bytes | undefined {
    return this.db.getSync(join(this.layout.dataPrefix, key), { snapshot: this.snapshot }) ?? undefined;
  }

  async *keys(range: { gt?: Bytes; gte?: Bytes; lt?: Bytes; limit: number }): AsyncIterable<Bytes> {
    const prefix = this.layout.dataPrefix;
    for await (const key of this.db.keys(this.rangeOptions(range))) yield key.subarray(prefix.byteLength);
  }

  async *entries(range: { gt?: Bytes; gte?: Bytes; lt?: Bytes; limit: number }): AsyncIterable<[Bytes, Bytes]> {
    const prefix = this.layout.dataPrefix;
    for await (const [key, value] of this.db.iterator(this.rangeOptions(range))) yield [key.subarray(prefix.byteLength), value];
  }

  /** A range of the module's keys as the root database's, on the snapshot. */
  private rangeOptions(range: { gt?: Bytes; gte?: Bytes; lt?: Bytes; limit: number }) {
    const prefix = this.layout.dataPrefix;
    return {
      snapshot: this.snapshot,
      limit: range.limit,
      ...(range.gt ? { gt: join(prefix, range.gt) } : { gte: join(prefix, range.gte ?? new Uint8Array()) }),
      lt: range.lt ? join(prefix, range.lt) : upperBound(prefix),
    };
  }

  async cursors(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    const from = join(this.layout.metaPrefix, encoder.encode('cursor/'));
    const to = join(this.layout.metaPrefix, encoder.encode('cursor0'));
    for await (const [key, value] of this.db.iterator({ gte: from, lt: to, snapshot: this.snapshot })) {
      out[decoder.decode(key.subarray(from.byteLength))] = JSON.parse(decoder.decode(value));
    }
    return out;
  }

  async storedBytes(): Promise<number> {
    const raw = await this.db.get(join(this.layout.metaPrefix, encoder.encode('stored-bytes')), { snapshot: this.snapshot });
    return raw ? Number(decoder.decode(raw)) : 0;
  }
}

function join(prefix: Bytes, key: Bytes): Bytes {
  const out = new Uint8Array(prefix.byteLength + key.byteLength);
  out.set(prefix);
  out.set(key, prefix.byteLength);
  return out;
}

/** The first key past every key starting with `prefix` (a sublevel prefix ends in `!`, never 0xff). */
function upperBound(prefix: Bytes): Bytes {
  const out = Uint8Array.from(prefix);
  out[out.length - 1]! += 1;
  return out;
}
