import { writeFile } from 'node:fs/promises';
import type { CallOutcome } from '../runtime/Component.ts';
import type { BoundHostFunction } from '../runtime/hostBridge.ts';
import { HostFault, HostLimitError } from '../runtime/hostErrors.ts';
import { encodeRecording, type RecordedComponent, type RecordedHostCall, type RecordedInvocation, type RecordedWasiCall, type Recording } from './Recording.ts';

/**
 * Collects a recording: give it to `Runtime.load` (`record`) or to the engine (`EngineOptions.record`),
 * and every invocation of those components is kept with its host calls; `write(path)` saves it.
 * Recording gives every call a fresh instance (`pool.maxUses` 1), as replay does, so a replay of the
 * same component reproduces its results and its fuel exactly.
 */
export class Recorder {
  private readonly components: Record<string, RecordedComponent> = {};
  private readonly invocations: RecordedInvocation[] = [];

  /** Called by `Runtime.load`. */
  component(name: string, component: RecordedComponent): void {
    this.components[name] = component;
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
    this.invocations.push({
      ...entry,
      outcome: outcome.ok ? { ok: true, value: outcome.value, fuelUsed: outcome.fuelUsed } : { ok: false, signal: outcome.signal.toData() },
    });
  }

  get size(): number {
    return this.invocations.length;
  }

  toJSON(): Recording {
    return { corral: 'recording', version: 1, components: { ...this.components }, invocations: [...this.invocations] };
  }

  async write(path: string): Promise<void> {
    await writeFile(path, encodeRecording(this.toJSON()));
  }
}

export type { RecordedWasiCall };
