/**
 * What an interrupted `corral batch` left behind, read back for `--resume`. The output holds results
 * 0..written-1 in order; results that finished ahead of an earlier input were appended to the sidecar
 * `<out>.pending` as they finished. A kill can tear the last line of either file: it is cut off (its
 * input runs again). Every recorded result keeps its bytes; only inputs with no complete line anywhere run again.
 */
import { existsSync, readFileSync, truncateSync } from 'node:fs';
import { BatchError } from '../errors/BatchError.ts';
import type { BatchSummary } from './summary.ts';

export interface Recorded {
  /** Lines in the output: results 0..written-1. */
  written: number;
  /** The `inputSha` of each of them, by index. */
  writtenShas: string[];
  /** Results in the sidecar past `written`, by index: the line's text and its `inputSha`. */
  pending: Map<number, { text: string; inputSha: string }>;
}

/** The sidecar of an output file: results that finished ahead, appended as they finish. */
export function pendingFile(out: string): string {
  return `${out}.pending`;
}

/**
 * Reads the output and its sidecar (a missing file is empty), cutting a torn last line off each, and
 * adds every recorded result to `summary` as kept. A line that is not a batch result, or an output
 * out of order, is a `BatchError` `bad-output` naming the file and line.
 */
export function readRecorded(out: string, summary: BatchSummary): Recorded {
  const writtenShas: string[] = [];
  for (const [i, line] of completeLines(out).entries()) {
    const parsed = parseLine(line, out, i + 1);
    if (parsed.index !== i) throw new BatchError('bad-output', `${out} line ${i + 1} holds the result of input ${parsed.index}, not ${i}: not an output of corral batch`, { file: out, line: i + 1 });
    writtenShas.push(parsed.inputSha);
    summary.add(parsed, true);
  }
  const pending = new Map<number, { text: string; inputSha: string }>();
  const sidecar = pendingFile(out);
  for (const [i, line] of completeLines(sidecar).entries()) {
    const parsed = parseLine(line, sidecar, i + 1);
    // Already in the output (it was written in order before the kill), or recorded twice: one counts.
    if (parsed.index < writtenShas.length || pending.has(parsed.index)) continue;
    pending.set(parsed.index, { text: line, inputSha: parsed.inputSha });
    summary.add(parsed, true);
  }
  return { written: writtenShas.length, writtenShas, pending };
}

/** The file's complete lines; an unterminated last line (a write torn by the kill) is truncated off the file. */
function completeLines(file: string): string[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  const end = text.lastIndexOf('\n') + 1;
  if (end < text.length) truncateSync(file, Buffer.byteLength(text.slice(0, end)));
  return end === 0 ? [] : text.slice(0, end - 1).split('\n');
}

interface ParsedLine {
  index: number;
  inputSha: string;
  ok: boolean;
  signal?: Record<string, unknown>;
  fuel: number | null;
  wallMs?: number;
}

function parseLine(text: string, file: string, lineNo: number): ParsedLine {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new BatchError('bad-output', `${file} line ${lineNo} is not JSON: ${(error as Error).message}`, { file, line: lineNo });
  }
  const line = parsed as Partial<ParsedLine> | null;
  if (!line || typeof line !== 'object' || !Number.isSafeInteger(line.index) || (line.index as number) < 0 || typeof line.inputSha !== 'string' || typeof line.ok !== 'boolean' || !(line.fuel === null || typeof line.fuel === 'number')) {
    throw new BatchError('bad-output', `${file} line ${lineNo} is not a batch result (index, inputSha, ok, fuel)`, { file, line: lineNo });
  }
  return line as ParsedLine;
}
