/**
 * Everything the engine keeps durably, behind one interface: each module's state, its cursors (one per
 * event source), its reorg journal, and the supervisor's circuit breakers. LevelDB (`LevelStore`) is
 * the one backend today; nothing outside src/store/ knows which backend runs.
 */

export type Bytes = Uint8Array;

/** One staged write: `value: null` deletes the key. */
export interface Write {
  key: Bytes;
  value: Bytes | null;
  /**
   * The value as its writer had it before encoding it (a task, src/jobs/Job.ts), for a reader of the
   * commit in this process (the runner's index), which then need not parse it again. Stores ignore it.
   */
  decoded?: unknown;
}

/**
 * A block a module handled while it was within the reorg window: enough to undo it. `prev` is the
 * cursor the step started from (where undoing it leaves the module); `undo` lists every key the
 * handling wrote with its value before (null: it did not exist), which an undo restores unless another
 * source wrote the key since (see planUndo, ReorgMarks; an earlier block of another chain undone since
 * may have rewritten that value, see `Commit.rebase`); `payload` is the engine's own record of what
 * was delivered (the logs, to re-deliver them with `removed = true`).
 */
export interface JournalEntry {
  number: bigint;
  hash: string;
  prev: { number: bigint; hash: string; origin?: boolean };
  undo: Write[];
  payload: unknown;
}

/** What one successful event (or block) commits, in one atomic write. */
export interface Commit {
  writes: readonly Write[];
  /**
   * Written in the same batch as `writes` but kept out of the undo record: corral's own bookkeeping
   * about `writes` (reorg marks, see ReorgMarks), which an undo of this commit must not touch.
   */
  bookkeeping?: readonly Write[];
  /** Change of the module's stored bytes. */
  sizeDelta: number;
  /** The cursor of the source the event came from (`chain:<id>` or `custom`), JSON-serialisable. */
  cursor?: { source: string; value: unknown };
  /** Reorg journal changes of one chain; `record` captures the undo of `writes` against committed state. */
  journal?: {
    chainId: bigint;
    record?: Omit<JournalEntry, 'undo'>;
    /** Entries removed: undone by this commit (see `undone`), or pruned beyond the window. */
    remove?: readonly bigint[];
    /**
     * The entries of `remove` are undone by this commit (a reorg abandoned their blocks), not pruned:
     * what those blocks caused is taken back with them (see ReorgMarks), where a pruned block's stays.
     */
    undone?: true;
  };
  /**
   * Undo records of other blocks rewritten in the same batch: in the entry of block `number` of
   * `chainId`, `key`'s value before the block becomes `value` (see ReorgMarks: a block undone under a
   * later block of another chain hands that block its own value before).
   */
  rebase?: readonly Rebase[];
}

/** One key of one journal entry rewritten (see `Commit.rebase`). */
export interface Rebase {
  chainId: bigint;
  number: bigint;
  key: Bytes;
  value: Bytes | null;
}

/** A module's committed state as its invocations read it (the overlay of src/store/StateTransaction.ts). */
export interface CommittedReader {
  getSync(key: Bytes): Bytes | undefined;
  /** Keys in byte order within the range, `limit` at most. */
  keys(range: { gt?: Bytes; gte?: Bytes; lt?: Bytes; limit: number }): AsyncIterable<Bytes>;
}

export interface ModuleStore extends CommittedReader {
  readonly name: string;
  /** Key + value bytes committed so far. */
  readonly storedBytes: number;
  get(key: Bytes): Promise<Bytes | undefined>;
  /** The cursor committed with the module's last event from `source`, or undefined. */
  cursor(source: string): Promise<unknown>;
  /** Every source's cursor. */
  cursors(): Promise<Record<string, unknown>>;
  /** The journal of one chain, oldest first. */
  journal(chainId: bigint): Promise<JournalEntry[]>;
  /** Writes, cursor, stored size and journal changes in one atomic batch: after a crash, all or none. */
  commit(commit: Commit): Promise<void>;
  /**
   * True when commits are applied in the order `commit` was called, and `storedBytes` counts a commit
   * from that call on: a caller may ask for the next commit before the last is durable (one without
   * `journal` or `rebase`), and a later commit is never durable without the earlier ones (after a
   * failed one, every later one fails too). See GuardedModuleStore.
   */
  readonly ordered?: boolean;
}

/** A circuit breaker as the supervisor saves it (see src/supervisor/BreakerStore.ts). */
export interface StoredBreaker {
  state: 'open' | 'half-open' | 'closed';
  cooldownMs: number;
  at: number;
}

/**
 * One module's committed state as of one moment: every commit whole or not at all (a step's writes,
 * cursor and size land in one batch), never a commit in flight. Read-only; for the live read API and
 * module queries, which must neither see half a step nor hold up the next one.
 */
export interface ModuleReadView extends CommittedReader {
  readonly name: string;
  get(key: Bytes): Promise<Bytes | undefined>;
  cursors(): Promise<Record<string, unknown>>;
  /** Keys with their values, in byte order within the range, `limit` at most (-1: all): a page in one read, not a read per key. */
  entries(range: { gt?: Bytes; gte?: Bytes; lt?: Bytes; limit: number }): AsyncIterable<[Bytes, Bytes]>;
  /** Key + value bytes committed as of the view. */
  storedBytes(): Promise<number>;
}

/** A consistent view over every module's committed state; `close` releases it (a LevelDB snapshot, a PostgreSQL transaction). */
export interface ReadView {
  /** Undefined for a module with no state here. */
  module(name: string): Promise<ModuleReadView | undefined>;
  close(): Promise<void>;
}

export interface EngineStore {
  module(name: string): Promise<ModuleStore>;
  /** A view of committed state as of now, until closed (see ReadView). */
  readView(): Promise<ReadView>;
  /** Names of every module that has state, cursors or a journal here. */
  moduleNames(): Promise<string[]>;
  breakers: {
    load(actor: string): StoredBreaker | undefined;
    /** Does not wait; a failed write is reported to the store's error handler, never thrown. */
    save(actor: string, record: StoredBreaker): void;
  };
  close(): Promise<void>;
}
