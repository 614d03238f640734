#!/usr/bin/env node
// corral's command line. It runs the compiled dist/ (built by `npm install`'s prepare step, `npm run build`):
// compiling the TypeScript sources through tsx on every call cost 2–4 s per command, 13 s on a fresh clone.
// When dist/ is missing or older than src/ (a developer editing the sources), it runs the sources through
// tsx, after a one-line notice on stderr, rather than building: a build takes ~15 s, writes into the
// package (read-only where corral is installed globally), and the edited sources are what the developer
// means to run. `npm run build` makes it fast again.
import { fileURLToPath } from 'node:url';
import { buildState } from './freshness.mjs';

const root = new URL('../', import.meta.url);
const { built, fresh } = buildState();
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
