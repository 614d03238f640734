import { resolve } from 'node:path';
import { Level } from 'level';
import { EngineError } from '../errors/EngineError.ts';
import type { Bytes, Commit, EngineStore, JournalEntry, ModuleStore, ReadView, Rebase, StoredBreaker, Write } from './EngineStore.ts';
import { LevelReadView } from './LevelReadView.ts';
import { allocBytes } from './copyBytes.ts';
import { decodeEntry, encodeEntry } from './journalCodec.ts';

type Sublevel = ReturnType<typeof bytesSublevel>;
const bytesSublevel = (db: Level<Bytes, Bytes>, name: string) => db.sublevel<Bytes, Bytes>(name, { keyEncoding: 'view', valueEncoding: 'view' });

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SIZE_KEY = encoder.encode('stored-bytes');
const cursorKey = (source: string) => encoder.encode(`cursor/${source}`);
/** Journal keys sort by chain, then block number: both as fixed-width hex. */
const journalKey = (chainId: bigint, number: bigint) => encoder.encode(`${hex64(chainId)}/${hex64(number)}`);
const hex64 = (n: bigint) => n.toString(16).padStart(16, '0');
/** Module names become sublevel prefixes: keep them to characters that cannot forge a prefix. */
const MODULE_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** The state directories a LevelStore of this process has open (resolved paths). */
const OPEN_STORES = new Set<string>();

/**
 * The engine's state in one LevelDB database. Per module: a data sublevel (its keys), a meta sublevel
 * (cursors and stored size) and a journal sublevel (undo records of recent blocks); sublevel prefixes
 * are computed once. One event's writes, cursor, size and journal changes go in a single batch.
 */
export class LevelStore implements EngineStore {
  private readonly modules = new Map<string, LevelModuleStore>();
  private readonly writer: GroupCommit;
  private readonly registry;
  private readonly breakerLevel;
  readonly breakers: EngineStore['breakers'];
  private breakerWrites: Promise<void> = Promise.resolve();

