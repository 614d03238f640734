import type { EngineStore } from './EngineStore.ts';

/**
 * A store shared by several engine replicas (PostgreSQL, src/store/postgres/): each module is owned by
 * one replica at a time, under a lease (a session advisory lock on the replica's dedicated lease
 * connection) and a fencing epoch (taken anew at every acquire; every commit first checks it is still
 * the module's epoch, so a replica that lost the lease while paused can never write afterwards).
 *
 * `module(name)` of an owned store serves only a module this replica owns: it acquires it if it is
 * free, and throws `EngineError('module-held')` if another replica owns it. A single engine on
 * PostgreSQL therefore works without placement (it acquires its modules at start); several replicas
 * add src/engine/Placement.ts, which decides what each one acquires and releases.
 */
export interface OwnedStore extends EngineStore {
  readonly backend: 'postgres';
  /** This replica: its row id in `replicas` (also its lock key) and its name. */
  readonly replica: { id: number; name: string };
  /** Registers the module names this replica can run (creating their rows, numbering them once). */
  declare(names: readonly string[]): Promise<void>;
  /**
   * Takes a module's lease if it is free: a new epoch, the module's state loaded into this replica.
   * Undefined: another replica holds it (or it would take this replica past its cache budget: `reason`).
   * `customStart`: the module reads custom events; if it has no custom-event cursor yet, one at the
   * latest event published is committed with the new epoch, so every event published from its first
   * acquisition on reaches it, whichever replica first manages to load it.
   */
  tryAcquire(name: string, options?: { customStart?: boolean }): Promise<{ epoch: bigint } | { held: true; reason: 'owned-elsewhere' | 'cache-budget' }>;
  /**
   * Gives a module's lease up (its commits must have finished: later ones are refused locally). True if
   * it was still this replica's to give up; false if it had been lost already (lease or fence).
   */
  release(name: string): Promise<boolean>;
  /** The modules this replica owns now, with their epochs. */
  owned(): ReadonlyMap<string, bigint>;
  /** Live replicas (those holding their replica lock) as the database sees them. */
  replicas(): Promise<ReplicaInfo[]>;
  /** Every module row: owner (if any live one) and epoch. */
  ownership(): Promise<ModuleOwnership[]>;
  /**
   * Ownership lost (a listener added after the lease was lost hears of it at once): `module` undefined means the lease connection failed and every owned module is lost
   * at once (the store already refuses their commits); `fenced`: a commit found another epoch;
   * `commit-failed`: a commit's outcome is unknown (connection lost mid-statement), so the cached
   * state may be wrong and the module must be released and loaded afresh.
   */
  onLost(listener: (loss: OwnershipLoss) => void): () => void;
  /**
   * Wake-up hints (NOTIFY): `placement` when replicas or leases change, `custom` when an event was
   * published, `messages` when a module committed messages (`payload`: its name).
   */
  onWake(listener: (channel: WakeChannel, payload?: string) => void): () => void;
  /** `payload`: what the listeners hear with the channel (default: this replica's id). */
  notify(channel: WakeChannel, payload?: string): Promise<void>;
  /** After a lost lease: reconnects, registers again (a new replica id) and resolves; owns nothing until acquires. */
  reconnect(): Promise<void>;
  /** Custom events go through a table, in publication order; NOTIFY is only a hint. */
  appendCustom(topic: string, payload: string, traceparent?: string): Promise<bigint>;
  /** The same, on the embedder's own connection and inside its open transaction: published only if it commits. */
  publishIn(client: SqlClient, topic: string, payload: string, traceparent?: string): Promise<bigint>;
  /** Custom events after `after` (exclusive) on any of `topics`, oldest first, `limit` at most. */
  readCustom(after: bigint, topics: readonly string[], limit: number): Promise<CustomEventRow[]>;
  /** The highest custom event sequence published so far (0n if none). */
  lastCustom(): Promise<bigint>;
}

/** A connection of the embedder's (a `pg.Client` or pool client): only `query` is used. */
export interface SqlClient {
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
}

export interface ReplicaInfo {
  id: number;
  name: string;
  /** Milliseconds since it registered, by the database's clock (the join delay counts from here). */
  registeredMs: number;
  /** Module names it declared it can run. */
  modules: string[];
}

export interface ModuleOwnership {
  name: string;
  id: number;
  epoch: bigint;
  /** The live replica holding its lease, if any. */
  owner?: { id: number; name: string };
  storedBytes: number;
}

export interface OwnershipLoss {
  reason: 'lease' | 'fenced' | 'commit-failed';
  module?: string;
  error: Error;
}

export type WakeChannel = 'placement' | 'custom' | 'messages';

export interface CustomEventRow {
  seq: bigint;
  topic: string;
  payload: string;
  /** The publisher's W3C trace context, when it gave one (docs/tracing.md). */
  traceparent?: string;
}

export function isOwnedStore(store: EngineStore): store is OwnedStore {
  return (store as Partial<OwnedStore>).backend === 'postgres';
}
