import pg from 'pg';
import { EngineError } from '../../errors/EngineError.ts';

/** Where a store URL points, for error messages: never the password. */
export interface StoreTarget {
  host: string;
  port: number;
  database: string;
  user: string;
}

export function targetOf(url: string): StoreTarget {
  const parsed = new URL(url);
  return {
    host: parsed.hostname || 'localhost',
    port: Number(parsed.port || 5432),
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || decodeURIComponent(parsed.username) || 'postgres',
    user: decodeURIComponent(parsed.username) || 'postgres',
  };
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNRESET']);

/**
 * The store-* error a connection or statement failure means, naming what and where; any other error
 * is returned as it is. SQLSTATEs: 28P01/28000 credentials, 3D000 no such database, 42501 a privilege
 * missing (see PostgreSQL's errcodes table).
 */
export function storeError(error: unknown, target: StoreTarget): unknown {
  if (error instanceof EngineError) return error;
  const where = `${target.host}:${target.port}`;
  const details = { host: target.host, port: target.port, database: target.database, user: target.user };
  const code = (error as { code?: unknown } | null)?.code;
  const nested = error instanceof AggregateError ? error.errors.map((e) => (e as { code?: unknown }).code) : [];
  if ((typeof code === 'string' && UNREACHABLE.has(code)) || nested.some((c) => typeof c === 'string' && UNREACHABLE.has(c))) {
    return new EngineError('store-unreachable', `the store's PostgreSQL at ${where} does not answer`, details, error);
  }
  switch (code) {
    case '28P01':
    case '28000':
      return new EngineError('store-auth', `PostgreSQL at ${where} refused role "${target.user}" (wrong password or no pg_hba entry)`, details, error);
    case '3D000':
      return new EngineError('store-no-database', `PostgreSQL at ${where} has no database "${target.database}"`, details, error);
    case '42501':
      return new EngineError('store-permission', `role "${target.user}" may not create or use corral's schema in database "${target.database}" at ${where} (it needs CREATE on the database, or on the schema once made)`, details, error);
    default:
      return error;
  }
}

/**
 * A connection-level failure (the socket, or the server ending the session: SQLSTATE classes 08 and
 * 57) as opposed to a statement the server answered with an error: after one of these, whether a
 * statement in flight committed is unknown.
 */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof pg.DatabaseError)) return true;
  const code = error.code ?? '';
  return code.startsWith('08') || code.startsWith('57');
}

/**
 * A pool for commits and reads; an idle connection the server ends is reported, not thrown. Getting a
 * connection gives up after `connectMs` (the lease period: past it, this replica owns nothing anyway).
 */
export function createPool(url: string, max: number, connectMs: number, onError: (error: Error) => void): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, keepAlive: true, connectionTimeoutMillis: connectMs });
  pool.on('error', onError);
  return pool;
}

/** One direct connection, its errors mapped (see storeError); `onError` hears of errors after connect. */
export async function connectClient(config: pg.ClientConfig & { connectionString: string }, onError: (error: Error) => void): Promise<pg.Client> {
  const client = new pg.Client(config);
  client.on('error', onError);
  try {
    await client.connect();
  } catch (error) {
    client.end().catch(() => {});
    throw storeError(error, targetOf(config.connectionString));
  }
  return client;
}

/** A schema name as SQL, quoted; only plain lower-case names, so nothing can be injected through it. */
export function schemaIdent(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new EngineError('invalid-option', `store schema ${JSON.stringify(schema)} must be a lower-case SQL name (a-z, 0-9, _)`, { schema });
  return `"${schema}"`;
}
