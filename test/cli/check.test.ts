import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fixture } from '../helpers.ts';
import { makeFifo } from '../config/specialFiles.ts';

const bin = fileURLToPath(new URL('../../bin/corral.mjs', import.meta.url));
const env = { ...process.env, CORRAL_CACHE_DIR: process.env.CORRAL_TEST_CACHE_DIR };
const check = (target: string) => spawnSync(process.execPath, [bin, 'check', target], { env, encoding: 'utf8' });

function configFile(toml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'corral-check-'));
  writeFileSync(join(dir, 'engine.toml'), toml);
  return join(dir, 'engine.toml');
}

describe('corral check', () => {
  it('default: a good engine.toml and a module component pass', () => {
    const file = configFile(`[[modules]]\nname = "w"\ncomponent = "${fixture('watcher')}"\ngrants = { store = true, logging = true }\n`);
    expect(check(file)).toMatchObject({ status: 0, stdout: `${file}: ok\n` });
    expect(check(fixture('watcher')).status).toBe(0);
    // A component alone is checked against every interface of corral's world: timers and the queue too.
    expect(check(fixture('timer-probe')).status).toBe(0);
    expect(check(fixture('job-probe'))).toMatchObject({ status: 0, stdout: `${fixture('job-probe')}: ok\n` });
  }, 180_000); // the first preparation of three components in the run's cache: 60 s was passed at load average 15–30

  it('error: lists every problem of a file at once, each with its path, and exits 1', () => {
    const file = configFile('[engine]\nthreads = 0\nstat_dir = "x"\n[chains.1]\nrpc_url = "nope"\n');
    const { status, stderr } = check(file);
    expect(status).toBe(1);
    expect(stderr).toContain('engine.threads: invalid-value');
    expect(stderr).toContain('engine.stat_dir: unknown-key');
    expect(stderr).toContain('chains.1.rpc_url: invalid-value');
    expect(stderr).toContain('corral check: 3 problems');
  });

  it('error: a module whose component imports what its manifest does not grant is named, with every other such module', () => {
    const file = configFile(
      `[[modules]]\nname = "a"\ncomponent = "${fixture('watcher')}"\ngrants = { store = true }\n` + `[[modules]]\nname = "b"\ncomponent = "${fixture('watcher')}"\ngrants = { logging = true }\n`,
    );
    const { status, stderr } = check(file);
    expect(status).toBe(1);
    expect(stderr).toContain('modules[0] (a): module a imports `corral:module/logging`, but its manifest does not grant `logging`');
    expect(stderr).toContain('modules[1] (b): module b imports `corral:module/store`, but its manifest does not grant `store`');
  });

  it('error: a component outside corral\'s world is refused', () => {
    const { status, stderr } = check(fixture('compute'));
    expect(status).toBe(1);
    expect(stderr).toContain('does not export `on-event`');
  });

  it('error: a FIFO or /dev/zero where a component, an engine.toml or a recording is expected: check, call, run and replay exit at once naming the path', () => {
    const fifoWasm = makeFifo('guest.wasm');
    const fifoToml = makeFifo('engine.toml');
    // SIGKILL after 60 s: before the fix these hung for good (run even ignores the first SIGTERM while it waits).
    const corral = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { env, encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
    const cases: [string[], number, string][] = [
      [['check', fifoWasm], 1, fifoWasm],
      [['check', fifoToml], 1, fifoToml],
      [['call', '/dev/zero', 'add', '1', '2'], 1, '/dev/zero'],
      [['run', fifoToml], 1, fifoToml],
      [['replay', fifoToml], 2, fifoToml],
    ];
    for (const [args, status, path] of cases) {
      const result = corral(...args);
      expect({ args, status: result.status }).toEqual({ args, status });
      expect(result.stderr).toContain(path);
    }
  }, 300_000);
});
