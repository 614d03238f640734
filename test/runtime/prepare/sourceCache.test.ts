import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LoadError } from '../../../src/index.ts';
import { preparationsRequested } from '../../../src/runtime/prepare/prepareInWorker.ts';
import { SourceCache } from '../../../src/runtime/prepare/SourceCache.ts';
import { fixture, newRuntime } from '../../helpers.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A whole second, so that setting it again gives the very same mtime (a double cannot carry nanoseconds). */
const MTIME_S = 1_700_000_000;

/** `source` copied to `path`, its mtime set to `MTIME_S`. */
function place(source: string, path: string): void {
  copyFileSync(source, path);
  utimesSync(path, MTIME_S, MTIME_S);
}

/** `bytes` written over `path` with its size and mtime as they were: only ctime tells. */
function rewriteKeepingSizeAndMtime(path: string, bytes: Uint8Array): void {
  const before = statSync(path, { bigint: true });
  expect(BigInt(bytes.length)).toBe(before.size);
  writeFileSync(path, bytes);
  utimesSync(path, MTIME_S, MTIME_S);
  expect(statSync(path, { bigint: true }).mtimeNs).toBe(before.mtimeNs);
}

describe('SourceCache', () => {
  it('behavior: loads of an unchanged file, at once and after, share one read', async () => {
    const cache = new SourceCache(mkdtempSync(join(tmpdir(), 'corral-cache-')));
    const [a, b] = await Promise.all([cache.facts(fixture('compute'), 'compute'), cache.facts(fixture('compute'), 'compute')]);
    const c = await cache.facts(fixture('compute'), 'compute');
    expect(cache.reads).toBe(1);
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(a.sha256).toBe(sha256(readFileSync(fixture('compute'))));
  });

  it('behavior: a file rewritten with other bytes of the same size and mtime is read again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-source-'));
    try {
      const path = join(dir, 'guest.wasm');
      const original = readFileSync(fixture('compute'));
      place(fixture('compute'), path);
      const cache = new SourceCache(mkdtempSync(join(tmpdir(), 'corral-cache-')));
      expect((await cache.facts(path, 'guest')).sha256).toBe(sha256(original));
      // The same bytes with one custom-section byte changed: still a valid component, another digest.
      const changed = Uint8Array.from(original);
      changed[changed.length - 1] = changed.at(-1)! ^ 1;
      rewriteKeepingSizeAndMtime(path, changed);
      expect((await cache.facts(path, 'guest')).sha256).toBe(sha256(changed));
      expect(cache.reads).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Runtime loads through the source cache', () => {
  it('behavior: 20 components loaded from one file at once prepare it once and share its files', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'corral-prepare-')); // empty: the first load prepares
    const runtime = newRuntime({ cacheDir });
    try {
      const before = preparationsRequested();
      const components = await Promise.all(Array.from({ length: 20 }, (_, i) => runtime.load(fixture('compute'), { name: `c${i}` })));
      expect(preparationsRequested() - before).toBe(1);
      expect(components.filter((c) => !c.fromCache)).toHaveLength(1);
      expect(new Set(components.map((c) => c.artifactFiles)).size).toBe(1);
      // Each is its own component all the same: its own calls, its own pool.
      const outcomes = await Promise.all(components.map((c, i) => c.invoke('add', [i, 1])));
      expect(outcomes.map((o) => (o.ok ? o.value : o.signal.name))).toEqual(components.map((_, i) => i + 1));
      for (const c of components.slice(1)) c.close();
      expect((await components[0]!.invoke('add', [2, 2])).ok).toBe(true);
    } finally {
      await runtime.close();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it('error: a pinned load of a file rewritten under the same size and mtime checks the new bytes: the old pin fails, the new one holds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-source-'));
    const runtime = newRuntime({ cacheDir: join(dir, 'cache') });
    try {
      const path = join(dir, 'guest.wasm');
      const original = readFileSync(fixture('compute'));
      place(fixture('compute'), path);
      await runtime.load(path, { name: 'first', sha256: sha256(original) });
      const changed = Uint8Array.from(original);
      changed[changed.length - 1] = changed.at(-1)! ^ 1;
      rewriteKeepingSizeAndMtime(path, changed);
      const refused = await runtime.load(path, { name: 'stale', sha256: sha256(original) }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(LoadError);
      expect(refused).toMatchObject({ code: 'sha256-mismatch', details: { expected: sha256(original), actual: sha256(changed) } });
      const loaded = await runtime.load(path, { name: 'fresh', sha256: sha256(changed) });
      expect(loaded.meta.sha256).toBe(sha256(changed));
    } finally {
      await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a second runtime on the same cache', () => {
  it('behavior: a file unchanged since a runtime prepared it is not read again by the next one; a rewrite under the same size and mtime is, and its old pin fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-source-'));
    const cacheDir = join(dir, 'cache');
    try {
      const path = join(dir, 'guest.wasm');
      const original = readFileSync(fixture('compute'));
      place(fixture('compute'), path);
      const first = newRuntime({ cacheDir });
      try {
        expect((await first.load(path, { sha256: sha256(original) })).fromCache).toBe(false);
      } finally {
        await first.close();
      }
      // The record is written once the artifact is: it is there when the next runtime looks.
      const unread = async () => {
        const cache = new SourceCache(cacheDir);
        const facts = await cache.facts(path, 'guest');
        return cache.reads === 0 && facts.bytes === null && facts.sha256 === sha256(original);
      };
      await expect.poll(unread).toBe(true);

      const changed = Uint8Array.from(original);
      changed[changed.length - 1] = changed.at(-1)! ^ 1;
      rewriteKeepingSizeAndMtime(path, changed);
      const second = newRuntime({ cacheDir });
      try {
        const refused = await second.load(path, { name: 'stale', sha256: sha256(original) }).catch((error: unknown) => error);
        expect(refused).toMatchObject({ code: 'sha256-mismatch', details: { actual: sha256(changed) } });
        expect((await second.load(path, { name: 'fresh', sha256: sha256(changed) })).meta.sha256).toBe(sha256(changed));
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
