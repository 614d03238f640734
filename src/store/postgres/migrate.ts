import type pg from 'pg';
import { EngineError } from '../../errors/EngineError.ts';
import * as v1 from './migrations/0001_init.ts';
import * as v2 from './migrations/0002_traceparent.ts';

/** Every migration, in order; each is one TS file so the SQL ships in dist/ without a copy step. */
const MIGRATIONS: readonly { version: number; up: (schema: string) => string }[] = [v1, v2];
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Advisory lock namespace of migrations ('cor' 00): concurrent replicas starting at once migrate one at a time. */
const NS_MIGRATE = 0x636f7200;

/**
 * Brings corral's schema up to SCHEMA_VERSION in one transaction, under an advisory transaction lock,
 * so replicas starting together neither race nor see half a schema. A database whose schema is newer
 * than this corral knows is refused (`store-schema-newer`) before anything is written: an older replica
 * must not write rows whose meaning it does not know.
 */
export async function migrate(client: pg.Client, schemaName: string, schema: string): Promise<void> {
  await client.query('begin');
  try {
    await client.query('select pg_advisory_xact_lock($1, 0)', [NS_MIGRATE]);
    const current = await schemaVersion(client, schemaName, schema);
    if (current > SCHEMA_VERSION) {
      throw new EngineError('store-schema-newer', `the database has corral schema v${current} in "${schemaName}"; this corral knows up to v${SCHEMA_VERSION}`, { schema: schemaName, version: current, known: SCHEMA_VERSION });
    }
    if (current < SCHEMA_VERSION) {
      // Only when missing: CREATE SCHEMA IF NOT EXISTS checks the CREATE privilege even when it exists.
      const exists = await client.query('select 1 from pg_namespace where nspname = $1', [schemaName]);
      if (exists.rowCount === 0) await client.query(`create schema ${schema}`);
      for (const migration of MIGRATIONS) if (migration.version > current) await client.query(migration.up(schema));
      if (current === 0) await allocateLockSpace(client, schema);
      await client.query(`delete from ${schema}.schema_version`);
      await client.query(`insert into ${schema}.schema_version (version) values ($1)`, [SCHEMA_VERSION]);
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  }
}

/** Advisory lock namespaces of the first corral schema in a database ('cor' 01 and 'cor' 02); later schemas take the next pairs. */
export const BASE_LOCK_SPACE = { modules: 0x636f7201, replicas: 0x636f7202 } as const;

/**
 * Gives a new corral schema its own pair of advisory lock namespaces. Advisory locks belong to the
 * database, not the schema: two corral schemas numbering their modules and replicas from 1 each would
 * otherwise share leases (a replica of one would wait on the other's). Runs under the migration lock,
 * which every schema's migration takes, so two schemas created at once cannot take the same pair.
 */
async function allocateLockSpace(client: pg.Client, schema: string): Promise<void> {
  const { rows: schemas } = await client.query<{ t: string }>(
    `select format('%I.lock_space', n.nspname) as t from pg_namespace n
     where exists (select 1 from pg_class c where c.relnamespace = n.oid and c.relname = 'lock_space' and c.relkind = 'r')
       and exists (select 1 from pg_class c where c.relnamespace = n.oid and c.relname = 'schema_version' and c.relkind = 'r')`,
  );
  let highest = BASE_LOCK_SPACE.modules - 2;
  for (const { t } of schemas) {
    const { rows } = await client.query<{ m: number | null }>(`select max(modules) as m from ${t}`);
    if (rows[0]?.m != null) highest = Math.max(highest, rows[0].m);
  }
  await client.query(`insert into ${schema}.lock_space (modules, replicas) values ($1, $2)`, [highest + 2, highest + 3]);
}

/** The lock namespaces of a migrated schema. */
export async function lockSpace(client: pg.ClientBase | pg.Pool, schema: string): Promise<{ modules: number; replicas: number }> {
  const { rows } = await client.query<{ modules: number; replicas: number }>(`select modules, replicas from ${schema}.lock_space`);
  if (!rows[0]) throw new EngineError('store-schema-newer', `corral schema ${schema} has no lock namespaces (lock_space is empty): was it migrated by this corral?`, { schema });
  return rows[0];
}

/** The schema's version: 0 when corral's schema is not there yet. */
export async function schemaVersion(client: pg.ClientBase, schemaName: string, schema: string): Promise<number> {
  const table = await client.query('select to_regclass($1) as t', [`${schemaName}.schema_version`]);
  if (table.rows[0].t === null) return 0;
  const { rows } = await client.query(`select max(version) as v from ${schema}.schema_version`);
  return Number(rows[0].v ?? 0);
}
