import type pg from 'pg';
import type { ModuleOwnership, ReplicaInfo } from '../OwnedStore.ts';
import { NS_MODULE, NS_REPLICA } from './Lease.ts';

/**
 * Who is live and who owns what, as the database sees it: from the advisory locks in pg_locks (a
 * replica is live exactly while its lease session holds its replica lock), never from rows a dead
 * replica may have left behind. Two-int advisory locks show as classid = namespace, objid = id,
 * objsubid = 2.
 */
const HELD = `select l.pid, l.classid, l.objid from pg_locks l where l.locktype = 'advisory' and l.granted and l.objsubid = 2
  and l.database = (select oid from pg_database where datname = current_database())`;

export async function readReplicas(pool: pg.Pool, s: string): Promise<ReplicaInfo[]> {
  const { rows } = await pool.query(
    `with held as (${HELD})
     select r.id, r.name, r.modules, (extract(epoch from now() - r.registered_at) * 1000)::float8 as ms from ${s}.replicas r
     where exists (select 1 from held where held.classid = ${NS_REPLICA}::oid and held.objid = r.id::oid)
     order by r.id`,
  );
  return rows.map((row: { id: number; name: string; modules: string[]; ms: number }) => ({ id: row.id, name: row.name, registeredMs: Math.max(0, Math.round(row.ms)), modules: row.modules }));
}

/** Every module row; its owner is the live replica whose lease session (the same pid) holds the module's lock. */
export async function readOwnership(pool: pg.Pool, s: string): Promise<ModuleOwnership[]> {
  const { rows } = await pool.query(
    `with held as (${HELD})
     select m.id, m.name, m.epoch::text as epoch, m.stored_bytes, r.id as owner_id, r.name as owner_name from ${s}.modules m
     left join held hm on hm.classid = ${NS_MODULE}::oid and hm.objid = m.id::oid
     left join held hr on hr.classid = ${NS_REPLICA}::oid and hr.pid = hm.pid
     left join ${s}.replicas r on r.id::oid = hr.objid
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
