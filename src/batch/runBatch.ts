/**
 * `runBatch`: many inputs of one export under the component's limits, on all its worker threads, with
 * the results in input order. What `corral batch` runs; usable on its own as an async iterator.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { BatchError } from '../errors/BatchError.ts';
import { BATCH_DEFAULTS } from '../limits/defaults.ts';
import type { CallOptions, CallOutcome, Component } from '../runtime/Component.ts';

/** One input's result. Fields in this order, so that two runs of the same inputs serialise alike. */
export interface BatchLine {
  /** The input's position, from 0. */
  index: number;
  /** sha256 (hex) of the input's canonical JSON (`inputSha`): `--resume` checks the inputs did not change. */
  inputSha: string;
  ok: boolean;
  /** The export's result (ok). */
  value?: unknown;
  /**
   * The signal that ended the call (not ok), as its `toData()` without `component`, `exportName` and
   * `invocationId`: the first two are the batch's, the last is random and would make runs differ.
   */
  signal?: Record<string, unknown>;
  /** Fuel the call used; a signal's own figure (null when it has none, e.g. a trap or a terminated worker). */
  fuel: number | null;
  /** The call's wall time in the worker, ms (`corral batch --deterministic` leaves it out of the file: it is the one figure the machine decides). */
  wallMs: number;
  /** The instance's memory after the call, bytes (see `CallSuccess.memoryBytes`); null when no instance served it. */
  memoryBytes: number | null;
}

export interface BatchOptions {
  /** Calls running at once. Default: `BATCH_DEFAULTS.inFlightPerThread` × the machine's available parallelism (a Runtime's default threads). */
  inFlight?: number;
  /** Finished results held for an earlier input; at this many, no further input starts. Default `BATCH_DEFAULTS.reorderMax`. */
  reorderMax?: number;
  /** Per-call fuel and deadline; default: the component's limits. */
  fuel?: number;
  timeoutMs?: number;
  /**
   * Check that every line but its `wallMs` depends only on its input: the component must have been
   * loaded with a fresh instance per call (`pool.maxUses` 1) and, if it imports WASI, with
   * `wasi.deterministic`; a `BatchError` `invalid-option` says which is missing.
   */
  deterministic?: boolean;
  /** Inputs not to run (already recorded by the caller): they take their index but yield no line. */
  skip?: (index: number) => boolean;
  /** Called with each result that finished ahead of an earlier input, when it goes into the reorder buffer. */
  onAhead?: (line: BatchLine) => void;
}

const SKIPPED = Symbol('skipped');

/**
 * Runs `exportName` once per input (each an argument list), keeping `inFlight` calls running, and
 * yields one line per input in input order. A signal is a line (`ok: false`); a call the runtime
 * refuses (arguments that do not fit, a closed runtime) ends the batch with a `BatchError`
 * `input-refused` naming the input. Stopping the iteration stops intake; calls in flight finish.
 *
 * @example
 * for await (const line of runBatch(component, 'run', [[1], [2], [3]])) console.log(line.index, line.ok);
 */
