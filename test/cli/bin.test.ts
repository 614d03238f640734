/**
 * Which code bin/corral.mjs runs: the built dist/ when it is at least as new as every file under src/,
 * else the sources through tsx after a one-line notice. Run from a copy of the package (the bin,
 * package.json, the real dist/ the global setup built, node_modules linked) whose src/cli/main.ts is a
 * stand-in that says it ran, so the choice shows in the output; mtimes are set, not waited for.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const FROM_SOURCES = 'the stand-in sources ran';

describe('bin/corral.mjs', () => {
  let pkg = '';
  let source = '';
  let stamp = '';
  // A cache of the copy's own: a call prepares its component on dist/'s prepare thread, not from the run's cache.
  const corral = (...args: string[]) => spawnSync(process.execPath, [join(pkg, 'bin', 'corral.mjs'), ...args], { encoding: 'utf8', env: { ...process.env, CORRAL_CACHE_DIR: join(pkg, 'cache') } });
  /** Sets the stand-in source's mtime `seconds` from the build stamp's. */
  const sourceAged = (seconds: number) => {
    const built = new Date('2026-01-01T00:00:00Z');
    utimesSync(stamp, built, built);
    const at = new Date(built.getTime() + seconds * 1000);
    utimesSync(source, at, at);
  };

  beforeEach(() => {
    pkg = mkdtempSync(join(tmpdir(), 'corral-bin-'));
    cpSync(join(root, 'bin'), join(pkg, 'bin'), { recursive: true });
    cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
    cpSync(join(root, 'dist'), join(pkg, 'dist'), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'));
    mkdirSync(join(pkg, 'src', 'cli'), { recursive: true });
    source = join(pkg, 'src', 'cli', 'main.ts');
    writeFileSync(source, `export async function main(argv: string[]): Promise<number> {\n  process.stdout.write(${JSON.stringify(FROM_SOURCES)} + ' ' + argv.join(' ') + '\\n');\n  return 0;\n}\n`);
    stamp = join(pkg, 'dist', '.build-stamp');
    return () => rmSync(pkg, { recursive: true, force: true });
  });

  it('default: dist/ built after the last change under src/ runs, and nothing is said on stderr', () => {
    sourceAged(-60);
    const result = corral('--version');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(version);
    expect(result.stderr).toBe('');
  });

  it('behavior: sources and build of the same mtime (a package as npm installs it) run dist/', () => {
    sourceAged(0);
    const result = corral('--version');
    expect(result.stdout.trim()).toBe(version);
    expect(result.stderr).toBe('');
  });

  it('behavior: a source newer than the build runs the sources through tsx, after a one-line notice naming the fix', () => {
    sourceAged(60);
    const result = corral('--version');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(`${FROM_SOURCES} --version`);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('npm run build');
  });

  it("behavior: npm install's prepare step leaves a fresh dist/ alone (a project depending on this directory installs it without rebuilding dist/ under running CLIs)", () => {
    sourceAged(-60);
    const before = statSync(stamp).mtimeMs;
    const prepare = spawnSync(process.execPath, [join(pkg, 'bin', 'buildIfStale.mjs')], { cwd: pkg, encoding: 'utf8' });
    expect(prepare.status, prepare.stderr).toBe(0);
    expect(prepare.stdout + prepare.stderr).not.toContain('tsc');
    expect(statSync(stamp).mtimeMs).toBe(before);
    expect(corral('--version').stdout.trim()).toBe(version);
  });

  it('behavior: no build stamp (dist/ never built, or its build failed) runs the sources, after the notice', () => {
    rmSync(stamp);
    const result = corral('inspect', 'somewhere');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(`${FROM_SOURCES} inspect somewhere`);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('behavior: commands run from dist/ find what they import when they run: inspect its store, call the prepare thread and the worker', () => {
    sourceAged(-60);
    const missing = corral('inspect', join(pkg, 'no-such-state'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('is not a corral state directory');
    const called = corral('call', join(root, 'fixtures', 'build', 'compute.wasm'), 'add', '2', '40');
    expect(called.stderr).toBe('');
    expect(called.status).toBe(0);
    expect(JSON.parse(called.stdout)).toMatchObject({ ok: true, value: 42 });
  }, 120_000);
});