  private constructor(
    private readonly db: Level<Bytes, Bytes>,
    onError: (error: Error) => void,
    private readonly location: string,
  ) {
    this.writer = new GroupCommit(db, onError);
    this.registry = db.sublevel<string, string>('modules', { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    this.breakerLevel = db.sublevel<string, string>('breakers', { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    this.breakers = {
      // Synchronous, at actor start. Writes go out without waiting, in order.
      load: (actor) => {
        const raw = this.breakerLevel.getSync(actor);
        return raw === undefined ? undefined : (JSON.parse(raw) as StoredBreaker);
      },
      // One after another: LevelDB runs concurrent puts on a thread pool and they can land out of order,
      // so a `half-open` then `open` saved in quick succession could restart as `half-open`.
      save: (actor, record) => {
        this.breakerWrites = this.breakerWrites.then(() => this.breakerLevel.put(actor, JSON.stringify(record))).catch(onError);
      },
    };
  }

  /** Opens (creating) the database in `directory`; `onError` hears of breaker writes that failed. */
  static async open(directory: string, onError: (error: Error) => void = () => {}): Promise<LevelStore> {
    // multithreading: the read API's thread opens this database too and shares its LevelDB instance
    // (LevelReadView's openLevelReads). That also lets a second open in this process share it, where
    // LevelDB's lock used to refuse it: two writers on one state are refused here instead.
    const location = resolve(directory);
    if (OPEN_STORES.has(location)) throw new EngineError('invalid-option', `the state directory ${directory} is already open in this process`, { option: 'stateDir', stateDir: directory });
    OPEN_STORES.add(location);
    try {
      const db = new Level<Bytes, Bytes>(directory, { keyEncoding: 'view', valueEncoding: 'view', multithreading: true });
      await db.open();
      return new LevelStore(db, onError, location);
    } catch (error) {
      OPEN_STORES.delete(location);
      throw error;
    }
  }

  async module(name: string): Promise<ModuleStore> {
    if (!MODULE_NAME.test(name)) {
      throw new EngineError('invalid-option', `module name ${JSON.stringify(name)} must match ${MODULE_NAME}`, { module: name });
    }
    let state = this.modules.get(name);
    if (!state) {
      const meta = bytesSublevel(this.db, `m-${name}`);
      const size = await meta.get(SIZE_KEY);
      state = new LevelModuleStore(name, this.db, this.writer, bytesSublevel(this.db, `d-${name}`), meta, bytesSublevel(this.db, `j-${name}`), size ? Number(decoder.decode(size)) : 0);
      if ((await this.registry.get(name)) === undefined) await this.registry.put(name, '');
      this.modules.set(name, state);
    }
    return state;
  }

  async moduleNames(): Promise<string[]> {
    return this.registry.keys().all();
  }

  async readView(): Promise<ReadView> {
    const snapshot = this.db.snapshot();
    return new LevelReadView(this.db, snapshot, async (name) => {
      if (!MODULE_NAME.test(name)) return undefined;
      if (!this.modules.has(name) && (await this.registry.get(name, { snapshot })) === undefined) return undefined;
      return { name, dataPrefix: prefixOf(bytesSublevel(this.db, `d-${name}`)), metaPrefix: prefixOf(bytesSublevel(this.db, `m-${name}`)) };
    });
  }

  async close(): Promise<void> {
    await this.writer.idle(); // commits asked for before the close are written, not refused
    await this.breakerWrites;
    try {
      return await this.db.close();
    } finally {
      OPEN_STORES.delete(this.location);
    }
  }
}

/**
 * One operation of a batch on the root database, its key already under its sublevel's prefix: level's
 * per-operation sublevel handling (option spread, encodings, a new prefixed key on V8's heap) was a
 * third of a commit's main-thread time for a job's three operations. The bytes are the same.
 */
type Operation = { type: 'put' | 'del'; key: Bytes; value?: Bytes };

/** Puts `key` under a sublevel's prefix (its global prefix, as UTF-8 bytes: `!name!`). */
function under(prefix: Bytes, key: Bytes): Bytes {
  const out = allocBytes(prefix.byteLength + key.byteLength);
  out.set(prefix);
  out.set(key, prefix.byteLength);
  return out;
}
const prefixOf = (sublevel: Sublevel): Bytes => encoder.encode(sublevel.prefix);

/**
 * Group commit: the batches asked for while one is being written (or within one turn of the event
 * loop) go to LevelDB as one batch. Each commit stays all-or-nothing (a merged batch is atomic as a
 * whole); what changes is the number of LevelDB writes when many modules and jobs commit at once
 * (measured: 20,000 job commits across ten modules spent 11 % of the main thread in `batch` calls).
 */
class GroupCommit {
  private pending: { operations: Operation[]; last: Map<object, Operation>; done: { resolve: () => void; reject: (error: unknown) => void }[] } | undefined;
  private writing = false;
  /** A batch failed: every later one fails too, since it may build on what that one wrote (see ModuleStore.ordered). */
  private failed: unknown;

  constructor(
    private readonly db: Level<Bytes, Bytes>,
    private readonly onError: (error: Error) => void,
  ) {}

  /**
   * Writes `operations` in the next batch, in the order asked for; `final`, when given, goes at the end
   * of the batch, in place of any earlier `final` of the same `owner` there (a module's stored size).
   */
  write(operations: Operation[], owner?: object, final?: Operation): Promise<void> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      if (!this.pending) {
        this.pending = { operations: [], last: new Map(), done: [] };
        if (!this.writing) setImmediate(() => this.flush());
      }
      for (const operation of operations) this.pending.operations.push(operation);
      if (owner && final) this.pending.last.set(owner, final);
      this.pending.done.push({ resolve, reject });
    });
  }

  /** Resolves once every batch asked for so far is written (or failed). */
  async idle(): Promise<void> {
    while (this.pending || this.writing) await new Promise((resolve) => setImmediate(resolve));
  }

  private flush(): void {
    const group = this.pending;
    if (!group || this.writing) return;
    this.pending = undefined;
    if (this.failed !== undefined) {
      for (const d of group.done) d.reject(this.failed);
      return;
    }
    this.writing = true;
    for (const operation of group.last.values()) group.operations.push(operation);
    this.db.batch(group.operations as never).then(
      () => {
        for (const d of group.done) d.resolve();
      },
      (error: unknown) => {
        // Said once, loudly: from here every module's commits fail until the engine restarts (a
        // later batch may build on what this one wrote), and each failure alone only names its module.
        if (this.failed === undefined) this.onError(new Error(`LevelDB refused a batch (${error instanceof Error ? error.message : String(error)}): every later commit is refused until the engine is restarted; state committed before it is intact`, { cause: error }));
        this.failed = error;
        for (const d of group.done) d.reject(error);
      },
    ).finally(() => {
      this.writing = false;
      if (this.pending) this.flush();
    });
  }
}

class LevelModuleStore implements ModuleStore {
  private readonly dataPrefix: Bytes;
  private readonly metaPrefix: Bytes;
  private readonly journalPrefix: Bytes;
  private readonly sizeKey: Bytes;

  constructor(
    readonly name: string,
    private readonly db: Level<Bytes, Bytes>,
    private readonly writer: GroupCommit,
    private readonly data: Sublevel,
    private readonly meta: Sublevel,
    private readonly journalLevel: Sublevel,
    public storedBytes: number,
  ) {
    this.dataPrefix = prefixOf(data);
    this.metaPrefix = prefixOf(meta);
    this.journalPrefix = prefixOf(journalLevel);
    this.sizeKey = under(this.metaPrefix, SIZE_KEY);
  }

  async get(key: Bytes): Promise<Bytes | undefined> {
    const value = await this.data.get(key);
    return value === undefined ? undefined : Uint8Array.from(value);
  }

