import { hostname } from 'node:os';
import type pg from 'pg';
import { EngineError } from '../../errors/EngineError.ts';
import { DEFAULT_POSTGRES, LEASE_SELF_FENCE_MS } from '../../limits/defaults.ts';
import type { ModuleStore, ReadView, StoredBreaker } from '../EngineStore.ts';
import { CUSTOM_SOURCE } from '../reservedKeys.ts';
import type { CustomEventRow, ModuleOwnership, OwnedStore, OwnershipLoss, ReplicaInfo, SqlClient, WakeChannel } from '../OwnedStore.ts';
import { breakerSql, commitSql } from './commitSql.ts';
import { connectClient, createPool, schemaIdent, storeError, targetOf } from './connect.ts';
import { FREEZE_LEASE, Lease, WAKE_CHANNELS } from './Lease.ts';
import { readOwnership, readReplicas } from './ownershipSql.ts';
import { PostgresReadView, ReadSlots } from './PostgresReadView.ts';
import { lockSpace, migrate, SCHEMA_VERSION, schemaVersion } from './migrate.ts';
import { type ModuleSnapshot, writeSnapshot } from './importSnapshot.ts';
import { loadModuleState, type ModuleContext, PostgresModuleStore } from './PostgresModuleStore.ts';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database`: commits and reads go through a pool on it. */
  url: string;
  /** A direct URL for the lease connection, when `url` goes through a transaction-mode bouncer. */
  leaseUrl?: string;
  schema?: string;
  /** This replica's name (for status; its id is numbered by the database). */
  replica?: string;
  pool?: number;
  /**
   * The lease period (DEFAULT_POSTGRES.leaseMs; at least 2 × LEASE_SELF_FENCE_MS): a replica that goes
   * silent loses its modules at most this long after its last heartbeat (the server's
   * idle_session_timeout), and stops committing LEASE_SELF_FENCE_MS before that on its own.
   */
  leaseMs?: number;
  /** Memory for the owned modules' cached state: stored bytes + CACHE_BYTES_PER_KEY per key. */
  cacheBytes?: number;
  /** `read`: no lease, no registration; `module(name)` gives read-only views (for `corral inspect`). */
  mode?: 'own' | 'read';
  /** Hears of failures nobody awaits: breaker saves, idle pool connections ended by the server. */
  onError?: (error: Error) => void;
  /** Test seam: the monotonic clock the lease's self-fence is measured on. */
  now?: () => number;
}

const MIN_LEASE_MS = 2 * LEASE_SELF_FENCE_MS;

/** Memory overhead of one cached key (Map entry, key string, Uint8Array), measured at ~400–460 B for small values. */
const CACHE_BYTES_PER_KEY = 400;

/**
 * corral's state in PostgreSQL, shared by replicas (the OwnedStore contract): each module is owned by
 * one replica under a lease (Lease.ts) and an epoch checked by every commit (commitSql.ts); while owned
 * its whole state is cached here (PostgresModuleStore.ts), so reads stay synchronous.
 *
 * `moduleNames()` lists only the modules this replica owns (in read mode: every module), so nothing
 * that walks every module's state (Jobs' sweep of absent modules) ever touches another replica's.
 */
export type { ModuleSnapshot };

export class PostgresStore implements OwnedStore {
  readonly backend = 'postgres' as const;
  readonly breakers: OwnedStore['breakers'];
  private readonly ids = new Map<string, number>();
  private readonly ownedModules = new Map<string, PostgresModuleStore>();
  /**
   * Module locks the current lease session holds, by name: also those of modules lost to a fence or a
   * failed commit, until `release` (advisory locks count re-entries, so a re-acquire must not lock twice).
   */
  private readonly locks = new Map<string, number>();
  private readonly acquiring = new Map<string, Promise<Awaited<ReturnType<OwnedStore['tryAcquire']>>>>();
  /** Breakers of actors that are not owned modules here: kept in memory only. */
  private readonly looseBreakers = new Map<string, StoredBreaker>();
  private readonly lostListeners = new Set<(loss: OwnershipLoss) => void>();
  private readonly wakeListeners = new Set<(channel: WakeChannel, payload?: string) => void>();
  private readonly context: ModuleContext;
  private declared: string[] = [];
  private breakerWrites: Promise<unknown> = Promise.resolve();
  private lease: Lease | undefined;
  private closed = false;
  /** Read views hold pooled connections: one fewer than the pool, so a commit always finds one (see ReadSlots). */
  private readonly readSlots: ReadSlots;
  /** Settles when the reconnect in flight (if any) has ended. */
  private reconnecting: Promise<void> = Promise.resolve();

  private constructor(
    private readonly pool: pg.Pool,
    private readonly s: string,
    private readonly options: Required<Pick<PostgresStoreOptions, 'url' | 'schema' | 'replica' | 'leaseMs' | 'cacheBytes' | 'mode'>> & PostgresStoreOptions,
    private readonly onError: (error: Error) => void,
    /** This schema's advisory lock namespaces (migrate.ts). */
    private readonly lockSpace: { modules: number; replicas: number },
  ) {
    this.readSlots = new ReadSlots(Math.max(1, (options.pool ?? DEFAULT_POSTGRES.pool) - 1));
    this.context = {
      pool,
      schema: s,
      commitText: commitSql(s),
      commitTimeoutMs: options.leaseMs,
      leaseLost: () => (this.lease ? this.lease.lost() : new EngineError('store-lost', `replica ${options.replica} has no lease`, {})),
      onLost: (module, reason, error) => {
        // Only the current incarnation: a commit of one lost earlier (a lease lost, the module acquired
        // again since) that fails late concerns nobody; evicting by name would stop the healthy new one.
        if (this.ownedModules.get(module.name) !== module) return;
        this.ownedModules.delete(module.name);
        this.emitLost({ reason, module: module.name, error });
      },
    };
    const breakerText = breakerSql(s);
    this.breakers = {
      load: (actor) => this.ownedModules.get(actor)?.breaker ?? this.looseBreakers.get(actor),
      save: (actor, record) => {
        const owned = this.ownedModules.get(actor);
        if (!owned) {
          this.looseBreakers.set(actor, record);
          return;
        }
        owned.breaker = record;
        // In order, as LevelStore's: two saves on different pool connections could land swapped.
        const values = [owned.id, owned.epoch, JSON.stringify(record)];
        this.breakerWrites = this.breakerWrites.then(() => this.pool.query(breakerText, values)).catch((error: Error) => this.onError(error));
      },
    };
  }

  /** Connects, migrates (own mode) or checks the schema version (read mode), and registers the replica's lease (own mode). */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const resolved = {
      ...options,
      schema: options.schema ?? DEFAULT_POSTGRES.schema,
      replica: options.replica ?? `${hostname()}-${process.pid}`,
      leaseMs: options.leaseMs ?? DEFAULT_POSTGRES.leaseMs,
      cacheBytes: options.cacheBytes ?? DEFAULT_POSTGRES.cacheBytes,
      mode: options.mode ?? 'own',
    };
    const s = schemaIdent(resolved.schema);
    if (!(resolved.leaseMs >= MIN_LEASE_MS)) {
      // The replica stops trusting its lease LEASE_SELF_FENCE_MS before it ends: a shorter lease leaves no time to commit.
      throw new EngineError('invalid-option', `store leaseMs ${resolved.leaseMs} must be at least ${MIN_LEASE_MS} (twice the self-fence margin)`, { leaseMs: resolved.leaseMs });
    }
    const onError = options.onError ?? (() => {});
    const target = targetOf(options.url);
    // One direct client for the migration: it is a transaction under an advisory xact lock.
    const client = await connectClient({ connectionString: options.url }, onError);
    let locks: { modules: number; replicas: number };
    try {
      if (resolved.mode === 'own') await migrate(client, resolved.schema, s);
      else {
        const version = await schemaVersion(client, resolved.schema, s);
        if (version > SCHEMA_VERSION) throw new EngineError('store-schema-newer', `the database has corral schema v${version} in "${resolved.schema}"; this corral knows up to v${SCHEMA_VERSION}`, { schema: resolved.schema, version, known: SCHEMA_VERSION });
        if (version === 0) throw new EngineError('unknown-module', `the database at ${target.host}:${target.port}/${target.database} has no corral schema "${resolved.schema}"`, { schema: resolved.schema });
      }
      locks = await lockSpace(client, s);
    } catch (error) {
      throw storeError(error, target);
    } finally {
      await client.end().catch(() => {});
    }
    const pool = createPool(options.url, options.pool ?? DEFAULT_POSTGRES.pool, resolved.leaseMs, onError);
    const store = new PostgresStore(pool, s, resolved, onError, locks);
    if (resolved.mode === 'own') {
      try {
        store.lease = await store.openLease();
      } catch (error) {
        await pool.end().catch(() => {});
        throw error;
      }
    }
    return store;
  }

  get replica(): { id: number; name: string } {
    return { id: this.lease?.replicaId ?? 0, name: this.options.replica };
  }

  async declare(names: readonly string[]): Promise<void> {
    this.requireOwn('declare');
    await this.ensureRows(names);
    this.declared = [...new Set([...this.declared, ...names])];
    await this.pool.query(`update ${this.s}.replicas set modules = $2 where id = $1`, [this.replica.id, this.declared]);
  }

  tryAcquire(name: string, options: { customStart?: boolean } = {}): ReturnType<OwnedStore['tryAcquire']> {
    this.requireOwn('tryAcquire');
    const owned = this.ownedModules.get(name);
    if (owned) return Promise.resolve({ epoch: owned.epoch! });
    let pending = this.acquiring.get(name);
    if (!pending) {
      pending = this.acquire(name, options.customStart === true).finally(() => this.acquiring.delete(name));
      this.acquiring.set(name, pending);
    }
    return pending;
  }

  private async acquire(name: string, customStart: boolean): ReturnType<OwnedStore['tryAcquire']> {
    const lease = this.liveLease();
    const id = (await this.ensureRows([name])).get(name)!;
    const { rows: sizes } = await this.pool.query(`select stored_bytes, key_count from ${this.s}.modules where id = $1`, [id]);
    const cost = Number(sizes[0].stored_bytes) + CACHE_BYTES_PER_KEY * Number(sizes[0].key_count);
    if (this.cacheUsed() + cost > this.options.cacheBytes) return { held: true, reason: 'cache-budget' };
    if (!this.locks.has(name)) {
      if (!(await lease.tryLock(id))) return { held: true, reason: 'owned-elsewhere' };
      this.locks.set(name, id);
    }
    try {
      // Every acquire takes a new epoch: a re-acquire never reuses a token a stale commit could still carry.
      // A module reading custom events gets its start position in the same statement when it has none:
      // taken by its first load instead, the events published between a first owner's acquire and a load
      // that never committed (it failed, or the owner stalled past its lease) were skipped by the next owner.
      const { rows } = await lease.query(
        `with bumped as (update ${this.s}.modules set epoch = epoch + 1, owner = $2, acquired_at = now() where id = $1 returning id, epoch),
         start as (insert into ${this.s}.cursors (module_id, source, value)
           select id, $3, jsonb_build_object('seq', (select coalesce(max(seq), 0) from ${this.s}.custom_events)) from bumped where $4
           on conflict (module_id, source) do nothing)
         select epoch from bumped`,
        [id, lease.replicaId, CUSTOM_SOURCE, customStart],
      );
      const epoch = BigInt(rows[0]!.epoch);
      const state = await loadModuleState(this.pool, this.s, id);
      const lost = lease.lost();
      if (lost || this.lease !== lease) throw lost ?? new EngineError('store-lost', `the lease of replica ${this.options.replica} was replaced while module ${name} loaded`, { module: name });
      this.ownedModules.set(name, new PostgresModuleStore(name, id, epoch, this.context, state));
      return { epoch };
    } catch (error) {
      if (this.locks.get(name) === id && this.lease === lease) {
        this.locks.delete(name);
        await lease.unlock(id).catch(() => {});
      }
      throw error;
    }
  }

  async release(name: string): Promise<boolean> {
    // Checked first: a lease found lost here drops every module (leaseLost) before we look at this one.
    const lease = this.lease;
    const live = () => lease !== undefined && lease === this.lease && !lease.lost();
    const wasLive = live();
    const module = this.ownedModules.get(name);
    if (module) {
      module.refuse(new EngineError('store-lost', `module ${name} was released by replica ${this.options.replica}`, { module: name }));
      await module.settled();
      if (this.ownedModules.get(name) === module) this.ownedModules.delete(name);
    }
    const id = this.locks.get(name);
    if (id !== undefined) {
      this.locks.delete(name);
      if (live()) await lease!.unlock(id);
    }
    // Released only if it was still ours to the end; otherwise it had been lost (lease or fence) already.
    return wasLive && module !== undefined && id !== undefined && live();
  }

  owned(): ReadonlyMap<string, bigint> {
    return new Map([...this.ownedModules].map(([name, module]) => [name, module.epoch!]));
  }

  async module(name: string): Promise<ModuleStore> {
    if (this.options.mode === 'read') return this.readOnlyView(name);
    const owned = this.ownedModules.get(name);
    if (owned) return owned;
    const result = await this.tryAcquire(name);
    if ('held' in result) {
      throw new EngineError('module-held', result.reason === 'cache-budget' ? `module ${name} would take replica ${this.options.replica} past its cache budget (${this.options.cacheBytes} bytes)` : `module ${name} is owned by another replica`, { module: name, reason: result.reason });
    }
    return this.ownedModules.get(name)!;
  }

  async moduleNames(): Promise<string[]> {
    if (this.options.mode === 'own') return [...this.ownedModules.keys()];
    const { rows } = await this.pool.query(`select name from ${this.s}.modules order by name`);
    return rows.map((row: { name: string }) => row.name);
  }

  /** A REPEATABLE READ READ ONLY transaction on one pooled connection (PostgresReadView), every module's committed state as of now. */
  readView(): Promise<ReadView> {
    return PostgresReadView.open(this.pool, this.s, this.readSlots);
  }

  replicas(): Promise<ReplicaInfo[]> {
    return readReplicas(this.pool, this.s, this.lockSpace);
  }

  ownership(): Promise<ModuleOwnership[]> {
    return readOwnership(this.pool, this.s, this.lockSpace);
  }

  onLost(listener: (loss: OwnershipLoss) => void): () => void {
    this.lostListeners.add(listener);
    // A lease lost before anyone listened (an event loop stalled past the self-fence during a start) is
    // told to the late listener too: otherwise the replica would never reconnect, owning nothing, silently.
    const lost = this.options.mode === 'own' && !this.closed ? this.lease?.lost() : undefined;
    if (lost) {
      queueMicrotask(() => {
        if (this.lostListeners.has(listener)) listener({ reason: 'lease', error: lost });
      });
    }
    return () => this.lostListeners.delete(listener);
  }

  onWake(listener: (channel: WakeChannel, payload?: string) => void): () => void {
    this.wakeListeners.add(listener);
    return () => this.wakeListeners.delete(listener);
  }

  async notify(channel: WakeChannel, payload?: string): Promise<void> {
    await this.pool.query('select pg_notify($1, $2)', [WAKE_CHANNELS[channel], payload ?? String(this.replica.id)]);
  }

  async reconnect(): Promise<void> {
    this.requireOwn('reconnect');
    const old = this.lease;
    if (old && !old.lost()) return;
    if (this.closed) throw new EngineError('stopped', `the store of replica ${this.options.replica} is closed`, {});
    await old?.close();
    this.locks.clear();
    const reconnecting = this.openLease();
    this.reconnecting = reconnecting.then(() => undefined, () => undefined);
    const lease = await reconnecting;
    if (this.closed) {
      // close() ran meanwhile and closed the old lease: this one would live on, a ghost replica
      // holding its lock and heartbeating, which placement counts as a candidate and the process as a handle.
      await lease.close();
      throw new EngineError('stopped', `the store of replica ${this.options.replica} closed while it reconnected`, {});
    }
    this.lease = lease;
    // Lost already (the server went again meanwhile): say so, so the caller tries again rather than idle.
    const lost = lease.lost();
    if (lost) throw lost;
  }

  appendCustom(topic: string, payload: string, traceparent?: string): Promise<bigint> {
    return this.publishIn(this.pool, topic, payload, traceparent);
  }

  /**
   * Publishes a custom event on the embedder's own connection, inside its transaction if one is open:
   * the event is delivered only if that transaction commits. The publication lock is then held until it
   * does, so keep such transactions short: publishers wait for each other.
   *
   * Why the lock: readers page by sequence (`seq > cursor`), so sequence order must be commit order. Without
   * it, a publisher taking seq 9 that commits after another's seq 10 would be skipped by a reader that had
   * already seen 10. The lock is the module namespace's id 0, which no module has. The row and the hint go in one statement: a NOTIFY is delivered only on commit.
   */
  async publishIn(client: SqlClient, topic: string, payload: string, traceparent?: string): Promise<bigint> {
    const { rows } = await client.query(
      `with publication as (select pg_advisory_xact_lock($4, 0)),
       e as (insert into ${this.s}.custom_events (topic, payload, traceparent) select $1, $2, $5 from publication returning seq)
       select seq::text as seq, pg_notify($3, seq::text) from e`,
      [topic, payload, WAKE_CHANNELS.custom, this.lockSpace.modules, traceparent ?? null],
    );
    return BigInt(rows[0].seq);
  }

  async readCustom(after: bigint, topics: readonly string[], limit: number): Promise<CustomEventRow[]> {
    // `order by e.seq`, not `seq`: a bare name orders by the output column, here the text cast (10 before 9),
    // and with the limit a batch would skip events.
    const { rows } = await this.pool.query(`select e.seq::text as seq, e.topic, e.payload, e.traceparent from ${this.s}.custom_events e where e.seq > $1 and e.topic = any($2) order by e.seq limit $3`, [after, topics, limit]);
    return rows.map((row: { seq: string; topic: string; payload: string; traceparent: string | null }) => ({ seq: BigInt(row.seq), topic: row.topic, payload: row.payload, ...(row.traceparent === null ? {} : { traceparent: row.traceparent }) }));
  }

  async lastCustom(): Promise<bigint> {
    const { rows } = await this.pool.query(`select coalesce(max(seq), 0)::text as seq from ${this.s}.custom_events`);
    return BigInt(rows[0].seq);
  }

  /**
   * Writes a whole module's state (for `corral store copy`) into a module this replica owns and that
   * holds nothing yet, in one transaction under its epoch; the cache is loaded afresh afterwards.
   */
  async importModule(name: string, snapshot: ModuleSnapshot): Promise<void> {
    const module = this.ownedModules.get(name);
    if (!module) throw new EngineError('module-held', `module ${name} must be owned by this replica to import into it`, { module: name });
    if (module.keyCount > 0 || module.storedBytes !== 0 || Object.keys(await module.cursors()).length > 0) {
      throw new EngineError('invalid-option', `module ${name} already has state in the PostgreSQL store: import only into an empty module`, { module: name });
    }
    await writeSnapshot(this.pool, this.s, { name, id: module.id, epoch: module.epoch! }, snapshot);
    // Into the same store object: whoever holds it (the engine's guarded store) sees the imported state.
    module.reload(await loadModuleState(this.pool, this.s, module.id));
  }

  /** Test seam (see Lease.freezeForTest): no more heartbeats, the lease connection's events unseen. */
  [FREEZE_LEASE](): void {
    this.lease?.freezeForTest();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.reconnecting; // a reconnect in flight sees `closed` and ends the lease it opened
    // Commits asked for before the close are written, not refused; ending the lease session drops every lock.
    await Promise.all([...this.ownedModules.values()].map((module) => module.settled()));
    await this.breakerWrites;
    this.ownedModules.clear();
    this.locks.clear();
    await this.lease?.close();
    await this.pool.end().catch(() => {});
  }

  private async openLease(): Promise<Lease> {
    return Lease.open({
      url: this.options.leaseUrl ?? this.options.url,
      schema: this.s,
      locks: this.lockSpace,
      replicaName: this.options.replica,
      modules: this.declared,
      leaseMs: this.options.leaseMs,
      heartbeatsPerLease: DEFAULT_POSTGRES.heartbeatsPerLease,
      ...(this.options.now ? { now: this.options.now } : {}),
      onLost: (error) => this.leaseLost(error),
      onNotify: (channel, payload) => {
        const wake = (Object.keys(WAKE_CHANNELS) as WakeChannel[]).find((key) => WAKE_CHANNELS[key] === channel);
        if (wake) for (const listener of this.wakeListeners) listener(wake, payload);
      },
    });
  }

  /** Every owned module is lost at once: their commits are refused from this instant (the lease check), and they are owned no more. */
  private leaseLost(error: Error): void {
    const lost = error instanceof EngineError ? error : new EngineError('store-lost', `the lease connection of replica ${this.options.replica} failed`, { replica: this.replica.id }, error);
    for (const module of this.ownedModules.values()) module.refuse(lost);
    this.ownedModules.clear();
    this.locks.clear(); // they went with the session
    if (!this.closed) this.emitLost({ reason: 'lease', error: lost });
  }

  private emitLost(loss: OwnershipLoss): void {
    for (const listener of this.lostListeners) listener(loss);
  }

  private liveLease(): Lease {
    const lease = this.lease;
    const lost = lease ? lease.lost() : undefined;
    if (!lease || lost) throw lost instanceof EngineError ? lost : new EngineError('store-lost', `replica ${this.options.replica} has lost its lease: reconnect first`, { replica: this.replica.id }, lost);
    return lease;
  }

  /** Module rows for `names` (created if missing, numbered once by the database), their ids remembered. */
  private async ensureRows(names: readonly string[]): Promise<Map<string, number>> {
    const missing = names.filter((name) => !this.ids.has(name));
    if (missing.length > 0) {
      await this.pool.query(`insert into ${this.s}.modules (name) select unnest($1::text[]) on conflict (name) do nothing`, [missing]);
      const { rows } = await this.pool.query(`select id, name from ${this.s}.modules where name = any($1)`, [missing]);
      for (const row of rows as { id: number; name: string }[]) this.ids.set(row.name, row.id);
    }
    return this.ids;
  }

  private async readOnlyView(name: string): Promise<ModuleStore> {
    const { rows } = await this.pool.query(`select id from ${this.s}.modules where name = $1`, [name]);
    if (rows.length === 0) throw new EngineError('unknown-module', `no module named ${name} has state in the PostgreSQL store`, { module: name });
    const id = rows[0].id as number;
    const view = new PostgresModuleStore(name, id, undefined, this.context, await loadModuleState(this.pool, this.s, id));
    if (view.breaker) this.looseBreakers.set(name, view.breaker);
    return view;
  }

  private cacheUsed(): number {
    let used = 0;
    for (const module of this.ownedModules.values()) used += module.storedBytes + CACHE_BYTES_PER_KEY * module.keyCount;
    return used;
  }

  private requireOwn(what: string): void {
    if (this.options.mode !== 'own') throw new EngineError('invalid-option', `${what} needs a store opened in 'own' mode (this one is read-only)`, {});
    if (this.closed) throw new EngineError('stopped', `the PostgreSQL store of replica ${this.options.replica} is closed`, {});
  }
}

