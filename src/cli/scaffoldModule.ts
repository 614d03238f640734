import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cp, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArgumentError } from './jsonValues.ts';

/** corral's package root: two levels up from src/cli/ and from dist/cli/ alike. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TEMPLATES = join(PACKAGE_ROOT, 'src', 'cli', 'templates');
/** A WIT identifier (the world is named after the module) that is also a valid module name. */
const NAME = /^[a-z][a-z0-9]*(-[a-z][a-z0-9]*)*$/;

/** What `corral new` wrote. */
export interface ScaffoldResult {
  dir: string;
  name: string;
  files: string[];
}

/**
 * Writes a module project into `dir` (which must not exist or be empty): its WIT world with corral's WIT
 * package as a dependency, the source, a build script, an engine.toml and a test that runs the built
 * module in corral. TypeScript by default (src/module.ts on corral/guest and viem, bundled by esbuild
 * before componentize-qjs, a typed test); `js`: one plain JavaScript file compiled as it is. The project
 * depends on this corral installation (`file:` its directory), so it builds and tests offline.
 */
export async function scaffoldModule(target: string, options: { name?: string; js?: boolean } = {}): Promise<ScaffoldResult> {
  const dir = resolve(target);
  const name = options.name ?? basename(dir);
  if (!NAME.test(name)) {
    throw new ArgumentError(`"${name}" cannot name a module: lower-case words of letters and digits joined by "-", starting with a letter (e.g. twap-monitor); pass --name`);
  }
  if (existsSync(dir) && (await readdir(dir)).length > 0) throw new ArgumentError(`${dir} is not empty: corral new writes into a new or empty directory`);
  await mkdir(dir, { recursive: true });
  await cp(join(TEMPLATES, 'module'), dir, { recursive: true });
  await cp(join(TEMPLATES, options.js ? 'module-js' : 'module-ts'), dir, { recursive: true });
  // npm drops files named .gitignore from packages: the template keeps it without the dot.
  await rename(join(dir, 'gitignore'), join(dir, '.gitignore'));
  await mkdir(join(dir, 'wit', 'deps', 'corral-module'), { recursive: true });
  await cp(join(PACKAGE_ROOT, 'wit', 'module.wit'), join(dir, 'wit', 'deps', 'corral-module', 'module.wit'));
  const files = await listFiles(dir);
  for (const file of files) {
    const path = join(dir, file);
    const content = await readFile(path, 'utf8');
    if (content.includes('__NAME__')) await writeFile(path, content.replaceAll('__NAME__', name));
  }
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(options.js ? packageJson(name) : typeScriptPackageJson(name), null, 2)}\n`);
  return { dir, name, files: [...files, 'package.json'].sort() };
}

function packageJson(name: string): Record<string, unknown> {
  const corral = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  return {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: {
      build: 'node build.mjs',
      // No path: from Node 22 `node --test` takes globs, and a directory is 'Cannot find module'; bare, it runs
      // test/**/*.js and *.test.js on Node 20, 22 and 24 alike.
      test: 'node build.mjs && node --test',
      start: 'node build.mjs && corral run',
    },
    devDependencies: {
      // The corral that scaffolded this project; the same componentize-qjs corral builds its fixtures with.
      corral: `file:${PACKAGE_ROOT.replace(/\/$/, '')}`,
      'componentize-qjs': corral.devDependencies['componentize-qjs'],
    },
  };
}

function typeScriptPackageJson(name: string): Record<string, unknown> {
  const corral = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  const base = packageJson(name) as { devDependencies: Record<string, string> };
  // esbuild comes to corral through tsx: the version installed with it, which an offline install finds too.
  const esbuild = (JSON.parse(readFileSync(createRequire(join(PACKAGE_ROOT, 'package.json')).resolve('esbuild/package.json'), 'utf8')) as { version: string }).version;
  return {
    ...base,
    scripts: {
      build: 'node build.mjs',
      // A test file by name: Node 20's `node --test` finds no .ts files by itself.
      test: 'node build.mjs && tsc --noEmit && node --import tsx --test test/module.test.ts',
      start: 'node build.mjs && corral run',
    },
    devDependencies: {
      ...base.devDependencies,
      '@types/node': corral.devDependencies['@types/node'],
      esbuild: `^${esbuild}`,
      tsx: corral.dependencies.tsx,
      typescript: corral.devDependencies.typescript,
      viem: corral.dependencies.viem,
    },
  };
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const path = join(prefix, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(dir, path)));
    else out.push(path);
  }
  return out;
}
