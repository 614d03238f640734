import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'corral.mjs');
const corral = (args: string[], cwd = root) => spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8' });
const npm = (args: string[], cwd: string) => spawnSync('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline'], { cwd, encoding: 'utf8' });

describe('corral new', () => {
  // The scaffold imports 'corral' as a user's project does: from dist/, which prepare builds at install and
  // the global setup (test/globalSetup.ts) rebuilds when it is older than the sources.

  it('default: the scaffold installs, builds, passes its own test, and its engine.toml checks, from a temp dir as a user runs it', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'corral-new-')), 'greeter');
    const made = corral(['new', dir]);
    expect(made.status, made.stderr).toBe(0);
    expect(made.stdout).toContain('created module greeter');
    expect(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))).toMatchObject({ name: 'greeter', devDependencies: { corral: `file:${root.replace(/\/$/, '')}` } });
    expect(readFileSync(join(dir, 'wit', 'deps', 'corral-module', 'module.wit'), 'utf8')).toBe(readFileSync(join(root, 'wit', 'module.wit'), 'utf8'));

    const install = npm(['install'], dir);
    expect(install.status, install.stderr).toBe(0);
    const test = npm(['test'], dir);
    expect(test.status, test.stdout + test.stderr).toBe(0);
    // node:test's summary: both of the scaffold's tests ran and passed.
    expect(test.stdout).toMatch(/^# pass 2$/m);
    expect(test.stdout).toMatch(/^# fail 0$/m);
    // `npx corral` inside the project is the installed corral; check validates the built component against its grants.
    const check = spawnSync('npx', ['corral', 'check', 'engine.toml'], { cwd: dir, encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
  }, 300_000); // an npm install, a build and a test run in a new project: 25 s on a quiet machine, past 60 s on a loaded one

  it('error: a directory that is not empty is refused, and nothing in it is touched', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-new-'));
    writeFileSync(join(dir, 'mine.txt'), 'keep');
    const made = corral(['new', dir, '--name', 'ok']);
    expect(made.status).toBe(1);
    expect(made.stderr).toContain('is not empty');
    expect(readFileSync(join(dir, 'mine.txt'), 'utf8')).toBe('keep');
  });

  it('error: a directory name that cannot name a module asks for --name', () => {
    const parent = mkdtempSync(join(tmpdir(), 'corral-new-'));
    mkdirSync(join(parent, 'My_Module'));
    const made = corral(['new', join(parent, 'My_Module')]);
    expect(made.status).toBe(1);
    expect(made.stderr).toContain('"My_Module" cannot name a module');
    expect(made.stderr).toContain('--name');
  });
});
