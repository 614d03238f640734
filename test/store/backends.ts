/**
 * The store backends every store behaviour runs on: LevelDB in a temp dir and PostgreSQL on a fresh
 * database of the run's shared server (test/postgres.ts). A test takes them with
 * `describe.each(backends)` (or `describe.for`) and opens one per case; nothing in a behaviour's test
 * knows which backend runs, so a difference between them is a failing test, not a copy that drifted.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_POSTGRES } from '../../src/limits/defaults.ts';
import type { EngineStore } from '../../src/store/EngineStore.ts';
import { LevelStore } from '../../src/store/LevelStore.ts';
import { openStore, type StoreOptions } from '../../src/store/openStore.ts';
import { freshDatabase } from '../postgres.ts';

/**
 * Lease period of the tests' PostgreSQL stores: the default. These tests close every store they open,
 * so nothing waits on a lease running out; a short one (3 s) self-fenced under load (a heartbeat
 * missing for 2.3 s while the server was busy with a 50,000-key commit, load average 22).
 */
export const TEST_LEASE_MS = DEFAULT_POSTGRES.leaseMs;


/**
 * Opens the store an engine ran on (stopped: one owner at a time), as the engine opens it, hands it
 * to `read` and closes it: what a restart would find, checked on either backend.
 */
export async function readStore<T>(options: StoreOptions, read: (store: EngineStore) => Promise<T>): Promise<T> {
  const store = await openStore(options, () => {});
  try {
    return await read(store);
  } finally {
    await store.close();
  }
}

export interface OpenedBackend {
  name: BackendName;
  /** The store as it is open now (replaced by `reopen`). */
  readonly store: EngineStore;
  /** Closes the store (every commit so far is durable) and opens it again on the same data. */
  reopen(): Promise<EngineStore>;
  /** For an engine on the same data (close the store first: one owner at a time). */
  storeOptions: StoreOptions;
  /** Errors the store reported to its handler (breaker writes that failed, a lost lease): a test may assert none. */
  errors: Error[];
  close(): Promise<void>;
}

export type BackendName = 'level' | 'postgres';

export interface Backend {
  name: BackendName;
  /** A new, empty store. */
  open(): Promise<OpenedBackend>;
  /** Options of a new, empty store, not opened (for `Engine.start({ store })`). */
  options(): Promise<StoreOptions>;
}

function opened(name: BackendName, storeOptions: StoreOptions, openAgain: (onError: (error: Error) => void) => Promise<EngineStore>, first: EngineStore, errors: Error[]): OpenedBackend {
  let store: EngineStore | undefined = first;
  const onError = (error: Error) => void errors.push(error);
  const backend: OpenedBackend = {
    name,
    get store() {
      if (!store) throw new Error(`the ${name} store is closed`);
      return store;
    },
    storeOptions,
    errors,
    reopen: async () => {
      await backend.close();
      store = await openAgain(onError);
      return store;
    },
    close: async () => {
      const open = store;
      store = undefined;
      await open?.close();
    },
  };
  return backend;
}

export const level: Backend = {
  name: 'level',
  options: async () => ({ backend: 'level', stateDir: mkdtempSync(join(tmpdir(), 'corral-store-')) }),
  open: async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'corral-store-'));
    const errors: Error[] = [];
    const openAgain = (onError: (error: Error) => void) => LevelStore.open(stateDir, onError);
    return opened('level', { backend: 'level', stateDir }, openAgain, await openAgain((e) => void errors.push(e)), errors);
  },
};

/**
 * The next test's database, created while this test runs: `CREATE DATABASE` takes 0.1–0.4 s here,
 * most of a short test's time. The last one of a file is left empty on the shared server, which the
 * run's teardown deletes.
 */
let nextDatabase: Promise<string> | undefined;
function takeDatabase(): Promise<string> {
  const url = nextDatabase ?? freshDatabase();
  nextDatabase = freshDatabase();
  nextDatabase.catch(() => {}); // a failure is the next taker's to report
  return url;
}

export const postgres: Backend = {
  name: 'postgres',
  options: async () => ({ backend: 'postgres', url: await takeDatabase(), leaseMs: TEST_LEASE_MS, replica: `conformance-${process.pid}` }),
  open: async () => {
    // Imported here, as the engine does: a LevelDB-only run never loads pg.
    const { PostgresStore } = await import('../../src/store/postgres/PostgresStore.ts');
    const url = await takeDatabase();
    const replica = `conformance-${process.pid}`;
    const errors: Error[] = [];
    const openAgain = (onError: (error: Error) => void) => PostgresStore.open({ url, replica, leaseMs: TEST_LEASE_MS, onError });
    return opened('postgres', { backend: 'postgres', url, leaseMs: TEST_LEASE_MS, replica }, openAgain, await openAgain((e) => void errors.push(e)), errors);
  },
};

export const backends: Backend[] = [level, postgres];
