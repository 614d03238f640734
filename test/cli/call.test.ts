import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fixture } from '../helpers.ts';

const bin = fileURLToPath(new URL('../../bin/corral.mjs', import.meta.url));

function corral(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CORRAL_CACHE_DIR: process.env.CORRAL_TEST_CACHE_DIR },
  });
  const line = result.stdout.trim().split('\n').at(-1) ?? '';
  return { code: result.status, json: line ? JSON.parse(line) : null, stderr: result.stderr };
}

describe('corral call', () => {
  it('default: prints one JSON line and exits 0', () => {
    const { code, json } = corral('call', fixture('compute'), 'add', '2', '40');
    expect(code).toBe(0);
    expect(json).toMatchObject({ ok: true, value: 42, fuelUsed: expect.any(Number), durationMs: expect.any(Number) });
  });

  it('behavior: the line carries the instance\'s memory after the call (pages × 65,536), a refused grow\'s too', () => {
    // compute declares one page; grow(3) takes it to four.
    expect(corral('call', fixture('compute'), 'grow', '3').json).toMatchObject({ ok: true, value: 4, memoryBytes: 4 * 65_536 });
    const refused = corral('call', fixture('compute'), 'grow', '100', '--memory-mb', '1');
    expect(refused.json).toMatchObject({ ok: false, signal: 'MemoryLimitExceeded', memoryBytes: 65_536 });
  });

  it('args: JSON lists become typed arrays, bare words strings', () => {
    expect(corral('call', fixture('compute'), 'reverse', '[1,2,3]').json.value).toEqual([3, 2, 1]);
    expect(corral('call', fixture('compute'), 'echo', 'plain').json.value).toBe('plain');
  });

  it('args: --repeat adds percentiles and the fuel range', () => {
    const { json } = corral('call', fixture('compute'), 'work', '1000', '--repeat', '20');
    expect(json).toMatchObject({ ok: true, repeat: 20, p50Ms: expect.any(Number), p99Ms: expect.any(Number) });
    expect(json.fuelUsedMin).toBe(json.fuelUsedMax);
  });

  it('behavior: a componentize-js (WASI) component runs with no flags; its stdout and stderr are fields of the line', () => {
    const { code, json } = corral('call', fixture('wasi-guest'), 'greet', 'ann', '--fuel', '5000000000', '--timeout-ms', '10000');
    expect(code).toBe(0);
    expect(json).toMatchObject({ ok: true, value: 'hi ann', stdout: 'hello, ann\n', stderr: 'greeted ann\n' });
  });

  it('args: --deterministic gives the same clocks, random and fuel on every run; --dir grants a directory read-only; --env sets the environment', () => {
    const runs = [0, 1].map(() => corral('call', fixture('wasi-guest'), 'entropy', '--fuel', '5000000000', '--timeout-ms', '10000', '--deterministic').json);
    expect(runs[1]).toMatchObject({ ok: true, value: runs[0].value, fuelUsed: runs[0].fuelUsed });
    expect(JSON.parse(runs[0].value).now).toBe(Date.UTC(2025, 0, 1));
    const fixturesDir = fileURLToPath(new URL('../../fixtures/wasi-guest', import.meta.url));
    const read = corral('call', fixture('wasi-guest'), 'read-file', 'wasi-guest.js', '--fuel', '5000000000', '--timeout-ms', '10000', '--dir', `${fixturesDir}::/src`);
    expect(read.json).toMatchObject({ ok: true, value: expect.stringContaining('export function greet') });
    expect(corral('call', fixture('wasi-guest'), 'add', '1', '2', '--env', 'novalue').stderr).toMatch(/--env takes NAME=VALUE/);
  });

  it('behavior: --record writes the calls, `corral replay` runs them again (exit 0); against another component it prints the first difference (exit 1); a file that is no recording exits 2', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'corral-rec-')), 'add.jsonl');
    expect(corral('call', fixture('compute'), 'add', '2', '40', '--repeat', '3', '--record', file).json).toMatchObject({ ok: true, value: 42 });
    const same = corral('replay', file);
    expect(same).toMatchObject({ code: 0, json: { ok: true, identical: true, invocations: 3 } });
    // Another component at the same export: it asks WASI for the time, which the recording never answered.
    const other = corral('replay', file, '--component', fixture('wasi-guest'));
    expect(other.code).toBe(1);
    expect(other.json).toMatchObject({ ok: false, identical: false, firstDifference: { invocation: 0, component: 'compute', export: 'add', kind: 'wasi-call', actual: expect.stringContaining('no further WASI call') } });
    // A file that is not a recording cannot be replayed: exit 2, apart from a difference.
    expect(corral('replay', fixture('compute'))).toMatchObject({ code: 2, stderr: expect.stringMatching(/is not a corral recording/) });
  });

  it('behavior: a signal prints its fields and exits 2', () => {
    const { code, json } = corral('call', fixture('compute'), 'spin', '--fuel', '5000');
    expect(code).toBe(2);
    expect(json).toMatchObject({ ok: false, signal: 'OutOfFuel', fuelLimit: 5000, component: 'compute', exportName: 'spin' });
  });

  it('behavior: --timeout-ms ends a spinning guest with ExecutionTimeout', () => {
    const { code, json } = corral('call', fixture('compute'), 'spin', '--timeout-ms', '20', '--fuel', '9000000000000');
    expect(code).toBe(2);
    expect(json).toMatchObject({ ok: false, signal: 'ExecutionTimeout', timeoutMs: 20, terminated: false });
  });

  it('behavior: --memory-mb caps memory', () => {
    const { code, json } = corral('call', fixture('compute'), 'grow', '100', '--memory-mb', '2');
    expect(code).toBe(2);
    expect(json).toMatchObject({ signal: 'MemoryLimitExceeded', limitBytes: 2 * 1024 * 1024 });
  });

  it('error: a file that is not a component exits 1 with the reason on stderr', () => {
    const { code, json, stderr } = corral('call', fileURLToPath(new URL('../../package.json', import.meta.url)), 'add');
    expect(code).toBe(1);
    expect(json).toBeNull();
    expect(stderr).toContain('is not WebAssembly');
  });

  it('error: unknown export, wrong argument count, bad flag: exit 1', () => {
    expect(corral('call', fixture('compute'), 'nope').code).toBe(1);
    expect(corral('call', fixture('compute'), 'add', '1').code).toBe(1);
    expect(corral('call', fixture('compute'), 'add', '1', '2', '--fuel', '-1').code).toBe(1);
  });
});

describe('corral --version', () => {
  it('default: prints the package version and exits 0', async () => {
    const { version } = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))) as { version: string };
    const result = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });
});
