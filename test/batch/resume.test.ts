/**
 * `--resume` continues only the run that wrote the output: the same component, export, inputs file and
 * limits. Run in-process (batchCommand's `batch`), so the refusal is checked by its class and fields.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFile } from '../../src/batch/runRecord.ts';
import { batch, type BatchFlags } from '../../src/cli/batchCommand.ts';
import { BatchError } from '../../src/errors/BatchError.ts';
import { fixture } from '../helpers.ts';

// The run's artifact cache, as the CLI's tests give `corral batch` (batch() makes its own Runtime).
if (process.env.CORRAL_TEST_CACHE_DIR) process.env.CORRAL_CACHE_DIR = process.env.CORRAL_TEST_CACHE_DIR;

const flags = (inputs: string, out: string, extra: Partial<BatchFlags> = {}): BatchFlags => ({ inputs, out, threads: 1, fuel: 20_000, timeoutMs: 40, memoryBytes: 16 * 1024 * 1024, ...extra });

/** An output of batch-mixed's `run` over 8 inputs, cut back to its first 4 results (an interrupted run). */
async function interrupted() {
  const dir = mkdtempSync(join(tmpdir(), 'corral-resume-'));
  const inputs = join(dir, 'inputs.jsonl');
  writeFileSync(inputs, Array.from({ length: 8 }, (_, i) => `[${4 * i}]\n`).join(''));
  const out = join(dir, 'out.jsonl');
  await batch(fixture('batch-mixed'), 'run', flags(inputs, out));
  writeFileSync(out, readFileSync(out, 'utf8').split('\n').slice(0, 4).map((l) => `${l}\n`).join(''));
  return { dir, inputs, out, before: readFileSync(out, 'utf8') };
}

const refusal = (promise: Promise<unknown>) => promise.then(() => undefined, (e: unknown) => e);

describe('corral batch --resume: the run that wrote the output', () => {
  it('default: the same component, export, inputs and limits continue the output', async () => {
    const { inputs, out } = await interrupted();
    await batch(fixture('batch-mixed'), 'run', { ...flags(inputs, out), resume: true });
    expect(readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l).index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('error: another component, export, inputs file or limits is refused naming the field, and the output is left as it was', async () => {
    const { dir, inputs, out, before } = await interrupted();
    const sameLines = join(dir, 'copy.jsonl');
    copyFileSync(inputs, sameLines);
    const cases: [string, () => Promise<unknown>][] = [
      ['component', () => batch(fixture('compute'), 'run', { ...flags(inputs, out), resume: true })],
      ['export', () => batch(fixture('batch-mixed'), 'other', { ...flags(inputs, out), resume: true })],
      ['inputs', () => batch(fixture('batch-mixed'), 'run', { ...flags(sameLines, out), resume: true })],
      ['fuel', () => batch(fixture('batch-mixed'), 'run', { ...flags(inputs, out, { fuel: 30_000 }), resume: true })],
      ['deterministic', () => batch(fixture('batch-mixed'), 'run', { ...flags(inputs, out, { deterministic: true }), resume: true })],
    ];
    for (const [field, run] of cases) {
      const error = await refusal(run());
      expect(error, field).toBeInstanceOf(BatchError);
      expect(error).toMatchObject({ code: 'resume-mismatch', details: { field, file: runFile(out) } });
      expect(readFileSync(out, 'utf8')).toBe(before);
    }
    expect(await refusal(batch(fixture('batch-mixed'), 'run', { ...flags(inputs, out), resume: true }))).toBeUndefined();
  });

  it('error: an output with results and no record of its run is refused', async () => {
    const { inputs, out, before } = await interrupted();
    rmSync(runFile(out));
    const error = await refusal(batch(fixture('batch-mixed'), 'run', { ...flags(inputs, out), resume: true }));
    expect(error).toBeInstanceOf(BatchError);
    expect(error).toMatchObject({ code: 'resume-mismatch', details: { field: 'run' } });
    expect(readFileSync(out, 'utf8')).toBe(before);
  });
});
