import type pg from 'pg';
import { EngineError } from '../../errors/EngineError.ts';
import type { Bytes, Commit, JournalEntry, ModuleStore, StoredBreaker } from '../EngineStore.ts';
import { decodeEntry, encodeEntry } from '../journalCodec.ts';
import { keyId } from '../StateTransaction.ts';
import { isConnectionError } from './connect.ts';

/** A module's whole committed state, held in memory while this replica owns it (so `getSync` stays synchronous). */
export interface ModuleState {
  kv: Map<string, Bytes>;
  /** Source → the cursor as JSON text (parsed at each read: callers get a fresh value, as from LevelDB). */
  cursors: Map<string, string>;
  /** Chain → block number → the encoded entry (decoded at each read, for the same reason). */
  journal: Map<bigint, Map<bigint, string>>;
  breaker: StoredBreaker | undefined;
  storedBytes: number;
}

/** What a module store needs of its PostgresStore. */
export interface ModuleContext {
  pool: pg.Pool;
  /** The quoted schema name. */
  schema: string;
  commitText: string;
  /** A commit unanswered this long (the lease period) counts as cut off: its outcome is unknown. */
  commitTimeoutMs: number;
  /** Why this replica's lease is gone, if it is (its commits are refused locally from that instant). */
  leaseLost(): Error | undefined;
  /** The module is not this replica's any more (`fenced`) or its cached state may be wrong (`commit-failed`). */
  /** `module` is the store itself: a stale instance (the module re-acquired since) must not evict the new one. */
  onLost(module: PostgresModuleStore, reason: 'fenced' | 'commit-failed', error: Error): void;
}

/** Loads one module's state: four reads over the pool, after the epoch bump (so they see every earlier owner's commit). */
export async function loadModuleState(pool: pg.Pool, s: string, id: number): Promise<ModuleState> {
  const [meta, kv, cursors, journal, breaker] = await Promise.all([
    pool.query(`select stored_bytes from ${s}.modules where id = $1`, [id]),
    pool.query(`select k, v from ${s}.kv where module_id = $1`, [id]),
    pool.query(`select source, value::text as value from ${s}.cursors where module_id = $1`, [id]),
    pool.query(`select chain_id, number, entry from ${s}.journal where module_id = $1`, [id]),
    pool.query(`select record from ${s}.breakers where module_id = $1`, [id]),
  ]);
  const state: ModuleState = { kv: new Map(), cursors: new Map(), journal: new Map(), breaker: breaker.rows[0]?.record, storedBytes: Number(meta.rows[0]?.stored_bytes ?? 0) };
  for (const row of kv.rows as { k: Buffer; v: Buffer }[]) state.kv.set(keyId(row.k), toBytes(row.v));
  for (const row of cursors.rows as { source: string; value: string }[]) state.cursors.set(row.source, row.value);
  for (const row of journal.rows as { chain_id: string; number: string; entry: string }[]) chainOf(state.journal, BigInt(row.chain_id)).set(BigInt(row.number), row.entry);
  return state;
}

/**
 * A module's store on PostgreSQL while this replica owns it under `epoch`. Reads come from the cached
 * state (except `keys`, a range query: bytea sorts in memcmp order, as LevelDB's keys do); a commit is
 * one fenced statement (commitSql.ts) and reaches the cache only once the database has it.
 *
 * Refused from then on (`refusal`): after a fence (another replica's epoch), after a commit whose
 * outcome is unknown (the connection failed mid-statement: the cache may be wrong), after a release,
 * and whenever the lease is lost.
 */
export class PostgresModuleStore implements ModuleStore {
  private refusal: Error | undefined;
  private inFlight: Promise<unknown> | undefined;

  constructor(
    readonly name: string,
    readonly id: number,
    /** The fencing token; undefined for a read-only view (`mode: 'read'`). */
    readonly epoch: bigint | undefined,
    private readonly context: ModuleContext,
    private state: ModuleState,
  ) {}

  /** Replaces the cached state with one loaded afresh under the same epoch (after `importModule` wrote it). */
  reload(state: ModuleState): void {
    this.state = state;
  }

  get storedBytes(): number {
    return this.state.storedBytes;
  }

