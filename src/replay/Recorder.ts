import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { CallJournal } from '../runtime/CallJournal.ts';
import type { CallOutcome } from '../runtime/Component.ts';
import type { SignalData } from '../signals/signalFromData.ts';
import type { BoundHostFunction } from '../runtime/HostImports.ts';
import { HostFault } from '../errors/HostFault.ts';
import { HostLimitError } from '../errors/HostLimitError.ts';
import { ReplayError } from './ReplayError.ts';
import { encodeLine, encodeRecording, RECORDING_HEADER, type RecordedComponent, type RecordedHostCall, type RecordedInvocation, type Recording } from './Recording.ts';

/**
 * Collects a recording: give it to `Runtime.load` (`record`) or to the engine (`EngineOptions.record`),
 * and every invocation of those components is kept with its host calls. In memory by default
 * (`toJSON()`, `write(path)`); with `{ file }` each invocation is written to that file as it ends, for
 * long runs (`close()` when done). The file is created with mode 0600: a recording holds what the
 * guest saw (configuration, environment, host answers). Recording gives every call a fresh
 * instance (`pool.maxUses` 1), as replay does, so a replay of the same component reproduces its results
 * and its fuel exactly. The runtime sees it as its CallJournal.
 */
export class Recorder implements CallJournal {
  private readonly components: Record<string, RecordedComponent> = {};
  private readonly invocations: RecordedInvocation[] = [];
  private readonly stream: WriteStream | null;
  private readonly streamed = new Set<string>();
  private count = 0;

  /** The first write error of a `{ file }` recorder: later invocations are not written, `close()` rejects with it. */
  private failure: Error | null = null;

  constructor(options: { file?: string } = {}) {
    let stream: WriteStream | null = null;
    if (options.file) {
      // Opened here, so a bad path is an error of `new Recorder`, not a crash later.
      let fd: number;
      try {
        fd = openSync(options.file, 'w', 0o600);
      } catch (cause) {
        throw new ReplayError('recording-unwritable', `cannot write the recording ${options.file}: ${(cause as Error).message}`, { path: options.file }, cause);
      }
      stream = createWriteStream('', { fd });
      stream.on('error', (error) => (this.failure ??= new ReplayError('recording-unwritable', `writing the recording ${options.file} failed: ${error.message}`, { path: options.file }, error)));
      stream.write(encodeLine(RECORDING_HEADER));
    }
    this.stream = stream;
  }

  /** Called by `Runtime.load`. */
  component(name: string, component: RecordedComponent): void {
    this.components[name] = component;
    this.streamed.delete(name); // loaded again (another version): written again before its next invocation
  }

  /** The host-call table of one invocation, with every call and its answer appended to `calls`. */
  recordingTable(table: readonly BoundHostFunction[], calls: RecordedHostCall[]): BoundHostFunction[] {
    return table.map(({ label, fn }) => ({
      label,
      fn: (...args: unknown[]) => {
        const call: RecordedHostCall = { fn: label, args };
        calls.push(call);
        const settle = (result: unknown) => ((call.result = result), result);
        const fail = (error: unknown): never => {
          if (error instanceof HostFault) call.fault = error.payload;
          else if (error instanceof HostLimitError) call.limit = { limit: error.limit, max: error.max, observed: error.observed };
          else call.error = { name: (error as Error)?.name ?? 'Error', message: (error as Error)?.message ?? String(error) };
          throw error;
        };
        try {
          const value = fn(...args);
          return value instanceof Promise ? value.then(settle, fail) : settle(value);
        } catch (error) {
          return fail(error);
        }
      },
    }));
  }

  /** Called by the runtime when an invocation of a recorded component ended. */
  invocation(entry: Omit<RecordedInvocation, 'outcome'>, outcome: CallOutcome): void {
    const output = outcome.output ? { output: outcome.output } : {};
    const invocation: RecordedInvocation = {
      ...entry,
      outcome: outcome.ok ? { ok: true, value: outcome.value, fuelUsed: outcome.fuelUsed, ...output } : { ok: false, signal: withoutStack(outcome.signal.toData()), ...output },
    };
    this.count++;
    if (!this.stream) {
      this.invocations.push(invocation);
      return;
    }
    if (this.failure) return;
    if (!this.streamed.has(entry.component)) {
      this.streamed.add(entry.component);
      this.stream.write(encodeLine({ component: { name: entry.component, ...this.components[entry.component] } }));
    }
    this.stream.write(encodeLine({ invocation }));
  }

  /** Invocations recorded so far. */
  get size(): number {
    return this.count;
  }

  /** Flushes and closes the file of a `{ file }` recorder. */
  close(): Promise<void> {
    const stream = this.stream;
    if (!stream || stream.closed) return this.failure ? Promise.reject(this.failure) : Promise.resolve();
    return new Promise((resolve, reject) => stream.end(() => (this.failure ? reject(this.failure) : resolve())));
  }

  /** The recording held in memory (a `{ file }` recorder holds none: read its file). */
  toJSON(): Recording {
    return { corral: 'recording', version: 1, components: { ...this.components }, invocations: [...this.invocations] };
  }

  async write(path: string): Promise<void> {
    await writeFile(path, encodeRecording(this.toJSON()));
  }
}


/** A host error's stack names host files and says nothing about the guest: it is not recorded. */
function withoutStack(signal: SignalData): SignalData {
  const hostError = (signal as { hostError?: { stack?: string } }).hostError;
  if (!hostError?.stack) return signal;
  const { stack: _stack, ...rest } = hostError;
  return { ...signal, hostError: rest } as SignalData;
}
