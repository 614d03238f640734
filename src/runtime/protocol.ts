/**
 * Everything that crosses between the main thread and a worker thread, in one place.
 * Values are plain data (structured clone); signals travel as `SignalData` and are rebuilt.
 */
import type { SignalData } from '../signals/signalFromData.ts';
import type { GuestOutput, WasiConfig } from '../wasi/WasiConfig.ts';
import type { WasiCall, WasiJournal } from '../wasi/WasiHost.ts';

/** What a worker needs to build instances of one loaded component. Cached by `id` in each worker. */
export interface ComponentDescriptor {
  /** Unique per `load()`: two loads of the same bytes with different limits are different components. */
  id: string;
  name: string;
  /** Artifact directory: `glue.mjs`, instrumented core modules. */
  dir: string;
  coreFiles: string[];
  /** Imported interfaces and their functions that the embedder provides (checked at load); WASI is not among them. */
  imports: Record<string, string[]>;
  /** The WASI interfaces the component imports (served by the worker's WASI host), and its configuration. */
  wasi?: { interfaces: Record<string, string[]>; config: WasiConfig };
  memoryMaxPages: number;
  /**
   * Export called once on every fresh instance before it serves (corral modules: `configure(config)`).
   * It runs inside the invocation that needed the instance, under its limits and with its imports.
   */
  initializer?: { exportPath: string[]; args: unknown[] };
  maxUses: number;
  maxIdleMs: number;
  /** Idle instances are not reaped while the component has this many or fewer alive (see PoolOptions). */
  minInstances: number;
  /** Pool counters shared with the main thread; see `PoolCounters`. */
  counters: SharedArrayBuffer;
}

export interface CallTask {
  kind: 'call';
  componentId: string;
  /**
   * Sent only when the worker asked for it (`missing` includes `component`): a worker keeps the
   * descriptors it has seen, and cloning one on every call cost ~9 µs.
   */
  component?: ComponentDescriptor;
  /** The host-call channel of this invocation, by id (see the layout below). */
  channelId: number;
  /** Sent only when the worker asked for it, like `component`: channels are reused call after call. */
  channel?: SharedArrayBuffer;
  /** `['add']` for a top-level function, `['iface', 'fn']` for a function of an exported interface. */
  exportPath: string[];
  exportName: string;
  args: unknown[];
  /**
   * A prewarm (PoolOptions.minInstances): build a fresh instance (start functions, the initializer)
   * under this task's fuel and deadline, and leave it idle; no export is called.
   */
  prewarm?: true;
  /**
   * When set, `args` is a list of argument lists: the export is called once per element, in order, on
   * one instance, each call under its own fuel budget and deadline, stopping at the first signal (or,
   * with `'err'`, also at the first `err` result). The reply's value is the list of results so far.
   */
  each?: 'signal' | 'err';
  fuel: number;
  timeoutMs: number;
  invocationId: string;
  /** Record the WASI answers that depend on the world, or replay recorded ones (see WasiHost.journaled). */
  wasiJournal?: WasiJournal;
}

export type WorkerTask = CallTask;

export type CallReply =
  | { ok: true; value: unknown; fuelUsed: number; durationMs: number; startedAt: number; output?: GuestOutput; wasiCalls?: WasiCall[]; wasiReplayed?: number }
  | { ok: false; signal: SignalData; durationMs: number; startedAt: number; /** With `each`: the call that failed. */ index?: number; output?: GuestOutput; wasiCalls?: WasiCall[]; wasiReplayed?: number }
  | { ok: false; missing: ('component' | 'channel')[] };

export type WorkerReply = CallReply;

/**
 * Host-call channel: one SharedArrayBuffer per in-flight invocation. The worker writes a request
 * (v8-serialised), flips STATE to REQUEST and blocks in `Atomics.wait`; the main thread, woken by
 * `Atomics.waitAsync`, runs the host function, writes the response and flips STATE to RESPONSE.
 * A worker that gives up (its deadline passed) moves REQUEST → ABANDONED with compare-exchange, so
 * exactly one side decides the outcome of each request.
 */
export const Channel = {
  // Int32 slots 0–3 and 6; slots 4–5 hold the Float64 start time (bytes 16–23).
  STATE: 0,
  LENGTH: 1,
  /** Request: index of the host function in the component's import table. Response: a `Reply` code. */
  CODE: 6,
  THREAD_ID: 2,
  /** 1 once the guest started; the start time (worker's `performance.timeOrigin + now()`) is at STARTED_AT_F64. */
  STARTED: 3,
  STARTED_AT_F64: 2, // index into a Float64Array over the same buffer (bytes 16–23)
  HEADER_BYTES: 32,
} as const;

