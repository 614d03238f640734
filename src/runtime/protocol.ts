/**
 * Everything that crosses between the main thread and a worker thread, in one place.
 * Values are plain data (see valueCodec.ts); signals travel as `SignalData` and are rebuilt.
 */
import type { MessagePort } from 'node:worker_threads';
import type { SignalData } from '../signals/signalFromData.ts';
import type { GuestOutput, WasiConfig } from '../wasi/WasiConfig.ts';
import type { WasiCall, WasiJournal } from '../wasi/WasiHost.ts';
import type { ValueReader, ValueWriter } from './valueCodec.ts';

/** What a worker needs to build instances of one loaded component. Cached by `id` in each worker. */
export interface ComponentDescriptor {
  /** Unique per `load()`: two loads of the same bytes with different limits are different components. */
  id: string;
  name: string;
  /** The artifact's key: components of the same prepared bytes share one compiled glue and core modules per worker. */
  artifact: string;
  /** The instrumented core modules' file names, as the glue asks for them. */
  coreFiles: string[];
  /** The artifact's glue and core modules (`coreFiles` order), read once at load: workers never read the cache. */
  files: { glue: SharedArrayBuffer; core: SharedArrayBuffer[] };
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
  componentId: string;
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

export type CallReply =
  | { ok: true; value: unknown; fuelUsed: number; durationMs: number; startedAt: number; /** The instance's memories after the call, bytes (see CallSuccess). */ memoryBytes: number; output?: GuestOutput; wasiCalls?: WasiCall[]; wasiReplayed?: number }
  | { ok: false; signal: SignalData; durationMs: number; startedAt: number; /** Absent when no instance was built. */ memoryBytes?: number; /** With `each`: the call that failed. */ index?: number; output?: GuestOutput; wasiCalls?: WasiCall[]; wasiReplayed?: number;
      /** The worker does not have the component (its loading failed there): send the descriptor again. */
      notLoaded?: true };

/**
 * A task in a call slot: its fields as values in a fixed order, not as a record. A record crosses
 * with its keys, written and read back (and interned) on every call; reading a warm call's task took
 * ~2 µs that way, about what the call's own work in the worker costs.
 */
export function writeTask(writer: ValueWriter, task: CallTask): void {
  writer.begin().add(task.componentId).add(task.exportPath).add(task.exportName).add(task.args).add(task.fuel).add(task.timeoutMs).add(task.invocationId);
  writer.add(task.each).add(task.prewarm).add(task.wasiJournal);
}

/** Reads what `writeTask` wrote. */
export function readTask(reader: ValueReader): CallTask {
  reader.rewind();
  const task: CallTask = {
    componentId: reader.next() as string,
    exportPath: reader.next() as string[],
    exportName: reader.next() as string,
    args: reader.next() as unknown[],
    fuel: reader.next() as number,
    timeoutMs: reader.next() as number,
    invocationId: reader.next() as string,
  };
  const each = reader.next() as CallTask['each'];
  if (each !== undefined) task.each = each;
  if (reader.next() === true) task.prewarm = true;
  const wasiJournal = reader.next() as WasiJournal | undefined;
  if (wasiJournal !== undefined) task.wasiJournal = wasiJournal;
  return task;
}

/** How `writeReply` laid a reply out: a success with nothing but its value and figures, or the reply record. */
const enum ReplyLayout {
  Record = 0,
  Plain = 1,
}

/** A reply in a call slot: a plain success (most replies) as values in a fixed order (see `writeTask`), any other as its record. */
export function writeReply(writer: ValueWriter, reply: CallReply): void {
  writer.begin();
  if (reply.ok && reply.output === undefined && reply.wasiCalls === undefined && reply.wasiReplayed === undefined) {
    writer.add(ReplyLayout.Plain).add(reply.value).add(reply.fuelUsed).add(reply.durationMs).add(reply.startedAt).add(reply.memoryBytes);
  } else writer.add(ReplyLayout.Record).add(reply);
}

/** Reads what `writeReply` wrote. */
export function readReply(reader: ValueReader): CallReply {
  reader.rewind();
  if (reader.next() === ReplyLayout.Record) return reader.next() as CallReply;
  return { ok: true, value: reader.next(), fuelUsed: reader.next() as number, durationMs: reader.next() as number, startedAt: reader.next() as number, memoryBytes: reader.next() as number };
}

/**
 * The call slot: one SharedArrayBuffer per worker thread, through which the main thread hands the
 * worker its calls one at a time and the worker asks the host its host calls, each side woken by
 * `Atomics.notify` (the main thread waits with `Atomics.waitAsync`, so it never blocks). No message
 * port, structured clone or pool bookkeeping on the way: a warm call costs little more than the two
 * wake-ups. Header (Int32 slots), then two regions of `hostCallBufferBytes`: the main thread writes
 * only into the first (the call, host answers), the worker only into the second (host-call
 * arguments, the reply), so a late host answer can never overwrite what the worker wrote.
 *
 * STATE moves IDLE → CALL (main) → RUNNING (worker) ⇄ HOST_REQUEST (worker) → HOST_RESPONSE (main)
 * → RUNNING … → DONE (worker) → IDLE or the next CALL (main). A worker that gives up on a host call
 * (its deadline passed) moves HOST_REQUEST back to RUNNING with compare-exchange, so exactly one side
 * decides each request. A request's STATE word also carries its sequence number (`hostRequest`): an
 * answer meant for an abandoned request finds a different word and is dropped, and the main thread,
 * waiting for the word to change, cannot miss a new request that looks like the one it is serving.
 */
export const Slot = {
  STATE: 0,
  /** Host request: index of the function in the component's import table (written by the worker only). */
  CODE: 1,
  /** Host answer: a `Reply` code (written by the main thread only). */
  ANSWER: 4,
  THREAD_ID: 2,
  /** 1 once the guest started; the start time (the worker's `performance.timeOrigin + now()`) is at STARTED_AT_F64. */
  STARTED: 3,
  /** CALL: `SlotFlag`s of the call. DONE: `SlotFlag.PORT` when the reply went through the port. */
  FLAGS: 5,
  /**
   * 1 while the worker sleeps waiting for its next call: only then does a new call need
   * `Atomics.notify`, a cost the main thread otherwise pays on every call (each side stores its word,
   * then reads the other's, so at least one of them sees the other).
   */
  WORKER_WAITS: 6,
  STARTED_AT_F64: 4, // index into a Float64Array over the same buffer (bytes 32–39)
  HEADER_BYTES: 64,
} as const;

export const SlotState = {
  IDLE: 0,
  CALL: 1,
  RUNNING: 2,
  HOST_REQUEST: 3,
  HOST_RESPONSE: 4,
  DONE: 5,
  /** Set by the main thread before it terminates the worker: wakes a worker blocked in Atomics.wait. */
  CANCELLED: 6,
  /** The runtime closed. */
  CLOSED: 7,
} as const;

/** The STATE word of the worker's host request number `seq` (see `Slot`); `word & 7` is HOST_REQUEST. */
export function hostRequest(seq: number): number {
  return SlotState.HOST_REQUEST | ((seq & 0x0fff_ffff) << 3);
}

export function isHostRequest(word: number): boolean {
  return (word & 7) === SlotState.HOST_REQUEST;
}

export const SlotFlag = {
  /**
   * Messages wait on the slot's port: component descriptors the worker has not seen (they hold
   * SharedArrayBuffers), and the call or its reply when it did not fit in its region.
   */
  PORT: 1,
} as const;

/** A message on a slot's port (structured clone), read with `receiveMessageOnPort` when FLAGS says so. */
export type SlotMessage = { kind: 'component'; descriptor: ComponentDescriptor } | { kind: 'task'; task: CallTask } | { kind: 'reply'; reply: CallReply };

/** What a worker announces on `parentPort` when it starts (piscina relays it as a pool 'message'). */
export interface SlotHello {
  corralSlot: { buffer: SharedArrayBuffer; port: MessagePort; threadId: number; /** The thread's nice value when it was asked to lower it (WorkerConfig.priority); null when it could not. */ nice?: number | null };
}

/** What piscina hands each worker (`workerData`). */
export interface WorkerConfig {
  /** Size of each of the slot's two regions: the most a call, a reply or a host call may take in place. */
  regionBytes: number;
  /** Idle instances the worker keeps across its components: its share of `DEFAULT_IDLE_INSTANCES`. */
  idleInstances: number;
  /** `lowest`: the worker lowers its own thread's priority at start (RuntimeOptions.priority). */
  priority?: 'lowest';
}

/**
 * A component's imports as one flat table, in the order of `ComponentDescriptor.imports`: a host call
 * names its function by index, and only its arguments (or the result) are serialised.
 */
export function importTable(imports: Record<string, string[]>): { interfaceName: string; functionName: string }[] {
  return Object.entries(imports).flatMap(([interfaceName, functions]) => functions.map((functionName) => ({ interfaceName, functionName })));
}

/** How a host call ended, in the slot's ANSWER word. */
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
export const COUNTER_SLOTS = Counter.LIVE_BASE + MAX_WORKER_SLOTS;

/**
 * The metering ABI between an instrumented core module (src/runtime/fuel/instrumentCoreModule.ts) and the worker.
 * `INSTRUMENTATION_VERSION` is bumped whenever the rewrite changes what it emits: it is part of the
 * artifact cache key, so a new corral never runs code instrumented by an old one.
 */
export const INSTRUMENTATION_VERSION = 12;
export const FUEL_GLOBAL = '__corral_fuel';
/** The import module of everything the meter hands an instrumented core module. */
export const METER_IMPORT_MODULE = 'corral';
export const REFUEL_IMPORT = { module: METER_IMPORT_MODULE, name: 'refuel' } as const;
/*
 * The grow gates' globals. One set per component instance, the same Global objects imported by every
 * one of its core instances: the budget is the component instance's, not each core module's (a
 * component may instantiate one module many times, or share a table between two).
 */
/** Immutable i32: the memory cap in pages. Imported, so it is bound before a start function runs. */
export const MEMORY_MAX_PAGES_IMPORT = 'mem_max_pages';
/** Mutable i64: pages of all the memories the component instance defines, declared and grown. */
export const MEMORY_USED_PAGES_IMPORT = 'mem_used_pages';
/** Mutable i64: pages a refused `memory.grow` would have brought them to (0 when none was refused). */
export const MEMORY_DENIED_PAGES_IMPORT = 'mem_denied_pages';
/** The most one table.grow is charged (TABLE_ENTRY_FUEL): 2^30 keeps `fuel - charge` inside an i32. */
export const TABLE_GROW_MAX_CHARGE = 1 << 30;
/** Immutable i32: the cap on the entries of all the component instance's tables together. */
export const TABLE_MAX_ELEMENTS_IMPORT = 'table_max_elements';
/** Mutable i64: entries of all the tables the component instance defines, declared and grown. */
export const TABLE_USED_ELEMENTS_IMPORT = 'table_used_elements';
/** Mutable i64: the entries a refused `table.grow` would have brought them to (0 when none was refused). */
export const TABLE_DENIED_ELEMENTS_IMPORT = 'table_denied_elements';