  /** Keys cached, for the replica's cache budget. */
  get keyCount(): number {
    return this.state.kv.size;
  }

  get breaker(): StoredBreaker | undefined {
    return this.state.breaker;
  }

  set breaker(record: StoredBreaker | undefined) {
    this.state.breaker = record;
  }

  /** The cached value itself (the hot path: every guest read); callers treat committed bytes as read-only. */
  getSync(key: Bytes): Bytes | undefined {
    return this.state.kv.get(keyId(key));
  }

  /** A copy, as LevelStore's `get` gives. */
  async get(key: Bytes): Promise<Bytes | undefined> {
    const value = this.getSync(key);
    return value === undefined ? undefined : Uint8Array.from(value);
  }

  keys(range: { gt?: Bytes; gte?: Bytes; lt?: Bytes; limit: number }): AsyncIterable<Bytes> {
    const { pool, schema } = this.context;
    const where = ['module_id = $1'];
    const values: unknown[] = [this.id];
    if (range.gt) where.push(`k > $${values.push(range.gt)}`);
    if (range.gte) where.push(`k >= $${values.push(range.gte)}`);
    if (range.lt) where.push(`k < $${values.push(range.lt)}`);
    const limit = range.limit >= 0 ? ` limit ${Math.floor(range.limit)}` : '';
    const text = `select k from ${schema}.kv where ${where.join(' and ')} order by k${limit}`;
    return (async function* () {
      if (range.limit === 0) return;
      const { rows } = await pool.query(text, values);
      for (const row of rows as { k: Buffer }[]) yield toBytes(row.k);
    })();
  }

  async cursor(source: string): Promise<unknown> {
    const raw = this.state.cursors.get(source);
    return raw === undefined ? undefined : JSON.parse(raw);
  }

