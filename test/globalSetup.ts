import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFixtures } from '../fixtures/build.ts';
import { killLeftoverPostgres, startPostgres } from './postgres.ts';

/**
 * Builds the fixture components once, gives the whole run one artifact cache, and starts the run's
 * shared PostgreSQL (each test file takes a fresh database of it: test/postgres.ts).
 */
export default async function setup(): Promise<() => Promise<void>> {
  killLeftoverPostgres();
  const [postgres] = await Promise.all([startPostgres(), buildFixtures()]);
  process.env.CORRAL_TEST_PG_URL = postgres.url;
  const cacheDir = mkdtempSync(join(tmpdir(), 'corral-test-cache-'));
  process.env.CORRAL_TEST_CACHE_DIR = cacheDir;
  return async () => {
    rmSync(cacheDir, { recursive: true, force: true });
    await postgres.destroy();
  };
}