export const ChannelState = {
  IDLE: 0,
  REQUEST: 1,
  RESPONSE: 2,
  ABANDONED: 3,
  CLOSED: 4,
  /** Set by the main thread before it terminates the worker: wakes a worker blocked in Atomics.wait. */
  CANCELLED: 5,
} as const;

/**
 * A component's imports as one flat table, in the order of `ComponentDescriptor.imports`: a host call
 * names its function by index, and only its arguments (or the result) are serialised.
 */
export function importTable(imports: Record<string, string[]>): { interfaceName: string; functionName: string }[] {
  return Object.entries(imports).flatMap(([interfaceName, functions]) => functions.map((functionName) => ({ interfaceName, functionName })));
}

/** How a host call ended, in the channel's CODE slot of the response. */
export const Reply = {
  /** The host function threw: the guest traps (`host-error`, or HostLimitExceeded for a cap). */
  ERROR: 0,
  OK: 1,
  /** The host function threw `HostFault`: the guest receives `err(payload)`. */
  FAULT: 2,
} as const;

/** What a failed host function becomes on the wire. A cap carries its numbers. */
export interface HostErrorPayload {
  name: string;
  message: string;
  stack?: string;
  limit?: string;
  max?: number;
  observed?: number;
  /** HostCallTooLarge: which half of the call did not fit, its size and the buffer's, and the function. */
  direction?: 'arguments' | 'result';
  bytes?: number;
  capacity?: number;
  function?: string;
}

/**
 * Pool counters, a BigInt64Array over `ComponentDescriptor.counters`. Workers add to them; the main
 * thread reads them. Live instances are kept per worker slot so that the instances of a terminated
 * worker can be written off exactly.
 */
export const Counter = {
  CREATED: 0,
  RECYCLED_TRAP: 1,
  RECYCLED_LIMIT: 2,
  RECYCLED_MAX_USES: 3,
  RECYCLED_IDLE: 4,
  RECYCLED_CLOSE: 5,
  RECYCLED_TERMINATED: 6,
  /** Instances dropped because the component was recycled (a supervisor restart) after they were built. */
  RECYCLED_RESTART: 7,
  /** Bumped by `Component.recycle()`: instances of an older generation are never used again. */
  GENERATION: 8,
  /** Set by `Component.close()`: workers drop the component and its instances (and its compiled code). */
  UNLOADED: 9,
  /** Instances retired because their guest called `wasi:cli/exit` (its stack was unwound mid-call). */
  RECYCLED_EXIT: 10,
  /** Live instances of worker slot `s` are at LIVE_BASE + s. */
  LIVE_BASE: 16,
} as const;

/**
 * Live-instance counters are kept per worker slot, `threadId % MAX_WORKER_SLOTS`. Thread ids grow for
 * every worker the process creates (replacements, prepare threads), so two live workers share a slot
 * only after ~1,000 workers were created in between; then a terminated worker's write-off can take its
 * neighbour's count with it (the pool's `size` is then off; calls are not affected).
 */
export const MAX_WORKER_SLOTS = 1_024;
/** Worker threads a runtime may run. */
export const MAX_THREADS = 64;
export const COUNTER_SLOTS = Counter.LIVE_BASE + MAX_WORKER_SLOTS;

/**
 * The metering ABI between an instrumented core module (src/runtime/instrument.ts) and the worker.
 * `INSTRUMENTATION_VERSION` is bumped whenever the rewrite changes what it emits: it is part of the
 * artifact cache key, so a new corral never runs code instrumented by an old one.
 */
export const INSTRUMENTATION_VERSION = 6;
export const FUEL_GLOBAL = '__corral_fuel';
/** The import module of everything the meter hands an instrumented core module. */
export const METER_IMPORT_MODULE = 'corral';
export const REFUEL_IMPORT = { module: METER_IMPORT_MODULE, name: 'refuel' } as const;
/** Immutable i32: the memory cap in pages. Imported, so it is bound before a start function runs. */
export const MEMORY_MAX_PAGES_IMPORT = 'mem_max_pages';
/** Mutable i64: pages a refused `memory.grow` asked for (0 when none was refused). */
export const MEMORY_DENIED_PAGES_IMPORT = 'mem_denied_pages';
