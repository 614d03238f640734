import type pg from 'pg';
import { EngineError } from '../../errors/EngineError.ts';
import * as v1 from './migrations/0001_init.ts';

/** Every migration, in order; each is one TS file so the SQL ships in dist/ without a copy step. */
const MIGRATIONS: readonly { version: number; up: (schema: string) => string }[] = [v1];
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
      await client.query(`delete from ${schema}.schema_version`);
      await client.query(`insert into ${schema}.schema_version (version) values ($1)`, [SCHEMA_VERSION]);
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  }
}

/** The schema's version: 0 when corral's schema is not there yet. */
export async function schemaVersion(client: pg.ClientBase, schemaName: string, schema: string): Promise<number> {
  const table = await client.query('select to_regclass($1) as t', [`${schemaName}.schema_version`]);
  if (table.rows[0].t === null) return 0;
  const { rows } = await client.query(`select max(version) as v from ${schema}.schema_version`);
  return Number(rows[0].v ?? 0);
}
