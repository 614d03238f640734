import type { WasiConfig } from '../wasi/WasiConfig.ts';
import type { WasiCall } from '../wasi/WasiHost.ts';
import type { CallOutcome } from './Component.ts';
import type { BoundHostFunction } from './HostImports.ts';

/**
 * Where the runtime reports the invocations of a component loaded with `LoadOptions.record`: the
 * component once at load, then each invocation with its host calls, their answers and its outcome.
 * The runtime knows nothing of how they are kept: `replay/Recorder.ts` implements this to write the
 * recordings `corral replay` runs again. An interface the runtime owns, so it never imports the
 * layer above it.
 */
export interface CallJournal {
  /** Called by `Runtime.load`: what the component is, enough to load it again for a replay. */
  component(name: string, component: JournaledComponent): void;
  /** The host-call table one invocation runs with: every call and its answer appended to `calls`. */
  recordingTable(table: readonly BoundHostFunction[], calls: JournaledHostCall[]): BoundHostFunction[];
  /** Called by the runtime when an invocation of the component ended. */
  invocation(entry: JournaledInvocation, outcome: CallOutcome): void;
}

export interface JournaledComponent {
  /** The component file as loaded, when it was loaded from a file. */
  path?: string;
  sha256: string;
  limits: { fuel: number; timeoutMs: number; memoryBytes: number };
  wasi?: WasiConfig;
  initializer?: { exportPath: string[]; args: unknown[] };
}

export interface JournaledInvocation {
  /** The component's name, as given to `component()`. */
  component: string;
  invocationId: string;
  /** The export as it was called (`on-event`, `add`, `iface.fn`), and its arguments: the event or call that caused it. */
  export: string;
  args: unknown[];
  /** Set for `invokeEach`: `args` lists argument lists. */
  each?: 'signal' | 'err';
  fuel: number;
  timeoutMs: number;
  hostCalls: JournaledHostCall[];
  /** `wasi:clocks/wall-clock#now`, `wasi:random/random#get-random-bytes`, … with what the guest asked and got. */
  wasiCalls: WasiCall[];
}

export interface JournaledHostCall {
  /** `interface#function`, as in signals. */
  fn: string;
  args: unknown[];
  /** What the host answered: a value, a fault (`err` of the import's result), a tripped cap, or an error. */
  result?: unknown;
  fault?: unknown;
  limit?: { limit: string; max: number; observed: number };
  error?: { name: string; message: string };
}
