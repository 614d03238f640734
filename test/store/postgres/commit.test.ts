import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../../src/errors/EngineError.ts';
import type { Commit, JournalEntry } from '../../../src/store/EngineStore.ts';
import { LevelStore } from '../../../src/store/LevelStore.ts';
import { freshDatabase } from '../../postgres.ts';
import { dec, enc, Opened, snapshot } from './harness.ts';

let url: string;
const opened = new Opened();
const levels: LevelStore[] = [];
beforeAll(async () => {
  url = await freshDatabase();
});
afterEach(async () => {
  await opened.closeAll();
  await Promise.all(levels.splice(0).map((l) => l.close()));
});

const w = (k: string, v: string | null) => ({ key: enc(k), value: v === null ? null : enc(v) });
const record = (number: bigint): Omit<JournalEntry, 'undo'> => ({ number, hash: `0x${number}`, prev: { number: number - 1n, hash: `0x${number - 1n}` }, payload: { logs: [String(number)] } });

/** Commits that exercise every part of a Commit: overlapping writes and bookkeeping, cursors, records, removes (pruned and undone), rebases (of a live and a pruned entry). */
const COMMITS: Commit[] = [
  { writes: [w('a', '1'), w('b', '1')], sizeDelta: 4, cursor: { source: 'chain:1', value: { number: '10', hash: '0x10' } }, journal: { chainId: 1n, record: record(10n) } },
  { writes: [w('a', '2'), w('c', '1')], bookkeeping: [w('c', 'mark'), w('\xff\x00corral/reorg/x', '1')], sizeDelta: 2, cursor: { source: 'chain:1', value: { number: '11' } }, journal: { chainId: 1n, record: record(11n) } },
  { writes: [w('b', null), w('d', '1')], sizeDelta: -1, cursor: { source: 'chain:2', value: { number: '500' } }, journal: { chainId: 2n, record: record(500n) } },
  { writes: [w('e', '1'), w('e', '2')], sizeDelta: 2, cursor: { source: 'custom', value: { seq: 3 } } },
  { writes: [w('a', '3')], sizeDelta: 0, journal: { chainId: 1n, record: record(12n), remove: [10n] }, rebase: [{ chainId: 1n, number: 11n, key: enc('a'), value: enc('0') }, { chainId: 1n, number: 10n, key: enc('a'), value: null }] },
  { writes: [w('a', '1')], sizeDelta: 0, cursor: { source: 'chain:1', value: { number: '10' } }, journal: { chainId: 1n, remove: [12n, 11n], undone: true }, rebase: [{ chainId: 2n, number: 500n, key: enc('d'), value: enc('z') }] },
  { writes: [], bookkeeping: [w('\xff\x00corral/reorg/x', null)], sizeDelta: 0, journal: { chainId: 2n, record: record(500n) } },
];