  /** On the root, under the data prefix (see `Operation`): every `store.set` reads the key it replaces. */
  getSync(key: Bytes): Bytes | undefined {
    return this.db.getSync(under(this.dataPrefix, key)) ?? undefined;
  }

  keys(range: { gt?: Bytes; gte?: Bytes; lt?: Bytes; limit: number }): AsyncIterable<Bytes> {
    return this.data.keys(range);
  }

  async cursor(source: string): Promise<unknown> {
    const raw = await this.meta.get(cursorKey(source));
    return raw ? JSON.parse(decoder.decode(raw)) : undefined;
  }

  async cursors(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    const prefix = encoder.encode('cursor/');
    for await (const [key, value] of this.meta.iterator({ gte: prefix, lt: encoder.encode('cursor0') })) {
      out[decoder.decode(key).slice(prefix.length)] = JSON.parse(decoder.decode(value));
    }
    return out;
  }

  async journal(chainId: bigint): Promise<JournalEntry[]> {
    const entries: JournalEntry[] = [];
    const range = { gte: journalKey(chainId, 0n), lte: journalKey(chainId, (1n << 64n) - 1n) };
    for await (const value of this.journalLevel.values(range)) entries.push(decodeEntry(decoder.decode(value)));
    return entries;
  }

  /** Ordered (see ModuleStore.ordered): the batch takes its place in the group commit's order when this is called, unless it rewrites journal entries (`rebase`, read first). */
  readonly ordered = true;

  commit(commit: Commit): Promise<void> {
    try {
      return this.ask(commit);
    } catch (error) {
      return Promise.reject(error); // e.g. a cursor JSON cannot hold: a failed commit, like any other
    }
  }

  private ask(commit: Commit): Promise<void> {
    const operations: Operation[] = [];
    const data = this.dataPrefix;
    for (const { key, value } of commit.writes) operations.push(value === null ? { type: 'del', key: under(data, key) } : { type: 'put', key: under(data, key), value });
    for (const { key, value } of commit.bookkeeping ?? []) operations.push(value === null ? { type: 'del', key: under(data, key) } : { type: 'put', key: under(data, key), value });
    if (commit.cursor) operations.push({ type: 'put', key: under(this.metaPrefix, cursorKey(commit.cursor.source)), value: json(commit.cursor.value) });
    const { journal } = commit;
    if (journal) {
      for (const number of journal.remove ?? []) operations.push({ type: 'del', key: under(this.journalPrefix, journalKey(journal.chainId, number)) });
      if (journal.record) {
        // The undo of this commit's writes (not its bookkeeping): each key's committed value before it.
        const undo: Write[] = commit.writes.map(({ key }) => ({ key, value: this.getSync(key) ?? null }));
        const entry: JournalEntry = { ...journal.record, undo };
        operations.push({ type: 'put', key: under(this.journalPrefix, journalKey(journal.chainId, entry.number)), value: encoder.encode(encodeEntry(entry)) });
      }
    }
    if (commit.rebase && commit.rebase.length > 0) return this.rebased(commit.rebase).then((rebased) => this.write([...operations, ...rebased], commit.sizeDelta));
    return this.write(operations, commit.sizeDelta);
  }

  /** Counts the commit's size from now (the next commit's is computed from it), and writes it with the stored size. */
  private async write(operations: Operation[], sizeDelta: number): Promise<void> {
    this.storedBytes += sizeDelta;
    try {
      // The stored size is the same key in every commit of the module: a group keeps only the last.
      await this.writer.write(operations, this, { type: 'put', key: this.sizeKey, value: json(this.storedBytes) });
    } catch (error) {
      this.storedBytes -= sizeDelta;
      throw error;
    }
  }

  /**
   * The journal entries `rebase` rewrites, read now and put back in the commit's batch. A module's
   * commits come one at a time, so no write of the entry is pending while it is read; an entry that is
   * gone (pruned) has nothing to rewrite.
   */
  private async rebased(rebase: readonly Rebase[]): Promise<Operation[]> {
    const entries = new Map<string, { key: Bytes; entry: JournalEntry }>();
    for (const { chainId, number, key, value } of rebase) {
      const entryKey = journalKey(chainId, number);
      const id = decoder.decode(entryKey);
      let found = entries.get(id);
      if (!found) {
        const raw = await this.journalLevel.get(entryKey);
        if (raw === undefined) continue;
        entries.set(id, (found = { key: entryKey, entry: decodeEntry(decoder.decode(raw)) }));
      }
      for (const write of found.entry.undo) if (Buffer.compare(write.key, key) === 0) write.value = value;
    }
    return [...entries.values()].map(({ key, entry }) => ({ type: 'put', key: under(this.journalPrefix, key), value: encoder.encode(encodeEntry(entry)) }));
  }
}

const json = (value: unknown) => encoder.encode(JSON.stringify(value));
