/**
 * How long the CLI takes to start, as a user's shell meets it: `corral --help` and `corral inspect <state_dir>`
 * as child processes, from the built dist/ (what bin/corral.mjs runs when dist/ is fresh), beside Node's own
 * start (`node -e 0`, the floor no CLI goes below) and the sources through tsx (what the bin ran before, and
 * still runs when dist/ is stale). Subjects take turns within each round so all see the same load.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LevelStore } from '../src/store/LevelStore.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;
const ROUNDS = 10;
const TARGET_MS = 300;
const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'corral.mjs');
const encoder = new TextEncoder();

/** A stopped engine's state directory with a few modules and keys, as `corral inspect` reads one. */
async function stateDir(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-bench-cli-'));
  const store = await LevelStore.open(dir);
  for (const name of ['twap', 'counter', 'watcher']) {
    const module = await store.module(name);
    const writes = Array.from({ length: 100 }, (_, i) => ({ key: encoder.encode(`order/${i}`), value: encoder.encode(`{"i":${i}}`) }));
    await module.commit({ writes, sizeDelta: 0, cursor: { source: 'custom', value: 100 } });
  }
  await store.close();
  return dir;
}

/** Wall time of one run of `node <args>`, in ms; a failed run is an error (it would time nothing useful). */
function time(args: string[]): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
  const ms = performance.now() - started;
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return ms;
}

export async function benchCliStart(row: Row): Promise<Record<string, unknown>> {
  // A stale dist/ would time the tsx fallback under the dist rows' names: build first, as `npm install` does.
  if (spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }).stderr !== '') {
    const build = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`npm run build failed: ${build.stderr}`);
  }
  const dir = await stateDir();
  const tsxHelp = `import { register } from 'tsx/esm/api'; register(); const { main } = await import(${JSON.stringify(join(root, 'src', 'cli', 'main.ts'))}); process.exitCode = await main(['--help']);`;
  const subjects = {
    node: ['-e', '0'],
    help: [bin, '--help'],
    inspect: [bin, 'inspect', dir],
    tsxHelp: ['--input-type=module', '-e', tsxHelp],
  };
  const samples: Record<keyof typeof subjects, number[]> = { node: [], help: [], inspect: [], tsxHelp: [] };
  const names = Object.keys(subjects) as (keyof typeof subjects)[];
  for (const name of names) time(subjects[name]); // the file system's cache warmed for every subject
  for (let round = 0; round < ROUNDS; round++) {
    // Rotated each round, so no subject always follows the same one.
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length]!;
      samples[name].push(time(subjects[name]));
    }
  }
  const stats = Object.fromEntries(names.map((n) => [n, summarize(samples[n])])) as Record<keyof typeof subjects, ReturnType<typeof summarize>>;
  const ms = (s: { p50: number; p99: number }) => `p50 ${s.p50.toFixed(0)} ms, p99 ${s.p99.toFixed(0)} ms`;
  const overNode = (s: { p50: number }) => `${(s.p50 / stats.node.p50).toFixed(1)}× node -e 0`;
  row('CLI start: node -e 0 (the floor)', ms(stats.node));
  row('CLI start: corral --help (dist)', `${ms(stats.help)} = ${overNode(stats.help)}`, `≤ ${TARGET_MS} ms`, stats.help.p50 <= TARGET_MS);
  row('CLI start: corral inspect <state_dir> (dist)', `${ms(stats.inspect)} = ${overNode(stats.inspect)}`, `≤ ${TARGET_MS} ms`, stats.inspect.p50 <= TARGET_MS);
  row('  corral --help through tsx (before; a stale dist/)', `${ms(stats.tsxHelp)} = ${(stats.tsxHelp.p50 / stats.help.p50).toFixed(1)}× dist`);
  return { rounds: ROUNDS, ...stats };
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  console.log(JSON.stringify(await benchCliStart((name, value, target) => console.log(`  ${name}: ${value}${target ? ` (target ${target})` : ''}`))));
}
