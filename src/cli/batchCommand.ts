/** `corral batch`: every line of a JSONL file as the arguments of one export, results in input order (imported when the command runs). */
import { createReadStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { BatchOutput } from '../batch/BatchOutput.ts';
import { readRecorded, type Recorded } from '../batch/resume.ts';
import { checkResumable, describeRun, recordRun } from '../batch/runRecord.ts';
import { inputShaOf, runBatch, type BatchLine } from '../batch/runBatch.ts';
import { BatchSummary } from '../batch/summary.ts';
import { BatchError } from '../errors/BatchError.ts';
import { BATCH_DEFAULTS } from '../limits/defaults.ts';
import type { ResolvedExport } from '../runtime/Component.ts';
import { Runtime } from '../runtime/Runtime.ts';
import { ArgumentError, argsFromJson, jsonReplacer } from './jsonValues.ts';
import { terminalSafe } from './terminalSafe.ts';

export interface BatchFlags {
  inputs: string;
  out?: string;
  resume?: boolean;
  threads?: number;
  fuel: number;
  timeoutMs: number;
  memoryBytes: number;
  inFlight?: number;
  deterministic?: boolean;
}

export async function batch(file: string, exportName: string, flags: BatchFlags): Promise<void> {
  if (flags.resume && flags.out === undefined) throw new BatchError('invalid-option', '--resume needs --out: it continues the file an earlier run wrote', { option: 'resume' });
  const threads = flags.threads ?? availableParallelism();
  const runtime = new Runtime({ threads });
  const summary = new BatchSummary();
  let output: BatchOutput | undefined;
  const progress = process.stderr.isTTY ? new Progress(flags.inputs) : undefined;
  try {
    const component = await runtime.load(file, {
      limits: { fuel: flags.fuel, timeoutMs: flags.timeoutMs, memoryBytes: flags.memoryBytes },
      // A fresh instance per input and deterministic WASI: each line depends on its input alone.
      ...(flags.deterministic ? { wasi: { deterministic: { seed: 0 } }, pool: { maxUses: 1 } } : {}),
    });
    // Checked before the export is resolved or the output touched (reading it back cuts a torn last line off).
    const run = flags.out === undefined ? undefined : describeRun(file, exportName, flags.inputs, { fuel: flags.fuel, timeoutMs: flags.timeoutMs, memoryBytes: flags.memoryBytes, deterministic: flags.deterministic ?? false });
    if (flags.resume) checkResumable(flags.out!, run!);
    const target = component.resolveExport(exportName);
    const recorded: Recorded = flags.resume ? readRecorded(flags.out!, summary) : { written: 0, writtenShas: [], pending: new Map() };
    output = new BatchOutput(flags.out, recorded);
    if (run) recordRun(flags.out!, run);
    const out = output;
    // --deterministic: the wall time is the machine's, so it stays out of the file (the summary has it).
    const text = (line: BatchLine) => JSON.stringify(line, flags.deterministic ? (key, value: unknown) => (key === 'wallMs' ? undefined : jsonReplacer(key, value)) : jsonReplacer);
    const inputs = readInputs(flags.inputs, target, exportName, recorded);
    const ticker = setInterval(() => {
      out.flush();
      progress?.draw(summary.lines);
    }, BATCH_DEFAULTS.flushMs);
    // Ctrl-C: what is finished is written (and the sidecar kept) before the process ends, so `--resume` reruns only what was running.
    const interrupted = () => {
      out.close();
      progress?.clear();
      process.exit(130);
    };
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
    try {
      const lines = runBatch(component, exportName, inputs.args(), {
        inFlight: flags.inFlight ?? BATCH_DEFAULTS.inFlightPerThread * threads,
        deterministic: flags.deterministic ?? false,
        skip: (index) => index < recorded.written || recorded.pending.has(index),
        onAhead: (line) => out.aheadLine(text(line)),
      });
      for await (const line of lines) {
        out.line(line.index, text(line));
        summary.add(line);
        if (out.broken) break;
      }
    } finally {
      clearInterval(ticker);
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
    }
    if (out.broken) return;
    if (inputs.count() < recorded.written) {
      throw new BatchError('inputs-changed', `${flags.inputs} has ${inputs.count()} inputs, but ${flags.out} already holds ${recorded.written} results: the inputs changed since it was written`, { line: inputs.count() + 1 });
    }
    output.finish(inputs.count());
    output = undefined;
  } finally {
    output?.close();
    progress?.clear();
    await runtime.close();
  }
  process.stderr.write(`${JSON.stringify({ summary: summary.report() })}\n`);
}

/**
 * The inputs file as argument lists, converted as `corral call` converts its arguments. Blank lines
 * are skipped (line numbers in errors are the file's); an input whose result is recorded is checked
 * against the result's `inputSha` instead of being handed on.
 */
function readInputs(path: string, target: ResolvedExport, exportName: string, recorded: Recorded) {
  let index = 0;
  async function* args(): AsyncGenerator<unknown[]> {
    const reader = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
    let lineNo = 0;
    for await (const raw of reader) {
      lineNo++;
      if (raw.trim() === '') continue;
      const converted = parseInput(raw, path, lineNo, target, exportName);
      const sha = index < recorded.written ? recorded.writtenShas[index] : recorded.pending.get(index)?.inputSha;
      if (sha !== undefined && sha !== inputShaOf(converted)) {
        throw new BatchError('inputs-changed', `${path} line ${lineNo} (input ${index}) is not the input whose result is recorded: the inputs changed since the output was written`, { index, line: lineNo });
      }
      index++;
      yield converted;
    }
  }
  return { args, count: () => index };
}

function parseInput(raw: string, path: string, lineNo: number, target: ResolvedExport, exportName: string): unknown[] {
  const where = `${path} line ${lineNo}`;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new BatchError('bad-input', `${where} is not JSON: ${(error as Error).message}`, { line: lineNo });
  }
  if (!Array.isArray(value)) throw new BatchError('bad-input', `${where} must be a JSON array of ${exportName}'s arguments`, { line: lineNo });
  const params = target.signature?.params;
  if (params && value.length !== params.length) {
    throw new BatchError('bad-input', `${where}: ${exportName} takes ${params.length} argument(s) (${params.map((p) => `${p.name}: ${p.type}`).join(', ')}), got ${value.length}`, { line: lineNo });
  }
  try {
    return argsFromJson(value.map((v) => JSON.stringify(v)), target.signature, exportName);
  } catch (error) {
    if (error instanceof ArgumentError) throw new BatchError('bad-input', `${where}: ${error.message}`, { line: lineNo });
    throw error;
  }
}

/** A one-line progress bar on a terminal's stderr, redrawn at most every `BATCH_DEFAULTS.flushMs`. */
class Progress {
  private total: number | undefined;
  private readonly started = performance.now();

  constructor(inputs: string) {
    // The total is counted alongside the run: the bar shows a count until it is known.
    void countLines(inputs).then(
      (n) => (this.total = n),
      () => {},
    );
  }

  draw(done: number): void {
    const rate = done / Math.max((performance.now() - this.started) / 1000, 1e-3);
    const width = 30;
    const bar = this.total ? `[${'#'.repeat(Math.round((width * done) / this.total)).padEnd(width, '.')}] ${done}/${this.total}` : `${done}`;
    process.stderr.write(`\r${terminalSafe(bar)} inputs, ${rate.toFixed(0)}/s\x1b[K`);
  }

  clear(): void {
    process.stderr.write('\r\x1b[K');
  }
}

async function countLines(path: string): Promise<number> {
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity })) if (line.trim() !== '') n++;
  return n;
}
