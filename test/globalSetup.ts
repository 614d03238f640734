import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildFixtures } from '../fixtures/build.ts';
import { killLeftoverPostgres, startPostgres } from './postgres.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Builds dist/ when bin/corral.mjs would not run it (missing, or older than src/: the bin then says so on
 * stderr), so the tests that spawn the CLI run what users run. Once per run, before any file: a build
 * inside a test file would replace dist/ under another file's CLI.
 */
async function buildDistIfStale(): Promise<void> {
  const probe = spawnSync(process.execPath, [join(root, 'bin', 'corral.mjs'), '--version'], { encoding: 'utf8' });
  if (probe.stderr === '') return;
  await promisify(execFile)('npm', ['run', 'build'], { cwd: root });
}

/**
 * Builds the fixture components once, builds dist/ if stale, gives the whole run one artifact cache, and
 * starts the run's shared PostgreSQL (each test file takes a fresh database of it: test/postgres.ts).
 */
export default async function setup(): Promise<() => Promise<void>> {
  killLeftoverPostgres();
  const [postgres] = await Promise.all([startPostgres(), buildFixtures(), buildDistIfStale()]);
  process.env.CORRAL_TEST_PG_URL = postgres.url;
  const cacheDir = mkdtempSync(join(tmpdir(), 'corral-test-cache-'));
  process.env.CORRAL_TEST_CACHE_DIR = cacheDir;
  return async () => {
    rmSync(cacheDir, { recursive: true, force: true });
    await postgres.destroy();
  };
}
