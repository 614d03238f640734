import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFixtures } from '../fixtures/build.ts';

/** Builds the fixture components once, and gives the whole run one artifact cache. */
export default async function setup(): Promise<() => void> {
  await buildFixtures();
  const cacheDir = mkdtempSync(join(tmpdir(), 'corral-test-cache-'));
  process.env.CORRAL_TEST_CACHE_DIR = cacheDir;
  return () => rmSync(cacheDir, { recursive: true, force: true });
}
