#!/usr/bin/env node
// corral's command line. It runs the compiled dist/ (built by `npm install`'s prepare step, `npm run build`):
// compiling the TypeScript sources through tsx on every call cost 2–4 s per command, 13 s on a fresh clone.
// When dist/ is missing or older than src/ (a developer editing the sources), it runs the sources through
// tsx, after a one-line notice on stderr, rather than building: a build takes ~15 s, writes into the
// package (read-only where corral is installed globally), and the edited sources are what the developer
// means to run. `npm run build` makes it fast again.
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
// Written by `npm run build` (package.json) before tsc starts and moved here when it succeeds: its mtime is
// when the build began, so a source saved during a build counts as newer, and a failed build leaves none.
const stamp = fileURLToPath(new URL('dist/.build-stamp', root));

/**
 * The newest mtime of the files under src/. Files only: npm gives every file of a published package one
 * fixed mtime but creates the directories at install time. A deleted source leaves its output in dist/,
 * unused unless an importer changed, which is itself newer.
 */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function builtAt() {
  try {
    return statSync(stamp).mtimeMs;
  } catch {
    return undefined;
  }
}

/** newestSource of src/, or 0 where a package was installed without its sources. */
function newestSourceIfAny() {
  try {
    return newestSource(fileURLToPath(new URL('src', root)));
  } catch (error) {
    if (error.code === 'ENOENT') return 0;
    throw error;
  }
}

const built = builtAt();
// npm sets every file of a published package to one fixed mtime: there src/ and the stamp are equal, not newer.
const fresh = built !== undefined && newestSourceIfAny() <= built;
let main;
if (fresh) {
  ({ main } = await import('../dist/cli/main.js'));
} else {
  process.stderr.write(`corral: ${built === undefined ? 'dist/ is not built (no dist/.build-stamp)' : 'src/ is newer than dist/'}: running the sources through tsx (slow start; \`npm run build\` in ${fileURLToPath(root)} makes it fast)\n`);
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
