import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'corral.mjs');
const env = { ...process.env, CORRAL_CACHE_DIR: process.env.CORRAL_TEST_CACHE_DIR };
type Line = Record<string, unknown>;

/**
 * A project as `corral new` writes it, its dependencies linked as `npm install` would (corral is a `file:`
 * dependency, which npm links; the others are the very packages corral's own node_modules holds): an
 * install takes 25–60 s, past this file's budget. The JavaScript scaffold where `--js` asks for it.
 */
function scaffold(): { dir: string; source: string } {
  const dir = join(mkdtempSync(join(tmpdir(), 'corral-dev-')), 'greeter');
  let made = spawnSync(process.execPath, [bin, 'new', dir, '--js'], { encoding: 'utf8', env });
  if (made.status !== 0 && !existsSync(dir)) made = spawnSync(process.execPath, [bin, 'new', dir], { encoding: 'utf8', env });
  expect(made.status, made.stderr).toBe(0);
  const { devDependencies } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  for (const name of Object.keys(devDependencies)) {
    const link = join(dir, 'node_modules', name);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(name === 'corral' ? root : join(root, 'node_modules', name), link);
  }
  // On a loaded machine a fresh instance's first event can pass the default 250 ms deadline, and a custom
  // event that ends in a signal is not retried: the state this test checks would not be there.
  appendFileSync(join(dir, 'engine.toml'), '\n[engine.limits]\ntimeout_ms = 10000\n');
  const source = ['src/module.js', 'src/module.ts'].map((f) => join(dir, f)).find((f) => existsSync(f));
  expect(source).toBeDefined();
  return { dir, source: source! };
}

/** `corral dev --json` in the project, its JSON lines readable as they come, stdin open for events. */
function corralDev(cwd: string) {
  const child = spawn(process.execPath, [bin, 'dev', '--json'], { cwd, env, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: Line[] = [];
  const waiters: { test: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
  let buffer = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = JSON.parse(buffer.slice(0, nl)) as Line;
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters]) if (w.test(line)) waiters.splice(waiters.indexOf(w), 1) && w.resolve(line);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    exited,
    running: () => child.exitCode === null && child.signalCode === null,
    waitFor: (test: (l: Line) => boolean) =>
      new Promise<Line>((resolve, reject) => {
        const seen = lines.find(test);
        if (seen) return resolve(seen);
        waiters.push({ test, resolve });
        void exited.then((code) => reject(new Error(`corral dev exited (${code}) first; last lines: ${JSON.stringify(lines.slice(-3))}`)));
      }),
    publish: (topic: string, payload: object) => child.stdin.write(`${topic} ${JSON.stringify(payload)}\n`),
    signal: (s: NodeJS.Signals) => child.kill(s),
  };
}

describe('corral dev', () => {
  it('behavior: an edit to the scaffold\'s module is live within one build, its state kept; a broken edit keeps the old version serving', async () => {
    const { dir, source } = scaffold();
    const dev = corralDev(dir);
    // A failed expectation still stops it (gracefully: its embedded anvil goes with it).
    onTestFinished(async () => {
      if (dev.running()) dev.signal('SIGTERM');
      await dev.exited;
    });
    await dev.waitFor((l) => l.msg === 'dev: engine running');
    dev.publish('greet', { name: 'ada' });
    expect((await dev.waitFor((l) => l.msg === 'hello, ada')).fields).toEqual({ count: 1 });

    const original = readFileSync(source, 'utf8');
    const edited = original.replaceAll('`${greeting}, ${name}`', '`${greeting} again, ${name}`');
    expect(edited).not.toBe(original);
    writeFileSync(source, edited);
    // The first reload is the edit's one build, and it swapped the module in.
    expect(await dev.waitFor((l) => l.msg === 'dev: reload')).toMatchObject({ reload: 1, module: 'greeter', result: 'swapped', version: 2, capabilities: { added: [], removed: [], ungranted: [] } });
    dev.publish('greet', { name: 'grace' });
    // The new code, on the state the old one wrote.
    expect((await dev.waitFor((l) => l.msg === 'hello again, grace')).fields).toEqual({ count: 2 });
    expect(await dev.waitFor((l) => l.msg === 'dev: first events' && l.reload === 1)).toMatchObject({ module: 'greeter', version: 2, result: 'kept' });

    writeFileSync(source, `${edited}\nexport function (\n`);
    expect(await dev.waitFor((l) => l.msg === 'dev: reload' && l.reload === 2)).toMatchObject({ result: 'build-failed' });
    dev.publish('greet', { name: 'alan' });
    expect((await dev.waitFor((l) => l.msg === 'hello again, alan')).fields).toEqual({ count: 3 });

    dev.signal('SIGTERM');
    expect(await dev.exited).toBe(0);
  }, 180_000);
});
