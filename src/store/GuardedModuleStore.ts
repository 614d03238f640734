import type { Bytes, Commit, ModuleStore, Write } from './EngineStore.ts';
import { keyId, StateTransaction } from './StateTransaction.ts';

/** Why a job's commit was refused: a concurrent commit or the event in flight depends on what it read or writes. */
export type CommitConflict = 'conflict';

/** A commit's turn, as `inTurn` runs it: its result, when its commit is durable, and what the next turn waits for. */
interface Turn<T> {
  result: T;
  durable?: Promise<void>;
  next?: Promise<void>;
}

interface Logged {
  seq: number;
  keys: Set<string>;
}

/**
 * A module's store as its invocations use it once events and jobs run side by side: commits are
 * applied one at a time, in the order they were asked for, and the state stays serialisable under
 * optimistic concurrency.
 *
 * - Events run one at a time (the actor's mailbox) and always commit. Their reads are live: the
 *   event in flight is known here from the start of its turn until it ends.
 * - A job runs on a snapshot-free overlay too, and its commit is refused (`'conflict'`; the runner
 *   re-runs it) when a commit since the job began wrote a key the job read or listed, or when the event
 *   in flight has read or listed a key the job writes.
 *
 * So every committed invocation behaves as if it ran alone at its commit: no lost update between a
 * job and an event, or two jobs, writing the same key. Job conflicts are expected to be rare (jobs
 * and events of one module usually touch different keys); each one costs a re-run of the job.
 */
/**
 * Stages writes with `stage` and commits them: through `commitWith` when `store` is a running engine's
 * guarded store (so sizes are counted when the commit's turn comes), else at once (a stopped engine's
 * state, e.g. `corral retry-job`). Resolves with whether anything was committed.
 */
export async function commitStaged(store: ModuleStore, stage: (tx: StateTransaction) => boolean): Promise<boolean> {
  if (store instanceof GuardedModuleStore) return store.commitWith(stage);
  const tx = new StateTransaction(store);
  if (!stage(tx) || tx.size === 0) return false;
  await store.commit({ writes: tx.writes(), sizeDelta: tx.sizeDelta });
  return true;
}

export class GuardedModuleStore implements ModuleStore {
  private seq = 0;
  /** Commits since the oldest job in flight began: what a job's reads are checked against. */
  private log: Logged[] = [];
  private readonly jobsInFlight = new Map<StateTransaction, number>();
  private liveEvent: StateTransaction | undefined;
  /** Resolves when the next commit may take its turn (see `inTurn`). */
  private tail: Promise<unknown> = Promise.resolve();
  /**
   * Commits handed to the store and not yet durable, oldest first, with their writes by key id: a read
   * in the meantime must not see the old value. More than one only when the store is `ordered`.
   */
  private applying: { writes: Map<string, Uint8Array | null>; durable: Promise<void> }[] = [];
  private changeWaiters: (() => void)[] = [];
  /** The store applies commits in the order they were asked for (ModuleStore.ordered): see `inTurn`. */
  private readonly pipelined: boolean;
  /** Hears each commit's pre-images as it is handed to the store (see `watchPreImages`). */
  private preImages: ((before: Map<string, Bytes | null>) => void) | undefined;

  /** `onCommit` hears the writes of every commit once applied (the jobs' timer and task indexes follow them: src/jobs/Jobs.ts). */
  constructor(
    private readonly inner: ModuleStore,
    private readonly onCommit: (writes: readonly Write[]) => void = () => {},
  ) {
    this.pipelined = inner.ordered === true;
  }

  /** An event is running and has read the module's state. */
  get eventInFlight(): boolean {
    return this.liveEvent !== undefined;
  }

