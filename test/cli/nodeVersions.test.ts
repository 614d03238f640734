import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'corral.mjs');

/**
 * A Node binary of this major from the registry's `node` package (through npx's cache): CI runs Node
 * 20, users run 22 and 24. Needs the registry, or npx's cache, like `npm install` itself.
 */
function nodeBinary(major: number): string {
  const found = spawnSync('npx', ['-y', '-p', `node@${major}`, '-c', 'command -v node'], { encoding: 'utf8' });
  expect(found.status, `npx -p node@${major}: ${found.stderr}`).toBe(0);
  return found.stdout.trim();
}

/** Runs `npm <args>` in `cwd` with `node` on PATH being `node` (npm's scripts call `node` from PATH). */
function npmWith(node: string, args: string[], cwd: string) {
  return spawnSync('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline'], { cwd, encoding: 'utf8', env: { ...process.env, PATH: `${dirname(node)}:${process.env.PATH}` } });
}

describe('Node versions users run', () => {
  let project = '';
  beforeAll(() => {
    project = join(mkdtempSync(join(tmpdir(), 'corral-node-')), 'greeter');
    const made = spawnSync(process.execPath, [bin, 'new', project], { encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);
    const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: project, encoding: 'utf8' });
    expect(install.status, install.stderr).toBe(0);
  }, 300_000);

  for (const major of [22, 24]) {
    it(`behavior: the scaffold's own npm test passes on Node ${major}, and corral's bin starts there`, () => {
      const node = nodeBinary(major);
      expect(spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout).toMatch(new RegExp(`^v${major}\\.`));
      const test = npmWith(node, ['test'], project);
      expect(test.status, test.stdout + test.stderr).toBe(0);
      // The reporter differs by version (TAP on 22, spec from 23); the counts read the same.
      expect(test.stdout).toMatch(/^(# |ℹ )pass 3$/m);
      expect(test.stdout).toMatch(/^(# |ℹ )fail 0$/m);
      // What `npm start` runs after the build, corral's bin, starts under this Node (from corral's dist/).
      const version = spawnSync(node, [join(project, 'node_modules', '.bin', 'corral'), '--version'], { cwd: project, encoding: 'utf8' });
      expect(version.status, version.stderr).toBe(0);
    }, 180_000);
  }
});
