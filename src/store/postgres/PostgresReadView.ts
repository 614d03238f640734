import type pg from 'pg';
import { EngineError } from '../../errors/EngineError.ts';
import type { Bytes, ModuleReadView, ReadView } from '../EngineStore.ts';

/** Keys a listing reads per query: a huge range is walked in bounded steps, never loaded whole. */
const KEYS_PER_QUERY = 1_000;

/**
 * At most `max` read views at once. Each holds a pooled connection for the whole read (a query's for
 * its guest's run), and the pool is the commits' too: readers at their bounds ([engine.query] and
 * [engine.api] max_concurrent) on a small pool held every connection, and a commit waited past its
 * lease (found in review). The store gives readers one connection fewer than the pool; more wait here.
 */
export class ReadSlots {
  private used = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {}

  async acquire(): Promise<() => void> {
    if (this.used >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.used++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next(); // the slot passes straight on: `used` stays
      else this.used--;
    };
  }
}

/**
 * Reads of committed state in one `REPEATABLE READ READ ONLY` transaction on one pooled connection:
 * every query sees the snapshot taken at its first one, and a commit is one statement (commitSql.ts),
 * so the view sees each commit whole or not at all, whichever replica made it. Closing ends the
 * transaction and gives the connection back. There is no synchronous read: `getSync` is refused.
 */
export class PostgresReadView implements ReadView {
  private closed = false;

  private constructor(
    private readonly client: pg.PoolClient,
    private readonly s: string,
    private readonly releaseSlot: () => void,
  ) {}

  /** Opens the transaction and fixes its snapshot at once (a view is "as of now", not as of its first read). */
  static async open(pool: pg.Pool, s: string, slots: ReadSlots): Promise<PostgresReadView> {
    const releaseSlot = await slots.acquire();
    let client: pg.PoolClient | undefined;
    try {
      client = await pool.connect();
      await client.query('begin isolation level repeatable read read only');
      // The snapshot is taken at the first statement after BEGIN, not at BEGIN itself.
      await client.query('select 1');
    } catch (error) {
      client?.release(error as Error);
      releaseSlot();
      throw error;
    }
    return new PostgresReadView(client, s, releaseSlot);
  }

  async module(name: string): Promise<ModuleReadView | undefined> {
    const { rows } = await this.client.query(`select id, stored_bytes from ${this.s}.modules where name = $1`, [name]);
    const row = rows[0] as { id: number; stored_bytes: string } | undefined;
    return row && new PostgresModuleReadView(this.client, this.s, name, row.id, Number(row.stored_bytes));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.client.query('rollback');
      this.client.release();
    } catch (error) {
      // A connection whose transaction did not end cleanly must not go back to the pool.
      this.client.release(error as Error);
    } finally {
      this.releaseSlot();
    }
  }
}

class PostgresModuleReadView implements ModuleReadView {
  constructor(
    private readonly client: pg.PoolClient,
    private readonly s: string,
    readonly name: string,
    private readonly id: number,
    private readonly stored: number,
  ) {}

  async get(key: Bytes): Promise<Bytes | undefined> {
    const { rows } = await this.client.query(`select v from ${this.s}.kv where module_id = $1 and k = $2`, [this.id, key]);
    return rows[0] ? Uint8Array.from((rows[0] as { v: Buffer }).v) : undefined;
  }

  getSync(): Bytes | undefined {
    throw new EngineError('invalid-option', `a PostgreSQL read view has no synchronous reads (module ${this.name})`, { store: 'postgres', module: this.name });
  }

  async *keys(range: { gt?: Bytes; gte?: Bytes; lt?: Bytes; limit: number }): AsyncIterable<Bytes> {
    for await (const [key] of this.rows(range, false)) yield key;
  }

  entries(range: { gt?: Bytes; gte?: Bytes; lt?: Bytes; limit: number }): AsyncIterable<[Bytes, Bytes]> {
    return this.rows(range, true) as AsyncIterable<[Bytes, Bytes]>;
  }

  /** Rows of the range in key order, `KEYS_PER_QUERY` per query (with their values when `values`). */
  private async *rows(range: { gt?: Bytes; gte?: Bytes; lt?: Bytes; limit: number }, values: boolean): AsyncIterable<[Bytes, Bytes | undefined]> {
    let left = range.limit < 0 ? Infinity : Math.floor(range.limit);
    let after = range.gt;
    while (left > 0) {
      const where = ['module_id = $1'];
      const params: unknown[] = [this.id];
      // bytea compares in memcmp order, as LevelDB's keys do.
      if (after) where.push(`k > $${params.push(after)}`);
      else if (range.gte) where.push(`k >= $${params.push(range.gte)}`);
      if (range.lt) where.push(`k < $${params.push(range.lt)}`);
      const take = Math.min(left, KEYS_PER_QUERY);
      const { rows } = await this.client.query(`select k${values ? ', v' : ''} from ${this.s}.kv where ${where.join(' and ')} order by k limit ${take}`, params);
      for (const row of rows as { k: Buffer; v?: Buffer }[]) yield [Uint8Array.from(row.k), row.v && Uint8Array.from(row.v)];
      if (rows.length < take) return;
      left -= rows.length;
      after = Uint8Array.from((rows.at(-1) as { k: Buffer }).k);
    }
  }

  async cursors(): Promise<Record<string, unknown>> {
    const { rows } = await this.client.query(`select source, value::text as value from ${this.s}.cursors where module_id = $1`, [this.id]);
    return Object.fromEntries((rows as { source: string; value: string }[]).map((row) => [row.source, JSON.parse(row.value)]));
  }

  async storedBytes(): Promise<number> {
    return this.stored;
  }
}
