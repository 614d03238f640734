import pg from 'pg';
import type { ModuleStore } from '../../../src/store/EngineStore.ts';
import { PostgresStore, type PostgresStoreOptions } from '../../../src/store/postgres/PostgresStore.ts';

/** Stores and clients opened by a test file, closed by `closeAll` (in afterEach/afterAll). */
export class Opened {
  private readonly stores: PostgresStore[] = [];
  private readonly clients: pg.Client[] = [];

  async store(options: PostgresStoreOptions): Promise<PostgresStore> {
    const store = await PostgresStore.open({ leaseMs: 10_000, ...options });
    this.stores.push(store);
    return store;
  }

  /** A direct connection for checking rows and playing the other party (locks, epoch bumps). */
  async client(url: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => {});
    await client.connect();
    this.clients.push(client);
    return client;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.stores.splice(0).map((store) => store.close()));
    await Promise.all(this.clients.splice(0).map((client) => client.end().catch(() => {})));
  }
}

export const enc = (s: string) => new TextEncoder().encode(s);
export const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

/** Everything a module store shows: keys with values (in key order), cursors, the journal of chains 1 and 2, the size. */
export async function snapshot(store: ModuleStore): Promise<unknown> {
  const kv: [string, string | undefined][] = [];
  for await (const key of store.keys({ limit: -1 })) kv.push([Buffer.from(key).toString('hex'), dec(store.getSync(key))]);
  const journal = async (chainId: bigint) =>
    (await store.journal(chainId)).map((e) => ({ ...e, undo: e.undo.map((w) => [Buffer.from(w.key).toString('hex'), w.value === null ? null : dec(w.value)]) }));
  return { kv, cursors: await store.cursors(), journal1: await journal(1n), journal2: await journal(2n), storedBytes: store.storedBytes };
}
