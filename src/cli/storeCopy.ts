import { EngineError } from '../errors/EngineError.ts';
import type { ModuleStore } from '../store/EngineStore.ts';
import type { ModuleSnapshot } from '../store/postgres/PostgresStore.ts';
import { chainOfSource, CUSTOM_SOURCE, isReserved } from '../store/reservedKeys.ts';
import { openStateDir, redactUrl } from './inspect.ts';

/** What `corral store copy` moved of one module. */
export interface CopiedModule {
  name: string;
  /** The module's own keys. */
  keys: number;
  /** corral's reserved keys: jobs, timers, cron ticks, dead letters, reorg marks. */
  reservedKeys: number;
  cursors: string[];
  undoRecords: number;
  storedBytes: number;
  /** The breaker's state, when one was saved. */
  breaker?: string;
}

/**
 * `corral store copy <state_dir> <url>`: moves a stopped engine's LevelDB state into a PostgreSQL
 * store, every module whole: its keys (corral's reserved ones included, so pending jobs, timers, cron
 * ticks, dead letters and reorg marks move with it), cursors, undo journal, stored bytes and breaker.
 *
 * It runs as a temporary replica that takes every module's lease before writing anything, so no
 * running replica can own a module meanwhile; it refuses (nothing written) when the target already
 * holds state for one of them or a replica owns one. Each module is written in one transaction
 * (`importModule`): a copy cut off midway leaves whole modules copied and the rest untouched, and
 * running it again refuses the copied ones by name.
 *
 * @example
 * await copyStore('./state', { url: 'postgres://corral@db/corral' }); // [{ name: 'twap', keys: 1204, … }]
 */
export async function copyStore(stateDir: string, target: { url: string; schema?: string }): Promise<CopiedModule[]> {
  const level = await openStateDir(stateDir);
  try {
    const names = await level.moduleNames();
    // Imported here so LevelDB users never load `pg`.
    const { PostgresStore } = await import('../store/postgres/PostgresStore.ts');
    const store = await PostgresStore.open({ url: target.url, ...(target.schema ? { schema: target.schema } : {}), replica: `corral-store-copy-${process.pid}` });
    try {
      const acquired: string[] = [];
      try {
        const refused: string[] = [];
        for (const name of names) {
          const outcome = await store.tryAcquire(name);
          if ('held' in outcome) {
            refused.push(`${name} (${outcome.reason === 'owned-elsewhere' ? 'a running replica owns it: stop the replicas first' : 'larger than this replica\'s cache budget'})`);
            continue;
          }
          acquired.push(name);
          if (!(await isEmpty(await store.module(name)))) refused.push(`${name} (it already has state there)`);
        }
        if (refused.length > 0) {
          throw new EngineError('invalid-option', `store copy refused, nothing written: ${redactUrl(target.url)} cannot take ${refused.join(', ')}`, { option: 'url', value: redactUrl(target.url) });
        }
        const copied: CopiedModule[] = [];
        for (const name of names) {
          const { snapshot, summary } = await snapshotOf(await level.module(name), level.breakers.load(name));
          await store.importModule(name, snapshot);
          copied.push(summary);
        }
        return copied;
      } finally {
        for (const name of acquired) await store.release(name);
      }
    } finally {
      await store.close();
    }
  } finally {
    await level.close();
  }
}

/** No key, no cursor, no stored byte: nothing a copy would overwrite. */
async function isEmpty(state: ModuleStore): Promise<boolean> {
  if (state.storedBytes !== 0 || Object.keys(await state.cursors()).length > 0) return false;
  for await (const _ of state.keys({ limit: 1 })) return false;
  return true;
}

/** A LevelDB module's whole state as `importModule` takes it, and what the command prints of it. */
async function snapshotOf(state: ModuleStore, breaker: ModuleSnapshot['breaker']): Promise<{ snapshot: ModuleSnapshot; summary: CopiedModule }> {
  const entries: [Uint8Array, Uint8Array][] = [];
  let reservedKeys = 0;
  for await (const key of state.keys({ limit: -1 })) {
    const value = state.getSync(key);
    if (value === undefined) continue;
    entries.push([Uint8Array.from(key), Uint8Array.from(value)]);
    if (isReserved(key)) reservedKeys++;
  }
  // Not the custom-event cursor: LevelDB numbers custom events per engine, the table numbers them anew,
  // so a copied `{ seq: n }` would skip the table's first n events. Without it, the module reads the table
  // from where it stands when first acquired (src/engine/CustomFeed.ts).
  const { [CUSTOM_SOURCE]: _localNumbering, ...cursors } = await state.cursors();
  // The journal is kept per chain, and a chain has undo records only where the module follows it.
  const journal: ModuleSnapshot['journal'] = [];
  for (const source of Object.keys(cursors)) {
    const chainId = chainOfSource(source);
    if (chainId === undefined) continue;
    const chainEntries = await state.journal(chainId);
    if (chainEntries.length > 0) journal.push({ chainId, entries: chainEntries });
  }
  const snapshot: ModuleSnapshot = { entries, cursors, journal, storedBytes: state.storedBytes, ...(breaker ? { breaker } : {}) };
  const summary: CopiedModule = {
    name: state.name,
    keys: entries.length - reservedKeys,
    reservedKeys,
    cursors: Object.keys(cursors),
    undoRecords: journal.reduce((n, j) => n + j.entries.length, 0),
    storedBytes: state.storedBytes,
    ...(breaker ? { breaker: breaker.state } : {}),
  };
  return { snapshot, summary };
}
