/**
 * What a `corral batch --out` run was: the component, export, inputs file and limits its results came
 * from, kept beside the output as `<out>.run.json`. `--resume` reads it back and refuses to continue an
 * output under anything else: each result would be true of its own run, and the file a mix of two.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BatchError } from '../errors/BatchError.ts';
import { pendingFile } from './resume.ts';

export interface BatchRun {
  /** sha256 (hex) of the component file. */
  component: string;
  export: string;
  /** The inputs file's absolute path (its lines are checked one by one against each result's `inputSha`). */
  inputs: string;
  fuel: number;
  timeoutMs: number;
  memoryBytes: number;
  deterministic: boolean;
}

/** The record of an output file's run. */
export function runFile(out: string): string {
  return `${out}.run.json`;
}

/** This run as it would be recorded: the component's digest, the export, the inputs' path, the limits. */
export function describeRun(componentFile: string, exportName: string, inputs: string, limits: Pick<BatchRun, 'fuel' | 'timeoutMs' | 'memoryBytes' | 'deterministic'>): BatchRun {
  const component = createHash('sha256').update(readFileSync(componentFile)).digest('hex');
  return { component, export: exportName, inputs: resolve(inputs), fuel: limits.fuel, timeoutMs: limits.timeoutMs, memoryBytes: limits.memoryBytes, deterministic: limits.deterministic };
}

/**
 * Before `--resume` touches `out`: the recorded run must be `run`, field by field; the first that
 * differs is a `BatchError` `resume-mismatch` naming it, with both values. An output with results
 * but no record (a file corral did not write, or one whose record was removed) is refused too
 * (`field: 'run'`); an output with nothing in it has nothing to mix with.
 */
export function checkResumable(out: string, run: BatchRun): void {
  const record = runFile(out);
  if (!existsSync(record)) {
    const holdsResults = [out, pendingFile(out)].some((f) => existsSync(f) && statSync(f).size > 0);
    if (holdsResults) throw new BatchError('resume-mismatch', `${out} holds results but ${record} is missing: which component, export and inputs wrote them is not known`, { file: record, field: 'run' });
    return;
  }
  let recorded: Partial<BatchRun>;
  try {
    recorded = JSON.parse(readFileSync(record, 'utf8')) as Partial<BatchRun>;
  } catch (error) {
    throw new BatchError('bad-output', `${record} is not JSON: ${(error as Error).message}`, { file: record });
  }
  for (const field of Object.keys(run) as (keyof BatchRun)[]) {
    if (recorded[field] !== run[field]) {
      throw new BatchError('resume-mismatch', `${out} was written by a run with ${field} ${JSON.stringify(recorded[field])}, not ${JSON.stringify(run[field])}: --resume continues only the run that wrote it`, { file: record, field, recorded: recorded[field], given: run[field] });
    }
  }
}

/** Records `run` for `out` (before its first result is written). */
export function recordRun(out: string, run: BatchRun): void {
  writeFileSync(runFile(out), `${JSON.stringify(run, null, 2)}\n`);
}
