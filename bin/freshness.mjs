// Whether dist/ is at least as new as src/: the bin runs dist/ when it is (corral.mjs), and `npm install`'s
// prepare step builds only when it is not (buildIfStale.mjs), so installing a project that depends on this
// directory does not rebuild dist/ under CLIs running from it.
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


/** When dist/ was built (undefined: never, or its build failed) and whether it is as new as src/. */
export function buildState() {
  const built = builtAt();
  // npm sets every file of a published package to one fixed mtime: there src/ and the stamp are equal, not newer.
  return { built, fresh: built !== undefined && newestSourceIfAny() <= built };
}
