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

  it('default: the TypeScript scaffold installs, bundles viem into its module, type-checks, passes its own test, and its engine.toml checks, from a temp dir as a user runs it', () => {
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
    // node:test's summary: the scaffold's three tests ran and passed, the third decoding logs with viem inside the module.
    expect(test.stdout).toMatch(/^# pass 3$/m);
    expect(test.stdout).toMatch(/^# fail 0$/m);
    expect(test.stdout).toMatch(/^ok 3 - decodes ERC-20 Transfer logs with viem's ABI functions inside the module/m);
    // One copy of viem in the bundle (the project's), and the world's interfaces left as imports for componentize-qjs.
    const bundle = readFileSync(join(dir, 'build', 'module.js'), 'utf8');
    expect(bundle.match(/^\/\/ .*viem\/_esm\/utils\/abi\/decodeAbiParameters\.js$/gm)).toHaveLength(1);
    expect(bundle).toMatch(/^import .* from "corral:module\/store@0\.1\.0";$/m);
    // `npx corral` inside the project is the installed corral; check validates the built component against its grants.
    const check = spawnSync('npx', ['corral', 'check', 'engine.toml'], { cwd: dir, encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
  }, 300_000); // an npm install, a build and a test run in a new project: 25 s on a quiet machine, past 60 s on a loaded one

  it('args: --js scaffolds one plain JavaScript file compiled as it is: no bundler, no TypeScript', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'corral-new-')), 'plain');
    const made = corral(['new', dir, '--js']);
    expect(made.status, made.stderr).toBe(0);
    expect(made.stdout).toContain('src/module.js');
    expect(made.stdout).toContain('test/module.test.js');
    expect(made.stdout).not.toContain('.ts');
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts: Record<string, string>; devDependencies: Record<string, string> };
    expect(Object.keys(pkg.devDependencies).sort()).toEqual(['componentize-qjs', 'corral']);
    expect(pkg.scripts.test).toBe('node build.mjs && node --test');
    expect(readFileSync(join(dir, 'build.mjs'), 'utf8')).toContain("at('src/module.js')");
  });

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