  get name(): string {
    return this.inner.name;
  }
  get storedBytes(): number {
    return this.inner.storedBytes;
  }
  get: ModuleStore['get'] = (key) => this.inner.get(key);
  /** Sees a commit from the moment it passed its check, before LevelDB has applied it (see `apply`). */
  getSync: ModuleStore['getSync'] = (key) => {
    if (this.applying.length > 0) {
      const id = keyId(key);
      for (let i = this.applying.length - 1; i >= 0; i--) {
        const writes = this.applying[i]!.writes;
        if (writes.has(id)) return writes.get(id) ?? undefined;
      }
    }
    return this.inner.getSync(key);
  };
  /** A commit handed to the store and not yet durable writes `key`. */
  committing(key: Bytes): boolean {
    if (this.applying.length === 0) return false;
    const id = keyId(key);
    return this.applying.some((a) => a.writes.has(id));
  }
  /**
   * From now on, `listener` hears of every commit as it is handed to the store: the value each key it
   * writes (writes and bookkeeping) had just before, by key id (`null`: absent). It is called
   * synchronously, before `getSync` sees the commit, so what it hears and `getSync` together give the
   * state at any moment since (a shadow run's state: src/engine/ShadowState.ts, in place of a LevelDB
   * snapshot per live step). One listener; `undefined` stops.
   */
  watchPreImages(listener: ((before: Map<string, Bytes | null>) => void) | undefined): void {
    this.preImages = listener;
  }
  /** Waits for the commits asked for so far to be durable: a listing sees them all. */
  keys: ModuleStore['keys'] = (range) => {
    const { inner } = this;
    const settled = this.settled();
    return (async function* () {
      await settled;
      yield* inner.keys(range);
    })();
  };
  cursor: ModuleStore['cursor'] = (source) => this.inner.cursor(source);
  cursors: ModuleStore['cursors'] = () => this.inner.cursors();
  journal: ModuleStore['journal'] = (chainId) => this.inner.journal(chainId);

  /**
   * A transaction for an event. It is made when the event is queued (a reorg step stages its undo in it
   * then), but counts as the event in flight only from `beginEvent`, when its turn comes, to `endEvent`.
   */
  eventTransaction(): StateTransaction {
    return new StateTransaction(this);
  }

  /** The event's turn has come: from now until `endEvent`, no job may commit a key it has read or listed. */
  beginEvent(transaction: StateTransaction): void {
    this.liveEvent = transaction;
  }

  /** The event's turn is over (committed, dropped, or refused at its turn). */
  endEvent(transaction: StateTransaction): void {
    if (this.liveEvent !== transaction) return;
    this.liveEvent = undefined;
    this.changed();
  }

  /** A transaction for a job: checked at its commit against everything committed after this moment. */
  jobTransaction(): StateTransaction {
    const tx = new StateTransaction(this);
    this.jobsInFlight.set(tx, this.seq);
    return tx;
  }

  /** The job's transaction ended without a commit (the job failed, or its module went away). */
  abandon(transaction: StateTransaction): void {
    if (this.jobsInFlight.delete(transaction)) this.trim();
  }

  /** Commits a job's transaction (with `extra` writes of the runner's own) unless it conflicts. */
  commitJob(transaction: StateTransaction, commit: Commit): Promise<'committed' | CommitConflict> {
    return this.inTurn<'committed' | CommitConflict>(() => {
      const since = this.jobsInFlight.get(transaction) ?? this.seq;
      this.jobsInFlight.delete(transaction);
      const conflict = this.log.some((entry) => entry.seq > since && transaction.dependsOnAny(entry.keys)) || (this.liveEvent !== undefined && [...transaction.writtenIds()].some((id) => this.liveEvent!.dependsOn(Buffer.from(id, 'latin1'))));
      if (conflict) {
        this.trim();
        return { result: 'conflict' as const };
      }
      return this.apply<'committed' | CommitConflict>(commit, 'committed');
    });
  }

  /** Any other commit (an event's): applied in turn, never refused. */
  commit(commit: Commit): Promise<void> {
    return this.inTurn(() => this.apply(commit, undefined));
  }

  /**
   * An event's commit that is only valid if `stillValid()` holds when its turn comes, after every
   * commit queued before it (the runner's bookkeeping may land between an event's start and its
   * commit); resolves with whether it committed.
   */
  commitIf(commit: Commit, stillValid: () => boolean): Promise<boolean> {
    return this.inTurn(() => (stillValid() ? this.apply(commit, true) : { result: false }));
  }