export async function* runBatch(
  component: Component,
  exportName: string,
  inputs: AsyncIterable<unknown[]> | Iterable<unknown[]>,
  options: BatchOptions = {},
): AsyncGenerator<BatchLine, void, undefined> {
  component.resolveExport(exportName); // an unknown export fails before any input is read
  const inFlight = options.inFlight ?? BATCH_DEFAULTS.inFlightPerThread * availableParallelism();
  const reorderMax = options.reorderMax ?? BATCH_DEFAULTS.reorderMax;
  for (const [option, value] of [['inFlight', inFlight], ['reorderMax', reorderMax]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) throw new BatchError('invalid-option', `runBatch: ${option} must be a positive integer, got ${value}`, { option, value });
  }
  if (options.deterministic) assertDeterministic(component);
  const callOptions: CallOptions = {};
  if (options.fuel !== undefined) callOptions.fuel = options.fuel;
  if (options.timeoutMs !== undefined) callOptions.timeoutMs = options.timeoutMs;

  // A sync source is read without an await per input (a microtask each, a few % of a trivial call's throughput).
  const sync = !(Symbol.asyncIterator in inputs);
  const iterator = sync ? (inputs as Iterable<unknown[]>)[Symbol.iterator]() : (inputs as AsyncIterable<unknown[]>)[Symbol.asyncIterator]();
  let nextIndex = 0;
  let nextOut = 0;
  let running = 0;
  let exhausted = false;
  let failure: unknown;
  /** Finished (or skipped) inputs not yet yielded, by index: the reorder buffer. */
  const finished = new Map<number, BatchLine | typeof SKIPPED>();
  // A call that ends while the generator is suspended (at a yield, or reading an input) must not be
  // missed: `settled` remembers it until the loop looks, `wake` ends a wait.
  let settled = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    settled = true;
    wake?.();
  };

  const start = (index: number, args: unknown): void => {
    if (!Array.isArray(args)) throw new BatchError('bad-input', `input ${index} is not an argument list (a JSON array), got ${typeof args}`, { index });
    const inputSha = inputShaOf(args);
    running++;
    component.invoke(exportName, args, callOptions).then(
      (outcome) => {
        running--;
        const line = toLine(index, inputSha, outcome);
        finished.set(index, line);
        if (index !== nextOut) options.onAhead?.(line);
        notify();
      },
      (error: unknown) => {
        running--;
        failure ??= new BatchError('input-refused', `input ${index} was refused: ${(error as Error).message}`, { index }, error);
        notify();
      },
    );
  };

  try {
    for (;;) {
      settled = false;
      while (!exhausted && failure === undefined && running < inFlight && finished.size < reorderMax) {
        const next = sync ? (iterator as Iterator<unknown[]>).next() : await iterator.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        const index = nextIndex++;
        if (options.skip?.(index)) finished.set(index, SKIPPED);
        else start(index, next.value);
      }
      const drainedFrom = nextOut;
      for (let line = finished.get(nextOut); line !== undefined; line = finished.get(nextOut)) {
        finished.delete(nextOut++);
        if (line !== SKIPPED) yield line;
      }
      if (failure !== undefined) throw failure;
      if (exhausted && running === 0 && finished.size === 0) return;
      // Draining the buffer may have made room for intake that stopped on it: start again before waiting.
      if (!settled && nextOut === drainedFrom) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    }
  } finally {
    // Ended early (break, an error): an async source is told to stop.
    if (!exhausted) await iterator.return?.();
  }
}

/** A batch line for an outcome. */
function toLine(index: number, inputSha: string, outcome: CallOutcome): BatchLine {
  const memoryBytes = outcome.memoryBytes ?? null;
  const wallMs = Math.round(outcome.durationMs * 1000) / 1000;
  if (outcome.ok) return { index, inputSha, ok: true, value: outcome.value, fuel: outcome.fuelUsed, wallMs, memoryBytes };
  const signal = outcome.signal.toData() as unknown as Record<string, unknown>;
  delete signal.component;
  delete signal.exportName;
  delete signal.invocationId;
  return { index, inputSha, ok: false, signal, fuel: typeof signal.fuelUsed === 'number' ? signal.fuelUsed : null, wallMs, memoryBytes };
}

/**
 * sha256 (hex) of an argument list's canonical JSON: bigints as `{"bigint":"…"}`, typed arrays as
 * `{"<Type>":[…]}`, so that `1n` and `1`, or a list and a typed array of it, hash apart.
 */
export function inputShaOf(args: readonly unknown[]): string {
  // Scalars need no replacer, which costs a call per value (most inputs of a harness are numbers and strings).
  const json = args.every(isScalar) ? JSON.stringify(args) : JSON.stringify(args, (_key, value: unknown) => {
    if (typeof value === 'bigint') return { bigint: value.toString() };
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return { [value.constructor.name]: Array.from(value as unknown as ArrayLike<number | bigint>, (v) => v.toString()) };
    return value;
  });
  return createHash('sha256').update(json).digest('hex');
}

function isScalar(value: unknown): boolean {
  return value === null || (typeof value !== 'object' && typeof value !== 'bigint');
}

/** `deterministic` needs a fresh instance per call and, for a WASI guest, deterministic WASI: say which is missing. */
function assertDeterministic(component: Component): void {
  if (component.pool.options.maxUses !== 1) {
    throw new BatchError('invalid-option', `runBatch: deterministic needs ${component.name} loaded with a fresh instance per call (pool.maxUses 1), it has ${component.pool.options.maxUses}`, { option: 'deterministic' });
  }
  const wasi = component.wasi;
  if (wasi && Object.keys(wasi.interfaces).length > 0 && wasi.config.deterministic === null) {
    throw new BatchError('invalid-option', `runBatch: deterministic needs ${component.name} loaded with deterministic WASI (wasi.deterministic): it imports ${Object.keys(wasi.interfaces).join(', ')}`, { option: 'deterministic' });
  }
}
