import { hostname } from 'node:os';
import type pg from 'pg';
import { EngineError } from '../../errors/EngineError.ts';
import { DEFAULT_POSTGRES } from '../../limits/defaults.ts';
import type { JournalEntry, ModuleStore, StoredBreaker } from '../EngineStore.ts';
import { encodeEntry } from '../journalCodec.ts';
import type { CustomEventRow, ModuleOwnership, OwnedStore, OwnershipLoss, ReplicaInfo, WakeChannel } from '../OwnedStore.ts';
import { breakerSql, commitSql } from './commitSql.ts';
import { connectClient, createPool, schemaIdent, storeError, targetOf } from './connect.ts';
import { FREEZE_LEASE, Lease, NS_MODULE, NS_REPLICA, WAKE_CHANNELS } from './Lease.ts';
import { migrate, SCHEMA_VERSION, schemaVersion } from './migrate.ts';
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

/** A whole module's state as `corral store copy` moves it. */
export interface ModuleSnapshot {
  entries: [Uint8Array, Uint8Array][];
  cursors: Record<string, unknown>;
  journal: { chainId: bigint; entries: JournalEntry[] }[];
  storedBytes: number;
  breaker?: StoredBreaker;
}

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
  private readonly wakeListeners = new Set<(channel: WakeChannel) => void>();
  private readonly context: ModuleContext;
  private declared: string[] = [];
  private lease: Lease | undefined;
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly s: string,
    private readonly options: Required<Pick<PostgresStoreOptions, 'url' | 'schema' | 'replica' | 'leaseMs' | 'cacheBytes' | 'mode'>> & PostgresStoreOptions,
    private readonly onError: (error: Error) => void,
  ) {
    this.context = {
      pool,
      schema: s,
      commitText: commitSql(s),
      commitTimeoutMs: options.leaseMs,
      leaseLost: () => (this.lease ? this.lease.lost() : new EngineError('store-lost', `replica ${options.replica} has no lease`, {})),
      onLost: (module, reason, error) => {
        this.ownedModules.delete(module);
        this.emitLost({ reason, module, error });
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
        this.pool.query(breakerText, [owned.id, owned.epoch, JSON.stringify(record)]).catch((error: Error) => this.onError(error));
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
    const onError = options.onError ?? (() => {});
    const target = targetOf(options.url);
    // One direct client for the migration: it is a transaction under an advisory xact lock.
    const client = await connectClient({ connectionString: options.url }, onError);
    try {
      if (resolved.mode === 'own') await migrate(client, resolved.schema, s);
      else {
        const version = await schemaVersion(client, resolved.schema, s);
        if (version > SCHEMA_VERSION) throw new EngineError('store-schema-newer', `the database has corral schema v${version} in "${resolved.schema}"; this corral knows up to v${SCHEMA_VERSION}`, { schema: resolved.schema, version, known: SCHEMA_VERSION });
        if (version === 0) throw new EngineError('unknown-module', `the database at ${target.host}:${target.port}/${target.database} has no corral schema "${resolved.schema}"`, { schema: resolved.schema });
      }
    } catch (error) {
      throw storeError(error, target);
    } finally {
      await client.end().catch(() => {});
    }
    const pool = createPool(options.url, options.pool ?? DEFAULT_POSTGRES.pool, resolved.leaseMs, onError);
    const store = new PostgresStore(pool, s, resolved, onError);
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

  tryAcquire(name: string): ReturnType<OwnedStore['tryAcquire']> {
    this.requireOwn('tryAcquire');
    const owned = this.ownedModules.get(name);
    if (owned) return Promise.resolve({ epoch: owned.epoch! });
    let pending = this.acquiring.get(name);
    if (!pending) {
      pending = this.acquire(name).finally(() => this.acquiring.delete(name));
      this.acquiring.set(name, pending);
    }
    return pending;
  }

  private async acquire(name: string): ReturnType<OwnedStore['tryAcquire']> {
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
      const { rows } = await lease.query(`update ${this.s}.modules set epoch = epoch + 1, owner = $2, acquired_at = now() where id = $1 returning epoch`, [id, lease.replicaId]);
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

  async release(name: string): Promise<void> {
    const module = this.ownedModules.get(name);
    if (module) {
      module.refuse(new EngineError('store-lost', `module ${name} was released by replica ${this.options.replica}`, { module: name }));
      await module.settled();
      if (this.ownedModules.get(name) === module) this.ownedModules.delete(name);
    }
    const id = this.locks.get(name);
    if (id === undefined) return;
    this.locks.delete(name);
    const lease = this.lease;
    if (lease && !lease.lost()) await lease.unlock(id);
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

  async replicas(): Promise<ReplicaInfo[]> {
    const { rows } = await this.pool.query(
      `select r.id, r.name, r.modules, (extract(epoch from now() - r.registered_at) * 1000)::float8 as ms from ${this.s}.replicas r
       where exists (select 1 from pg_locks l where l.locktype = 'advisory' and l.granted and l.database = (select oid from pg_database where datname = current_database())
         and l.classid = ${NS_REPLICA}::oid and l.objid = r.id::oid and l.objsubid = 2)
       order by r.id`,
    );
    return rows.map((row: { id: number; name: string; modules: string[]; ms: number }) => ({ id: row.id, name: row.name, registeredMs: Math.max(0, Math.round(row.ms)), modules: row.modules }));
  }

  async ownership(): Promise<ModuleOwnership[]> {
    // The owner is the live replica whose lease session holds the module's lock (both locks on one pid).
    const { rows } = await this.pool.query(
      `with held as (select l.pid, l.classid, l.objid from pg_locks l where l.locktype = 'advisory' and l.granted and l.objsubid = 2
         and l.database = (select oid from pg_database where datname = current_database()))
       select m.id, m.name, m.epoch::text as epoch, m.stored_bytes, r.id as owner_id, r.name as owner_name from ${this.s}.modules m
       left join held hm on hm.classid = ${NS_MODULE}::oid and hm.objid = m.id::oid
       left join held hr on hr.classid = ${NS_REPLICA}::oid and hr.pid = hm.pid
       left join ${this.s}.replicas r on r.id::oid = hr.objid
       order by m.name`,
    );
    return rows.map((row: { id: number; name: string; epoch: string; stored_bytes: string; owner_id: number | null; owner_name: string | null }) => ({
      name: row.name,
      id: row.id,
      epoch: BigInt(row.epoch),
      storedBytes: Number(row.stored_bytes),
      ...(row.owner_id === null ? {} : { owner: { id: row.owner_id, name: row.owner_name! } }),
    }));
  }

  onLost(listener: (loss: OwnershipLoss) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  onWake(listener: (channel: WakeChannel) => void): () => void {
    this.wakeListeners.add(listener);
    return () => this.wakeListeners.delete(listener);
  }

  async notify(channel: WakeChannel): Promise<void> {
    await this.pool.query('select pg_notify($1, $2)', [WAKE_CHANNELS[channel], String(this.replica.id)]);
  }

  async reconnect(): Promise<void> {
    this.requireOwn('reconnect');
    const old = this.lease;
    if (old && !old.lost()) return;
    await old?.close();
    this.locks.clear();
    this.lease = await this.openLease();
  }

  async appendCustom(topic: string, payload: string): Promise<bigint> {
    // The row and the hint in one statement: a NOTIFY is delivered only if the insert commits.
    const { rows } = await this.pool.query(
      `with e as (insert into ${this.s}.custom_events (topic, payload) values ($1, $2) returning seq)
       select seq::text as seq, pg_notify($3, seq::text) from e`,
      [topic, payload, WAKE_CHANNELS.custom],
    );
    return BigInt(rows[0].seq);
  }

  async readCustom(after: bigint, topics: readonly string[], limit: number): Promise<CustomEventRow[]> {
    const { rows } = await this.pool.query(`select seq::text as seq, topic, payload from ${this.s}.custom_events where seq > $1 and topic = any($2) order by seq limit $3`, [after, topics, limit]);
    return rows.map((row: { seq: string; topic: string; payload: string }) => ({ seq: BigInt(row.seq), topic: row.topic, payload: row.payload }));
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
    const client = await this.pool.connect();
    const s = this.s;
    const id = module.id;
    try {
      await client.query('begin');
      const fence = await client.query(`update ${s}.modules set stored_bytes = $3, key_count = $4 where id = $1 and epoch = $2 returning id`, [id, module.epoch, snapshot.storedBytes, snapshot.entries.length]);
      if (fence.rowCount === 0) throw new EngineError('fenced', `module ${name} is owned by another replica now (epoch ${module.epoch} is stale): nothing was imported`, { module: name, epoch: module.epoch });
      await client.query(`insert into ${s}.kv (module_id, k, v) select $1, w.k, w.v from unnest($2::bytea[], $3::bytea[]) w(k, v)`, [id, snapshot.entries.map(([k]) => k), snapshot.entries.map(([, v]) => v)]);
      const cursors = Object.entries(snapshot.cursors);
      await client.query(`insert into ${s}.cursors (module_id, source, value) select $1, c.s, c.v from unnest($2::text[], $3::jsonb[]) c(s, v)`, [id, cursors.map(([source]) => source), cursors.map(([, value]) => JSON.stringify(value) ?? 'null')]);
      const journal = snapshot.journal.flatMap(({ chainId, entries }) => entries.map((entry) => ({ chainId, entry })));
      await client.query(`insert into ${s}.journal (module_id, chain_id, number, entry) select $1, j.c, j.n, j.e from unnest($2::bigint[], $3::bigint[], $4::text[]) j(c, n, e)`, [id, journal.map((j) => j.chainId), journal.map((j) => j.entry.number), journal.map((j) => encodeEntry(j.entry))]);
      if (snapshot.breaker) await client.query(`insert into ${s}.breakers (module_id, record) values ($1, $2) on conflict (module_id) do update set record = excluded.record`, [id, JSON.stringify(snapshot.breaker)]);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
    const fresh = new PostgresModuleStore(name, id, module.epoch, this.context, await loadModuleState(this.pool, s, id));
    this.ownedModules.set(name, fresh);
  }

  /** Test seam (see Lease.freezeForTest): no more heartbeats, the lease connection's events unseen. */
  [FREEZE_LEASE](): void {
    this.lease?.freezeForTest();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Commits asked for before the close are written, not refused; ending the lease session drops every lock.
    await Promise.all([...this.ownedModules.values()].map((module) => module.settled()));
    this.ownedModules.clear();
    this.locks.clear();
    await this.lease?.close();
    await this.pool.end().catch(() => {});
  }

  private async openLease(): Promise<Lease> {
    return Lease.open({
      url: this.options.leaseUrl ?? this.options.url,
      schema: this.s,
      replicaName: this.options.replica,
      modules: this.declared,
      leaseMs: this.options.leaseMs,
      heartbeatsPerLease: DEFAULT_POSTGRES.heartbeatsPerLease,
      ...(this.options.now ? { now: this.options.now } : {}),
      onLost: (error) => this.leaseLost(error),
      onNotify: (channel) => {
        const wake = (Object.keys(WAKE_CHANNELS) as WakeChannel[]).find((key) => WAKE_CHANNELS[key] === channel);
        if (wake) for (const listener of this.wakeListeners) listener(wake);
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