  /**
   * A commit built when its turn comes, from the state as the commits before it left it: the runner's
   * bookkeeping (a task rescheduled, dead-lettered, skipped), whose sizes and conditions must not be
   * computed against a state a commit queued ahead of it is about to change. `build` stages its
   * writes and answers false to commit nothing (e.g. the task is gone meanwhile); resolves with whether it committed.
   */
  commitWith(build: (state: StateTransaction) => boolean): Promise<boolean> {
    return this.inTurn(() => {
      const tx = new StateTransaction(this);
      if (!build(tx) || tx.size === 0) return { result: false };
      return this.apply({ writes: tx.writes(), sizeDelta: tx.sizeDelta }, true);
    });
  }

  /** Resolves at the module's next commit, or when the event in flight ends: when a refused job may try again. */
  nextChange(): Promise<void> {
    return new Promise((resolve) => this.changeWaiters.push(resolve));
  }

  /** Resolves once every commit asked for so far is durable (or failed). */
  private async settled(): Promise<void> {
    await this.tail;
    await Promise.all(this.applying.map((a) => a.durable.catch(() => {})));
  }

  /**
   * Runs `step` when its turn comes, and resolves with its result once its commit is durable. A
   * commit's turn comes when the one before it was handed to the store, not when it is durable, if
   * the store applies commits in the order they were asked for (`ordered`, LevelDB's group commit) and
   * neither commit records or rewrites a journal entry (whose undo is read from the durable state): so
   * the commits of a module's jobs and events go to LevelDB together, in one batch, instead of one
   * batch per commit with a thread-pool round trip between them. Otherwise (PostgreSQL, a block's
   * commit) a commit's turn comes once the one before it is durable.
   */
  private inTurn<T>(step: () => Turn<T> | Promise<Turn<T>>): Promise<T> {
    const turn = this.tail.then(step);
    this.tail = turn.then(
      (t) => t.next,
      () => {},
    );
    return turn.then((t) => (t.durable ? t.durable.then(() => t.result) : t.result));
  }

  /** Hands `commit` to the store in its turn; see `inTurn`. */
  private apply<T>(commit: Commit, result: T): Turn<T> | Promise<Turn<T>> {
    const pipelined = this.pipelined && commit.journal === undefined && commit.rebase === undefined;
    // Waits for the commits already handed on, not for `tail`: this runs inside a turn, and `tail` is
    // that turn's own chain (waiting on it deadlocked a block's commit after a job's).
    if (!pipelined && this.applying.length > 0) return Promise.all(this.applying.map((a) => a.durable.catch(() => {}))).then(() => this.apply(commit, result));
    const writes = new Map(commit.writes.map((w) => [keyId(w.key), w.value]));
    if (this.preImages) {
      const before = new Map<string, Bytes | null>();
      for (const { key } of commit.writes) before.set(keyId(key), this.getSync(key) ?? null);
      for (const { key } of commit.bookkeeping ?? []) before.set(keyId(key), this.getSync(key) ?? null);
      this.preImages(before);
    }
    // Logged at once, durable or not: a job may read the values from `applying` meanwhile, and a
    // commit after this one is checked against it before this one is durable.
    if (this.jobsInFlight.size > 0) this.log.push({ seq: ++this.seq, keys: new Set(writes.keys()) });
    else this.seq++;
    let entry!: { writes: Map<string, Uint8Array | null>; durable: Promise<void> };
    const durable = this.inner.commit(commit).then(
      () => {
        this.applying.splice(this.applying.indexOf(entry), 1);
        this.trim();
        // After the log: a job started by what this commit enqueued begins after it.
        this.onCommit(commit.writes);
        this.changed();
      },
      (error: unknown) => {
        this.applying.splice(this.applying.indexOf(entry), 1);
        this.trim();
        throw error;
      },
    );
    entry = { writes, durable };
    this.applying.push(entry);
    return { result, durable, next: pipelined ? undefined : durable.catch(() => {}) };
  }

  /** Drops log entries no job in flight can conflict with. */
  private trim(): void {
    if (this.jobsInFlight.size === 0) {
      this.log = [];
      return;
    }
    const oldest = Math.min(...this.jobsInFlight.values());
    if (this.log.length > 0 && this.log[0]!.seq <= oldest) this.log = this.log.filter((entry) => entry.seq > oldest);
  }

  private changed(): void {
    for (const resolve of this.changeWaiters.splice(0)) resolve();
  }
}