  async cursors(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const [source, raw] of this.state.cursors) out[source] = JSON.parse(raw);
    return out;
  }

  async journal(chainId: bigint): Promise<JournalEntry[]> {
    const entries = this.state.journal.get(chainId);
    if (!entries) return [];
    return [...entries.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, raw]) => decodeEntry(raw));
  }

  /** Refuses every later commit with `error` (the first refusal stays). */
  refuse(error: Error): void {
    this.refusal ??= error;
  }

  /** Resolves once the commit in flight (if any) has ended. */
  async settled(): Promise<void> {
    while (this.inFlight) await this.inFlight.catch(() => {});
  }

  async commit(commit: Commit): Promise<void> {
    const run = this.apply(commit);
    this.inFlight = run;
    try {
      await run;
    } finally {
      if (this.inFlight === run) this.inFlight = undefined;
    }
  }

  /** The same outcome as LevelStore's commit for the same Commit: writes then bookkeeping, last wins; the undo of `writes` from committed values. */
  private async apply(commit: Commit): Promise<void> {
    if (this.epoch === undefined) throw new EngineError('invalid-option', `module ${this.name} was opened read-only (mode 'read'): it cannot commit`, { module: this.name });
    const refused = this.refusal ?? this.context.leaseLost();
    if (refused) throw refused instanceof EngineError ? refused : new EngineError('store-lost', `module ${this.name} no longer commits: its lease is gone`, { module: this.name }, refused);

    const { kv, journal: cachedJournal } = this.state;
    const merged = new Map<string, { key: Bytes; value: Bytes | null }>();
    for (const write of commit.writes) merged.set(keyId(write.key), write);
    for (const write of commit.bookkeeping ?? []) merged.set(keyId(write.key), write);
    const putK: Bytes[] = [];
    const putV: Bytes[] = [];
    const delK: Bytes[] = [];
    let keyCount = kv.size;
    for (const [id, { key, value }] of merged) {
      if (value === null) {
        delK.push(key);
        if (kv.has(id)) keyCount--;
      } else {
        putK.push(key);
        putV.push(value);
        if (!kv.has(id)) keyCount++;
      }
    }
    const storedBytes = this.state.storedBytes + commit.sizeDelta;

    // Journal operations in LevelStore's batch order (removes, the record, the rebased entries), last one per entry winning.
    const journalOps = new Map<string, { chainId: bigint; number: bigint; entry: string | null }>();
    const { journal } = commit;
    if (journal) {
      for (const number of journal.remove ?? []) journalOps.set(`${journal.chainId}/${number}`, { chainId: journal.chainId, number, entry: null });
      if (journal.record) {
        const undo = commit.writes.map(({ key }) => ({ key, value: this.getSync(key) ?? null }));
        const entry: JournalEntry = { ...journal.record, undo };
        journalOps.set(`${journal.chainId}/${entry.number}`, { chainId: journal.chainId, number: entry.number, entry: encodeEntry(entry) });
      }
    }
    const rebased = new Map<string, { chainId: bigint; number: bigint; entry: JournalEntry }>();
    for (const { chainId, number, key, value } of commit.rebase ?? []) {
      const id = `${chainId}/${number}`;
      let found = rebased.get(id);
      if (!found) {
        const raw = cachedJournal.get(chainId)?.get(number);
        if (raw === undefined) continue; // pruned: nothing to rewrite
        rebased.set(id, (found = { chainId, number, entry: decodeEntry(raw) }));
      }
      for (const write of found.entry.undo) if (Buffer.compare(write.key, key) === 0) write.value = value;
    }
    for (const [id, { chainId, number, entry }] of rebased) journalOps.set(id, { chainId, number, entry: encodeEntry(entry) });

    const jdelC: bigint[] = [];
    const jdelN: bigint[] = [];
    const jputC: bigint[] = [];
    const jputN: bigint[] = [];
    const jputE: string[] = [];
    for (const { chainId, number, entry } of journalOps.values()) {
      if (entry === null) {
        jdelC.push(chainId);
        jdelN.push(number);
      } else {
        jputC.push(chainId);
        jputN.push(number);
        jputE.push(entry);
      }
    }
    const cursorJson = commit.cursor ? (JSON.stringify(commit.cursor.value) ?? 'null') : undefined;

    let fenced: number;
    try {
      // query_timeout is read by pg's client.query but missing from its types.
      const query: pg.QueryConfig & { query_timeout: number } = {
        name: 'corral-commit',
        text: this.context.commitText,
        query_timeout: this.context.commitTimeoutMs,
        values: [this.id, this.epoch, storedBytes, putK, putV, delK, commit.cursor ? [commit.cursor.source] : [], cursorJson === undefined ? [] : [cursorJson], jdelC, jdelN, jputC, jputN, jputE, keyCount],
      };
      const result = await this.context.pool.query(query);
      fenced = (result.rows[0] as { fenced: number }).fenced;
    } catch (error) {
      if (!isConnectionError(error)) throw error; // the server answered: the statement rolled back, the cache is right
      const lost = new EngineError('store-lost', `the commit of module ${this.name} may or may not have been written (the connection failed mid-statement): the module must be loaded afresh`, { module: this.name, epoch: this.epoch }, error);
      this.refuse(lost);
      this.context.onLost(this, 'commit-failed', lost);
      throw lost;
    }
    if (fenced === 0) {
      const error = new EngineError('fenced', `module ${this.name} is owned by another replica now (epoch ${this.epoch} is stale): nothing was written`, { module: this.name, epoch: this.epoch });
      this.refuse(error);
      this.context.onLost(this, 'fenced', error);
      throw error;
    }

    for (const [id, { value }] of merged) {
      if (value === null) kv.delete(id);
      else kv.set(id, Uint8Array.from(value));
    }
    if (commit.cursor) this.state.cursors.set(commit.cursor.source, cursorJson ?? 'null');
    for (const { chainId, number, entry } of journalOps.values()) {
      if (entry === null) cachedJournal.get(chainId)?.delete(number);
      else chainOf(cachedJournal, chainId).set(number, entry);
    }
    this.state.storedBytes = storedBytes;
  }
}

function chainOf(journal: Map<bigint, Map<bigint, string>>, chainId: bigint): Map<bigint, string> {
  let entries = journal.get(chainId);
  if (!entries) journal.set(chainId, (entries = new Map()));
  return entries;
}

/** A copy with its own ArrayBuffer: pg's small Buffers share 8 KiB pool slabs, which a long-lived cache would pin. */
const toBytes = (buffer: Buffer): Bytes => Uint8Array.from(buffer);
