import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fixture } from '../helpers.ts';

const bin = fileURLToPath(new URL('../../bin/corral.mjs', import.meta.url));
const env = { ...process.env, CORRAL_CACHE_DIR: process.env.CORRAL_TEST_CACHE_DIR };
/** What batch-mixed's `run(i)` ends in, by `i % 4`. */
const EXPECTED = ['value', 'OutOfFuel', 'ExecutionTimeout', 'Trap'];
// Fuel ends a spin within microseconds; the deadline only ever decides the sleeper.
const LIMITS = ['--fuel', '20000', '--timeout-ms', '40', '--threads', '2'];

function inputsFile(dir: string, n: number): string {
  const file = join(dir, 'inputs.jsonl');
  writeFileSync(file, Array.from({ length: n }, (_, i) => `[${i}]\n`).join(''));
  return file;
}

function corral(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The summary line `corral batch` prints on stderr at the end. */
function summaryOf(stderr: string) {
  const line = stderr.split('\n').find((l) => l.startsWith('{"summary"'));
  return JSON.parse(line!).summary;
}

const parse = (text: string) => text.trimEnd().split('\n').map((l) => JSON.parse(l));

describe('corral batch', () => {
  it('behavior: 1,000 inputs with mixed outcomes give 1,000 lines, in order, each its input\'s outcome; a summary on stderr', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-batch-'));
    const { code, stdout, stderr } = corral('batch', fixture('batch-mixed'), 'run', '--inputs', inputsFile(dir, 1_000), ...LIMITS);
    expect(code).toBe(0);
    const lines = parse(stdout);
    expect(lines.map((l) => l.index)).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
    for (const line of lines) {
      expect(line.ok ? 'value' : line.signal.signal).toBe(EXPECTED[line.index % 4]);
      expect(line).toMatchObject({ memoryBytes: 65_536, wallMs: expect.any(Number), inputSha: expect.stringMatching(/^[0-9a-f]{64}$/) });
    }
    expect(summaryOf(stderr)).toMatchObject({ inputs: 1_000, ran: 1_000, outcomes: { value: 250, OutOfFuel: 250, ExecutionTimeout: 250, Trap: 250 }, fuel: { max: 20_000 }, wallMs: { p50: expect.any(Number) } });
    // Not a terminal: no progress bar.
    expect(stderr).not.toContain('\r');
  });

  it('behavior: SIGKILLed after ≥ 300 lines and resumed: every index exactly once, no recorded result run again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-batch-'));
    const inputs = inputsFile(dir, 1_000);
    const out = join(dir, 'out.jsonl');
    const child = spawn(process.execPath, [bin, 'batch', fixture('batch-mixed'), 'run', '--inputs', inputs, '--out', out, ...LIMITS], { env, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // Wait on the directory's changes until the output holds 300 lines, then kill without warning.
    await new Promise<void>((resolve) => {
      const watcher = watch(dir, () => {
        if (existsSync(out) && readFileSync(out, 'utf8').split('\n').length > 300) {
          watcher.close();
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await exited;
    // What was recorded at the kill: complete lines of the output and of its sidecar.
    const complete = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(0, -1) : []);
    const written = complete(out);
    const recorded = new Map<number, string>();
    for (const text of [...written, ...complete(`${out}.pending`)]) recorded.set(JSON.parse(text).index, text);
    expect(written.length).toBeGreaterThanOrEqual(300);
    expect(written.length).toBeLessThan(1_000);
    // Results that finished ahead of a sleeper were in the sidecar: the resume had to take them from there.
    expect(recorded.size).toBeGreaterThan(written.length);

    const resumed = corral('batch', fixture('batch-mixed'), 'run', '--inputs', inputs, '--out', out, '--resume', ...LIMITS);
    expect(resumed.code).toBe(0);
    const final = readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(final.map((t) => JSON.parse(t).index)).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
    // A recorded result keeps its bytes (a re-run would have its own wallMs), and only the others ran.
    for (const [index, text] of recorded) expect(final[index]).toBe(text);
    expect(summaryOf(resumed.stderr)).toMatchObject({ inputs: 1_000, ran: 1_000 - recorded.size, kept: recorded.size });
    for (const line of final.map((t) => JSON.parse(t))) expect(line.ok ? 'value' : line.signal.signal).toBe(EXPECTED[line.index % 4]);
    expect(existsSync(`${out}.pending`)).toBe(false);
  });

  it('behavior: --deterministic twice gives byte-identical files, without wallMs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-batch-'));
    const inputs = inputsFile(dir, 200);
    const sha = (n: number) => {
      const out = join(dir, `out${n}.jsonl`);
      // A long deadline: with deterministic WASI the sleeper's sleeps take no time, and fuel ends it.
      const { code } = corral('batch', fixture('batch-mixed'), 'run', '--inputs', inputs, '--out', out, '--deterministic', '--fuel', '20000', '--timeout-ms', '10000', '--threads', '2');
      expect(code).toBe(0);
      expect(readFileSync(out, 'utf8')).not.toContain('wallMs');
      return createHash('sha256').update(readFileSync(out)).digest('hex');
    };
    expect(sha(1)).toBe(sha(2));
  });

  it('error: a bad inputs line is named by its line number; --resume over changed inputs or without --out is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-batch-'));
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '[0]\n\n[1, 2]\n');
    const arity = corral('batch', fixture('batch-mixed'), 'run', '--inputs', bad);
    expect(arity.code).toBe(1);
    expect(arity.stderr).toContain('line 3');
    writeFileSync(bad, '[0]\nnope\n');
    expect(corral('batch', fixture('batch-mixed'), 'run', '--inputs', bad).stderr).toMatch(/line 2 is not JSON/);
    expect(corral('batch', fixture('batch-mixed'), 'run', '--inputs', bad, '--resume').stderr).toContain('--resume needs --out');

    const inputs = inputsFile(dir, 8);
    const out = join(dir, 'out.jsonl');
    expect(corral('batch', fixture('batch-mixed'), 'run', '--inputs', inputs, '--out', out, ...LIMITS).code).toBe(0);
    writeFileSync(inputs, '[0]\n[100]\n');
    const changed = corral('batch', fixture('batch-mixed'), 'run', '--inputs', inputs, '--out', out, '--resume', ...LIMITS);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain('line 2 (input 1) is not the input whose result is recorded');
  });
});
