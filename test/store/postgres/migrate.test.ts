import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../../src/errors/EngineError.ts';
import { SCHEMA_VERSION } from '../../../src/store/postgres/migrate.ts';
import { PostgresStore } from '../../../src/store/postgres/PostgresStore.ts';
import { freshDatabase, sharedServer } from '../../postgres.ts';
import { Opened } from './harness.ts';

const opened = new Opened();
afterEach(() => opened.closeAll());
afterAll(() => opened.closeAll());

async function openError(options: Parameters<typeof PostgresStore.open>[0]): Promise<EngineError> {
  const error = await PostgresStore.open(options).then(
    async (store) => {
      await store.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EngineError);
  return error as EngineError;
}

const withUrl = (base: string, change: (url: URL) => void) => {
  const url = new URL(base);
  change(url);
  return url.toString();
};

describe('migrations', () => {
  let url: string;
  beforeAll(async () => {
    url = await freshDatabase();
  });

  it('default: a fresh database is migrated to the newest version; opening again applies nothing more', async () => {
    const first = await opened.store({ url, replica: 'a' });
    await first.declare(['kept']);
    await first.close();
    await opened.store({ url, replica: 'b' });
    const sql = await opened.client(url);
    expect((await sql.query('select version from corral.schema_version')).rows).toEqual([{ version: SCHEMA_VERSION }]);
    expect((await sql.query('select name from corral.modules')).rows).toEqual([{ name: 'kept' }]);
  });

  it('behavior: replicas opening a fresh database at once migrate it once (the advisory transaction lock)', async () => {
    const fresh = await freshDatabase();
    const stores = await Promise.all([1, 2, 3].map((n) => opened.store({ url: fresh, replica: `r${n}` })));
    expect(new Set(stores.map((s) => s.replica.id)).size).toBe(3);
    const sql = await opened.client(fresh);
    expect((await sql.query('select version from corral.schema_version')).rows).toEqual([{ version: SCHEMA_VERSION }]);
  });

  it('error: a schema newer than this corral knows is refused with store-schema-newer, nothing written', async () => {
    const fresh = await freshDatabase();
    await (await opened.store({ url: fresh, replica: 'old' })).close();
    const sql = await opened.client(fresh);
    await sql.query('update corral.schema_version set version = $1', [SCHEMA_VERSION + 1]);
    const before = (await sql.query('select count(*)::int as n from corral.replicas')).rows[0].n;
    const error = await openError({ url: fresh, replica: 'new' });
    expect(error.code).toBe('store-schema-newer');
    expect(error.details).toMatchObject({ version: SCHEMA_VERSION + 1, known: SCHEMA_VERSION });
    expect((await sql.query('select count(*)::int as n from corral.replicas')).rows[0].n).toBe(before);
    expect((await sql.query('select version from corral.schema_version')).rows).toEqual([{ version: SCHEMA_VERSION + 1 }]);
    expect((await openError({ url: fresh, mode: 'read' })).code).toBe('store-schema-newer');
  });
});

describe('connection errors', () => {
  it('error: a lease period shorter than twice the self-fence margin is refused before connecting', async () => {
    const error = await openError({ url: 'postgres://nobody@127.0.0.1:1/none', leaseMs: 1_500 });
    expect(error.code).toBe('invalid-option');
    expect(error.details).toEqual({ leaseMs: 1_500 });
  });

  it('error: nothing listening at the port gives store-unreachable naming host:port', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const error = await openError({ url: `postgres://corral:secret@127.0.0.1:${port}/corral` });
    expect(error.code).toBe('store-unreachable');
    expect(error.details).toMatchObject({ host: '127.0.0.1', port });
    expect(error.shortMessage).toContain(`127.0.0.1:${port}`);
    expect(error.message).not.toContain('secret');
  });

  it('error: a wrong password gives store-auth naming the role', async () => {
    const error = await openError({ url: withUrl(sharedServer().url, (u) => (u.password = 'wrong')) });
    expect(error.code).toBe('store-auth');
    expect(error.details).toMatchObject({ user: 'postgres' });
  });

  it('error: a database that does not exist gives store-no-database naming it', async () => {
    const error = await openError({ url: withUrl(sharedServer().url, (u) => (u.pathname = '/no_such_db')) });
    expect(error.code).toBe('store-no-database');
    expect(error.details).toMatchObject({ database: 'no_such_db' });
  });

  it('error: a role without CREATE on the database gives store-permission, and creates nothing', async () => {
    const fresh = await freshDatabase();
    const role = `r_${Math.random().toString(36).slice(2, 10)}`;
    const admin = await opened.client(fresh);
    await admin.query(`create role ${role} login password 'pw'`);
    const error = await openError({ url: withUrl(fresh, (u) => ((u.username = role), (u.password = 'pw'))) });
    expect(error.code).toBe('store-permission');
    expect(error.details).toMatchObject({ user: role });
    expect((await admin.query(`select count(*)::int as n from pg_namespace where nspname = 'corral'`)).rows[0].n).toBe(0);
  });
});
