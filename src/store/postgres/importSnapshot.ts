import type pg from 'pg';
import { EngineError } from '../../errors/EngineError.ts';
import type { JournalEntry, StoredBreaker } from '../EngineStore.ts';
import { encodeEntry } from '../journalCodec.ts';

/** A whole module's state as `corral store copy` moves it. */
export interface ModuleSnapshot {
  entries: [Uint8Array, Uint8Array][];
  cursors: Record<string, unknown>;
  journal: { chainId: bigint; entries: JournalEntry[] }[];
  storedBytes: number;
  breaker?: StoredBreaker;
}

/**
 * Writes `snapshot` into an owned, empty module in one transaction, fenced by its epoch first (the
 * modules row stays locked until the commit, so no other replica's bump can slip in between).
 */
export async function writeSnapshot(pool: pg.Pool, s: string, module: { name: string; id: number; epoch: bigint }, snapshot: ModuleSnapshot): Promise<void> {
  const { name, id, epoch } = module;
  const client = await pool.connect();
  try {
    await client.query('begin');
    const fence = await client.query(`update ${s}.modules set stored_bytes = $3, key_count = $4 where id = $1 and epoch = $2 returning id`, [id, epoch, snapshot.storedBytes, snapshot.entries.length]);
    if (fence.rowCount === 0) throw new EngineError('fenced', `module ${name} is owned by another replica now (epoch ${epoch} is stale): nothing was imported`, { module: name, epoch });
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
}
