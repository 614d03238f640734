import type { EngineStore } from './EngineStore.ts';
import { LevelStore } from './LevelStore.ts';

/**
 * How `PostgresStore.open` is called (src/store/postgres/PostgresStore.ts is the home of this shape;
 * repeated here so that LevelDB users never load that module or `pg`).
 */
export interface PostgresStoreOptions {
  url: string;
  /** A direct URL for the lease connection when `url` goes through a pooler (session locks and LISTEN need one). */
  leaseUrl?: string;
  schema?: string;
  replica?: string;
  pool?: number;
  leaseMs?: number;
  cacheBytes?: number;
  mode?: 'own' | 'read';
  onError?: (error: Error) => void;
}

/** Placement's timing on a shared store (see src/engine/Placement.ts; defaults `DEFAULT_POSTGRES`). */
export interface PlacementOptions {
  reconcileMs?: number;
  joinDelayMs?: number;
  minHoldMs?: number;
  maxMovesPerRound?: number;
}

/** Which store an engine runs on: LevelDB in a directory (the default), or PostgreSQL shared by replicas. */
export type StoreOptions = { backend: 'level'; stateDir: string } | ({ backend: 'postgres' } & PostgresStoreOptions & { placement?: PlacementOptions });

/**
 * Opens the store `options` name. PostgreSQL's store is imported only here and only when asked for,
 * so an engine on LevelDB never loads `pg`. `onError` gets failures nobody awaits (a breaker's save).
 */
export async function openStore(options: StoreOptions, onError: (error: Error) => void): Promise<EngineStore> {
  if (options.backend === 'level') return LevelStore.open(options.stateDir, onError);
  const { backend: _backend, placement: _placement, ...postgres } = options;
  const { PostgresStore } = (await import(POSTGRES_MODULE)) as { PostgresStore: { open(o: PostgresStoreOptions): Promise<EngineStore> } };
  return PostgresStore.open({ onError, ...postgres });
}

const POSTGRES_MODULE = './postgres/PostgresStore.ts';
