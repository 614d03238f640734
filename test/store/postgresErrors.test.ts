/**
 * A PostgreSQL store that cannot be used says why, with a typed error naming what and where, and
 * writes nothing: an unreachable server, wrong credentials, a database that does not exist, a role
 * that may not create corral's schema, and a schema newer than this corral knows.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConfigured } from '../../src/app/startConfigured.ts';
import { loadConfig } from '../../src/config/loadConfig.ts';
import { Engine } from '../../src/engine/Engine.ts';
import { EngineError } from '../../src/errors/EngineError.ts';
import type { Runtime } from '../../src/runtime/Runtime.ts';
import { PostgresStore } from '../../src/store/postgres/PostgresStore.ts';
import { captureLogger, fixture, newRuntime } from '../helpers.ts';
import { freshDatabase, sharedServer } from '../postgres.ts';
import { TEST_LEASE_MS } from './backends.ts';

const clients: pg.Client[] = [];

/** A direct connection as the server's superuser, to arrange a case and check what was written. */
async function superuser(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  clients.push(client);
  return client;
}

afterAll(async () => {
  await Promise.all(clients.splice(0).map((client) => client.end().catch(() => {})));
});

/** The error `PostgresStore.open` rejects with (it must reject). */
async function openError(options: Parameters<typeof PostgresStore.open>[0]): Promise<EngineError> {
  const outcome = await PostgresStore.open({ leaseMs: TEST_LEASE_MS, replica: 'bad-input', ...options }).then(
    async (store) => {
      await store.close();
      return undefined;
    },
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(EngineError);
  return outcome as EngineError;
}

const withUrl = (url: string, change: (u: URL) => void): string => {
  const parsed = new URL(url);
  change(parsed);
  return parsed.toString();
};

/** A loopback port nothing listens on (taken, then closed). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** What corral's schema holds, row counts by table (undefined: no schema `corral` at all). */
async function corralRows(client: pg.Client, schema = 'corral'): Promise<Record<string, number> | undefined> {
  const { rows } = await client.query<{ table_name: string }>('select table_name from information_schema.tables where table_schema = $1 order by table_name', [schema]);
  const exists = await client.query('select 1 from pg_namespace where nspname = $1', [schema]);
  if (exists.rowCount === 0) return undefined;
  const counts: Record<string, number> = {};
  for (const { table_name } of rows) counts[table_name] = Number((await client.query(`select count(*) as n from "${schema}"."${table_name}"`)).rows[0].n);
  return counts;
}

describe('PostgreSQL store: bad input', () => {
  it('error: an unreachable url (a closed port) is store-unreachable, naming host and port', async () => {
    const port = await closedPort();
    const error = await openError({ url: `postgres://postgres:x@127.0.0.1:${port}/corral` });
    expect(error.code).toBe('store-unreachable');
    expect(error.details).toMatchObject({ host: '127.0.0.1', port });
    expect(error.shortMessage).toContain(`127.0.0.1:${port}`);
  });

  it('error: a wrong password is store-auth, naming the role and the server; the password is not in the error', async () => {
    const url = await freshDatabase();
    const wrong = withUrl(url, (u) => (u.password = 'not-the-password'));
    const error = await openError({ url: wrong });
    expect(error.code).toBe('store-auth');
    expect(error.details).toMatchObject({ user: 'postgres', host: '127.0.0.1', port: Number(new URL(url).port) });
    expect(JSON.stringify(error.toJSON())).not.toContain('not-the-password');
    expect(await corralRows(await superuser(url))).toBeUndefined();
  });

  it('error: a database that does not exist is store-no-database, naming it; it is not created', async () => {
    const name = `t_missing_${process.pid}`;
    const error = await openError({ url: withUrl(sharedServer().url, (u) => (u.pathname = `/${name}`)) });
    expect(error.code).toBe('store-no-database');
    expect(error.details).toMatchObject({ database: name });
    const { rowCount } = await (await superuser(sharedServer().url)).query('select 1 from pg_database where datname = $1', [name]);
    expect(rowCount).toBe(0);
  });

  describe('a role without CREATE on the database', () => {
    const role = `corral_nocreate_${process.pid}`;
    let url: string;
    let admin: pg.Client;
    beforeAll(async () => {
      url = await freshDatabase();
      admin = await superuser(url);
      await admin.query(`create role ${role} login password 'role-pw'`);
      // PostgreSQL grants PUBLIC CONNECT on a database, not CREATE: the role may connect and nothing more.
    });
    afterAll(async () => {
      await admin.query(`drop role if exists ${role}`).catch(() => {});
    });

    it('error: is store-permission, naming the role and the database; no schema, no table is made', async () => {
      const asRole = withUrl(url, (u) => {
        u.username = role;
        u.password = 'role-pw';
      });
      const error = await openError({ url: asRole });
      expect(error.code).toBe('store-permission');
      expect(error.details).toMatchObject({ user: role, database: new URL(url).pathname.slice(1) });
      expect(await corralRows(admin)).toBeUndefined();
    });

    it('error: in read mode (corral inspect) on a database without corral\'s schema, it says so and makes none', async () => {
      const error = await openError({ url, mode: 'read' });
      expect(error.details).toMatchObject({ schema: 'corral' });
      expect(await corralRows(admin)).toBeUndefined();
    });
  });

  describe('a schema newer than this corral knows', () => {
    it('error: is store-schema-newer in own and read mode; nothing is written (no replica registered, no module row)', async () => {
      const url = await freshDatabase();
      const store = await PostgresStore.open({ url, leaseMs: TEST_LEASE_MS, replica: 'old' });
      const m = await store.module('m');
      await m.commit({ writes: [{ key: Uint8Array.of(1), value: Uint8Array.of(2) }], sizeDelta: 2, cursor: { source: 'custom', value: { seq: 1 } } });
      await store.close();
      const admin = await superuser(url);
      const { rows } = await admin.query<{ v: number }>('select max(version) as v from corral.schema_version');
      const newer = Number(rows[0]!.v) + 1;
      await admin.query('update corral.schema_version set version = $1', [newer]);
      const before = await corralRows(admin);
      const epochs = (await admin.query('select name, epoch::text, stored_bytes::text from corral.modules order by name')).rows;

      for (const mode of ['own', 'read'] as const) {
        const error = await openError({ url, mode });
        expect(error.code).toBe('store-schema-newer');
        expect(error.details).toMatchObject({ schema: 'corral', version: newer, known: newer - 1 });
      }
      expect(await corralRows(admin)).toEqual(before);
      expect((await admin.query('select name, epoch::text, stored_bytes::text from corral.modules order by name')).rows).toEqual(epochs);
      expect(Number((await admin.query('select max(version) as v from corral.schema_version')).rows[0].v)).toBe(newer);
    });

    it('error: a newer schema in another schema name than the default is refused the same way', async () => {
      const url = await freshDatabase();
      const admin = await superuser(url);
      await admin.query('create schema tenant_a; create table tenant_a.schema_version (version int not null); insert into tenant_a.schema_version values (1000)');
      const error = await openError({ url, schema: 'tenant_a' });
      expect(error.code).toBe('store-schema-newer');
      expect(error.details).toMatchObject({ schema: 'tenant_a', version: 1000 });
      expect(await corralRows(admin, 'tenant_a')).toEqual({ schema_version: 1 });
    });
  });

  describe('two installations in one database (the schema option)', () => {
    it('behavior: stores on two schemas of one database each own their module m at once: leases of one schema do not hold the other\'s', async () => {
      const url = await freshDatabase();
      const a = await PostgresStore.open({ url, leaseMs: TEST_LEASE_MS, replica: 'a', schema: 'corral' });
      // Opened beside `a`: a lock key shared across schemas would block or refuse it.
      const opening = PostgresStore.open({ url, leaseMs: TEST_LEASE_MS, replica: 'b', schema: 'tenant_b' });
      const b = await Promise.race([opening, new Promise<undefined>((resolve) => setTimeout(resolve, 5_000, undefined))]);
      try {
        expect(b, 'the second schema\'s store opened while the first is open').toBeInstanceOf(PostgresStore);
        await (await a.module('m')).commit({ writes: [{ key: Uint8Array.of(1), value: Uint8Array.of(0xa) }], sizeDelta: 2 });
        const owned = await b!.module('m').then(
          (m) => m,
          (error: unknown) => error,
        );
        expect(owned).not.toBeInstanceOf(Error);
        expect((owned as Awaited<ReturnType<PostgresStore['module']>>).getSync(Uint8Array.of(1))).toBeUndefined();
      } finally {
        await a.close();
        await (await opening).close();
      }
    });
  });

  describe('through engine.toml and Engine.start', () => {
    let runtime: Runtime | undefined;
    afterAll(() => runtime?.close());
    const counter = (name: string) => ({ name, component: fixture('counter'), grants: { store: true }, topics: ['cmd'] });

    it('error: engine.toml with [store] url = "${DATABASE_URL}" at a closed port: startConfigured fails with store-unreachable naming host and port', async () => {
      const port = await closedPort();
      const dir = mkdtempSync(join(tmpdir(), 'corral-pg-toml-'));
      const file = join(dir, 'engine.toml');
      writeFileSync(
        file,
        [
          '[engine]',
          'state_dir = "./state"',
          'log_level = "silent"',
          '',
          '[store]',
          'backend = "postgres"',
          'url = "${DATABASE_URL}"',
          '',
          '[[modules]]',
          'name = "a"',
          `component = ${JSON.stringify(fixture('counter'))}`,
          'grants = { store = true }',
          'topics = ["cmd"]',
        ].join('\n'),
      );
      const { config } = await loadConfig(file, { DATABASE_URL: `postgres://postgres:x@127.0.0.1:${port}/corral` });
      const error = await startConfigured(config, { logger: pino({ level: 'silent' }) }).then(
        async (configured) => {
          await configured.stop();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(EngineError);
      expect(error).toMatchObject({ code: 'store-unreachable', details: { host: '127.0.0.1', port } });
      expect((error as EngineError).details).not.toHaveProperty('module'); // the store's problem, not a module's
    });

    it('error: Engine.start on a newer schema fails with store-schema-newer before any module runs; nothing is written', async () => {
      runtime ??= newRuntime();
      const url = await freshDatabase();
      const store = await PostgresStore.open({ url, leaseMs: TEST_LEASE_MS, replica: 'old' });
      await store.close();
      const admin = await superuser(url);
      await admin.query('update corral.schema_version set version = version + 1');
      const before = await corralRows(admin);
      const { logger } = captureLogger();
      const error = await Engine.start({ runtime, logger, store: { backend: 'postgres', url, leaseMs: TEST_LEASE_MS, replica: 'new' }, modules: [counter('a'), counter('b')] }).then(
        async (engine) => {
          await engine.stop();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(EngineError);
      expect(error).toMatchObject({ code: 'store-schema-newer' });
      expect(await corralRows(admin)).toEqual(before);
    });

    it('error: Engine.start with a role that may not create the schema fails with store-permission naming the role; no schema is made', async () => {
      runtime ??= newRuntime();
      const url = await freshDatabase();
      const admin = await superuser(url);
      const role = `corral_engine_nocreate_${process.pid}`;
      await admin.query(`create role ${role} login password 'role-pw'`);
      try {
        const asRole = withUrl(url, (u) => {
          u.username = role;
          u.password = 'role-pw';
        });
        const error = await Engine.start({ runtime, logger: captureLogger().logger, store: { backend: 'postgres', url: asRole, leaseMs: TEST_LEASE_MS }, modules: [counter('a')] }).then(
          async (engine) => {
            await engine.stop();
            return undefined;
          },
          (e: unknown) => e,
        );
        expect(error).toMatchObject({ code: 'store-permission', details: { user: role } });
        expect(await corralRows(admin)).toBeUndefined();
      } finally {
        await admin.query(`drop role if exists ${role}`).catch(() => {});
      }
    });
  });
});
