import type { EngineStore } from './EngineStore.ts';
import { LevelStore } from './LevelStore.ts';
// A type only: erased, so LevelDB users never load the PostgreSQL store or `pg` (imported below when asked for).
import type { PostgresStoreOptions } from './postgres/PostgresStore.ts';

export type { PostgresStoreOptions } from './postgres/PostgresStore.ts';

/** Placement's timing on a shared store (src/engine/Placement.ts runs it), each defaulting to `DEFAULT_POSTGRES`. */
export interface PlacementOptions {
  /** How often a replica re-checks placement without a NOTIFY hint (ms). */
  reconcileMs?: number;
  /** A replica that registered less than this long ago is not a candidate (unless none is) (ms). */
  joinDelayMs?: number;
  /** A module acquired less than this long ago is not handed over (ms). */
  minHoldMs?: number;
  /** Handovers started per round. */
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
  const { PostgresStore } = await import('./postgres/PostgresStore.ts');
  return PostgresStore.open({ onError, ...postgres });
}