describe('PostgresModuleStore commit', () => {
  it('default: every commit leaves the same state as LevelStore\'s for the same Commit (keys, values, cursors, journal, size)', async () => {
    const level = await LevelStore.open(mkdtempSync(join(tmpdir(), 'corral-pgdiff-')));
    levels.push(level);
    const pgStore = await opened.store({ url, replica: 'diff' });
    const [expected, actual] = [await level.module('m'), await pgStore.module('m')];
    for (const commit of COMMITS) {
      await expected.commit(commit);
      await actual.commit(commit);
      expect(await snapshot(actual)).toEqual(await snapshot(expected));
    }
  });

  it('behavior: a reopened store (a new epoch) loads exactly the state committed before', async () => {
    const first = await opened.store({ url, replica: 'first' });
    const before = await first.module('reopen');
    for (const commit of COMMITS) await before.commit(commit);
    const state = await snapshot(before);
    const epoch = first.owned().get('reopen')!;
    await first.close();
    const second = await opened.store({ url, replica: 'second' });
    const after = await second.module('reopen');
    expect(second.owned().get('reopen')).toBe(epoch + 1n);
    expect(await snapshot(after)).toEqual(state);
  });

  it('args: keys ranges in byte order, gt/gte/lt and limit (-1: all)', async () => {
    const store = await opened.store({ url, replica: 'keys' });
    const module = await store.module('keys');
    const keys = [Uint8Array.of(0x00), Uint8Array.of(0x01, 0xff), Uint8Array.of(0x7f), Uint8Array.of(0x80), Uint8Array.of(0xff), Uint8Array.of(0xff, 0x00)];
    await module.commit({ writes: keys.map((key) => ({ key, value: enc('v') })), sizeDelta: 0 });
    const list = async (range: Parameters<typeof module.keys>[0]) => {
      const out: string[] = [];
      for await (const key of module.keys(range)) out.push(Buffer.from(key).toString('hex'));
      return out;
    };
    expect(await list({ limit: -1 })).toEqual(['00', '01ff', '7f', '80', 'ff', 'ff00']);
    expect(await list({ gt: Uint8Array.of(0x01, 0xff), lt: Uint8Array.of(0xff), limit: -1 })).toEqual(['7f', '80']);
    expect(await list({ gte: Uint8Array.of(0x7f), limit: 2 })).toEqual(['7f', '80']);
    expect(await list({ limit: 0 })).toEqual([]);
  });

  it('behavior: a stale epoch\'s commit throws fenced, writes nothing (kv, cursors, journal, size) and reports the module lost', async () => {
    const store = await opened.store({ url, replica: 'stale' });
    const module = await store.module('stale');
    await module.commit({ writes: [w('k', 'before')], sizeDelta: 7 });
    const losses: unknown[] = [];
    store.onLost((loss) => losses.push(loss));
    const sql = await opened.client(url);
    // Another owner's epoch bump, as its acquire does.
    await sql.query(`update corral.modules set epoch = epoch + 1 where name = 'stale'`);
    const error = await module.commit({ writes: [w('k', 'after'), w('new', 'x')], sizeDelta: 100, cursor: { source: 'chain:1', value: { n: 1 } }, journal: { chainId: 1n, record: record(5n) } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).code).toBe('fenced');
    const id = (await sql.query(`select id, stored_bytes from corral.modules where name = 'stale'`)).rows[0];
    expect(Number(id.stored_bytes)).toBe(7);
    expect((await sql.query('select convert_from(k, \'utf8\') as k, convert_from(v, \'utf8\') as v from corral.kv where module_id = $1', [id.id])).rows).toEqual([{ k: 'k', v: 'before' }]);
    expect((await sql.query('select count(*)::int as n from corral.cursors where module_id = $1', [id.id])).rows[0].n).toBe(0);
    expect((await sql.query('select count(*)::int as n from corral.journal where module_id = $1', [id.id])).rows[0].n).toBe(0);
    expect(dec(module.getSync(enc('k')))).toBe('before'); // the cache is untouched
    expect(losses).toMatchObject([{ reason: 'fenced', module: 'stale' }]);
    expect(store.owned().has('stale')).toBe(false);
    expect(((await module.commit({ writes: [w('k', 'again')], sizeDelta: 0 }).catch((e: unknown) => e)) as EngineError).code).toBe('fenced');
  });

  it('error: a connection lost mid-commit gives store-lost, reports commit-failed and poisons the module', async () => {
    const store = await opened.store({ url, replica: 'poison' });
    const module = await store.module('poison');
    const losses: unknown[] = [];
    store.onLost((loss) => losses.push(loss));
    const sql = await opened.client(url);
    // Hold the module's row so the commit blocks at its fence, then end the committing backend.
    await sql.query('begin');
    await sql.query(`select 1 from corral.modules where name = 'poison' for update`);
    const commit = module.commit({ writes: [w('k', 'v')], sizeDelta: 2 }).catch((e: unknown) => e);
    const killer = await opened.client(url);
    await expect.poll(async () => (await killer.query(`select pg_terminate_backend(pid) as ok from pg_stat_activity where wait_event_type = 'Lock' and query like 'with fence%'`)).rowCount).toBe(1);
    const error = (await commit) as EngineError;
    expect(error).toBeInstanceOf(EngineError);
    expect(error.code).toBe('store-lost');
    await sql.query('rollback');
    expect(losses).toMatchObject([{ reason: 'commit-failed', module: 'poison' }]);
    expect(((await module.commit({ writes: [w('k', 'v')], sizeDelta: 2 }).catch((e: unknown) => e)) as EngineError).code).toBe('store-lost');
    expect(module.getSync(enc('k'))).toBeUndefined();
    // Acquired again (the lock is still this session's): a new epoch, the state loaded afresh; released once, it is free.
    const epoch = (await sql.query(`select epoch from corral.modules where name = 'poison'`)).rows[0].epoch;
    expect(await store.tryAcquire('poison')).toEqual({ epoch: BigInt(epoch) + 1n });
    await (await store.module('poison')).commit({ writes: [w('k', 'fresh')], sizeDelta: 6 });
    await store.release('poison');
    const other = await opened.store({ url, replica: 'other' });
    expect(await other.tryAcquire('poison')).toEqual({ epoch: BigInt(epoch) + 2n });
    expect(dec((await other.module('poison')).getSync(enc('k')))).toBe('fresh');
  });

  it('behavior: different modules commit at once over the pool, each keeping its own state', async () => {
    const store = await opened.store({ url, replica: 'parallel', pool: 4 });
    const names = Array.from({ length: 8 }, (_, i) => `par${i}`);
    await Promise.all(names.map(async (name) => {
      const module = await store.module(name);
      for (let n = 0; n < 10; n++) await module.commit({ writes: [w('n', String(n)), w(name, 'own')], sizeDelta: 1, cursor: { source: 'custom', value: { seq: n } } });
    }));
    const sql = await opened.client(url);
    const { rows } = await sql.query(`select m.name, count(*)::int as keys, max(c.value->>'seq') as seq from corral.modules m join corral.kv on kv.module_id = m.id join corral.cursors c on c.module_id = m.id where m.name like 'par%' group by m.name order by m.name`);
    expect(rows).toEqual(names.map((name) => ({ name, keys: 2, seq: '9' })));
  });

  it('behavior: close waits for the commit in flight: it is written, not refused', async () => {
    const store = await opened.store({ url, replica: 'closer' });
    const module = await store.module('closing');
    const commit = module.commit({ writes: [w('k', 'last')], sizeDelta: 5 });
    await store.close();
    await commit;
    const sql = await opened.client(url);
    expect((await sql.query(`select convert_from(v, 'utf8') as v from corral.kv join corral.modules m on m.id = module_id where m.name = 'closing'`)).rows).toEqual([{ v: 'last' }]);
  });

  it('behavior: breakers are loaded with the module and saved under its epoch', async () => {
    const store = await opened.store({ url, replica: 'breaker' });
    await store.module('brk');
    for (let at = 1; at < 20; at++) store.breakers.save('brk', { state: 'half-open', cooldownMs: at, at }); // written in order: the last one stays
    store.breakers.save('brk', { state: 'open', cooldownMs: 500, at: 1234 });
    expect(store.breakers.load('brk')).toEqual({ state: 'open', cooldownMs: 500, at: 1234 });
    const sql = await opened.client(url);
    await expect.poll(async () => (await sql.query(`select b.record from corral.breakers b join corral.modules m on m.id = b.module_id where m.name = 'brk'`)).rows[0]?.record).toEqual({ state: 'open', cooldownMs: 500, at: 1234 });
    await store.close();
    expect((await sql.query(`select b.record from corral.breakers b join corral.modules m on m.id = b.module_id where m.name = 'brk'`)).rows[0].record).toEqual({ state: 'open', cooldownMs: 500, at: 1234 });
    const again = await opened.store({ url, replica: 'breaker2' });
    await again.module('brk');
    expect(again.breakers.load('brk')).toEqual({ state: 'open', cooldownMs: 500, at: 1234 });
  });
});
