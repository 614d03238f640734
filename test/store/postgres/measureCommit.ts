/**
 * Measures a step's commit on PostgreSQL as the engine makes it (10 keys + a cursor + a journal record
 * and a prune, one fenced statement, synchronous_commit on), against LevelStore's for the same
 * commits, and one module's acquire + cache load. A measurement, not a test:
 *   npx tsx test/store/postgres/measureCommit.ts [commits]
 * It starts a PostgreSQL of its own (test/postgres.ts) and destroys it at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Commit, ModuleStore } from '../../../src/store/EngineStore.ts';
import { LevelStore } from '../../../src/store/LevelStore.ts';
import { PostgresStore } from '../../../src/store/postgres/PostgresStore.ts';
import { freshDatabase, startPostgres } from '../../postgres.ts';

const COMMITS = Number(process.argv[2] ?? 2_000);
const WINDOW = 64n;

function commitOf(n: number): Commit {
  const number = BigInt(n);
  const writes = Array.from({ length: 10 }, (_, i) => ({ key: Buffer.from(`key/${(n * 10 + i) % 5_000}`), value: Buffer.from(`value ${n} ${i} `.padEnd(64, '.')) }));
  return {
    writes,
    sizeDelta: 0,
    cursor: { source: 'chain:1', value: { number: String(n), hash: `0x${n.toString(16)}` } },
    journal: { chainId: 1n, record: { number, hash: `0x${n.toString(16)}`, prev: { number: number - 1n, hash: `0x${(n - 1).toString(16)}` }, payload: { logs: 1 } }, ...(number > WINDOW ? { remove: [number - WINDOW] } : {}) },
  };
}

async function run(module: ModuleStore): Promise<{ p50: number; p99: number; perSecond: number }> {
  for (let n = 1; n <= 100; n++) await module.commit(commitOf(n)); // warm up (prepared statement, caches)
  const times: number[] = [];
  const start = performance.now();
  for (let n = 101; n < 101 + COMMITS; n++) {
    const t = performance.now();
    await module.commit(commitOf(n));
    times.push(performance.now() - t);
  }
  const total = performance.now() - start;
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
  return { p50: at(0.5), p99: at(0.99), perSecond: (COMMITS / total) * 1000 };
}

const server = await startPostgres();
try {
  const url = await freshDatabase(server);
  const store = await PostgresStore.open({ url, replica: 'measure' });
  const pgResult = await run(await store.module('m'));
  // Eight modules committing at once over the pool (different modules never wait for each other).
  const parallelStart = performance.now();
  const perModule = Math.ceil(COMMITS / 8);
  await Promise.all(Array.from({ length: 8 }, async (_, i) => {
    const module = await store.module(`p${i}`);
    for (let n = 1; n <= perModule; n++) await module.commit(commitOf(n));
  }));
  const parallelPerSecond = ((perModule * 8) / (performance.now() - parallelStart)) * 1000;
  const big = await store.module('load');
  for (let batch = 0; batch < 20; batch++) {
    await big.commit({ writes: Array.from({ length: 1_000 }, (_, i) => ({ key: Buffer.from(`k${batch * 1_000 + i}`.padEnd(16, '.')), value: Buffer.alloc(64, 1) })), sizeDelta: 80_000 });
  }
  await store.release('load');
  const t = performance.now();
  await store.tryAcquire('load');
  const loadMs = performance.now() - t;
  await store.close();

  // The same commits without waiting for the WAL flush: what the disk costs.
  const asyncUrl = await freshDatabase(server);
  const admin = await PostgresStore.open({ url: asyncUrl, replica: 'admin' });
  await admin.close();
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: asyncUrl });
  client.on('error', () => {});
  await client.connect();
  await client.query(`alter database ${new URL(asyncUrl).pathname.slice(1)} set synchronous_commit = off`);
  await client.end();
  const asyncStore = await PostgresStore.open({ url: asyncUrl, replica: 'measure-async' });
  const asyncResult = await run(await asyncStore.module('m'));
  await asyncStore.close();

  const dir = mkdtempSync(join(tmpdir(), 'corral-measure-'));
  const level = await LevelStore.open(dir);
  const levelResult = await run(await level.module('m'));
  await level.close();
  rmSync(dir, { recursive: true, force: true });

  const fmt = (r: { p50: number; p99: number; perSecond: number }) => `p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ${Math.round(r.perSecond)} commits/s`;
  console.log(`${COMMITS} commits of 10 keys + cursor + journal record (+ prune), one module, one at a time`);
  console.log(`  postgres (fenced statement, synchronous_commit on): ${fmt(pgResult)}`);
  console.log(`  postgres, 8 modules at once over the pool:          ${Math.round(parallelPerSecond)} commits/s in total`);
  console.log(`  postgres, synchronous_commit off:                   ${fmt(asyncResult)}`);
  console.log(`  leveldb:                                            ${fmt(levelResult)}`);
  console.log(`acquire + cache load of a 20,000-key module (1.6 MB): ${loadMs.toFixed(0)} ms`);
} finally {
  await server.destroy();
}
