/**
 * Runs in corral's worker threads, and is all that does (the entry of worker/; worker-entry.mjs only
 * registers tsx when corral runs from its sources): builds instances of components from their
 * prepared artifacts, keeps a small pool of them per component, runs one export call at a time under
 * fuel, deadline and memory limits, and turns whatever stopped the guest into a signal.
 */
import { setFlagsFromString } from 'node:v8';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { TABLE_ENTRY_BYTES, WASM_PAGE_BYTES } from '../../limits/defaults.ts';
import type { HostLimitName } from '../../limits/hostCaps.ts';
import { strongestSignal, type SignalData } from '../../signals/signalFromData.ts';
import { classifyTrap } from './classifyTrap.ts';
import { lowestPriority } from './lowestPriority.ts';
import { type TableFacts, tableFacts } from '../fuel/tableFacts.ts';
import { HostCallDeadline } from '../../errors/HostCallDeadline.ts';
import { HostCallFailed, WorkerSlot } from './WorkerSlot.ts';
import { ComponentBudget, Meter, MeterStop, meterImports } from './Meter.ts';
import { WasiHost, type WasiCall } from '../../wasi/WasiHost.ts';
import type { GuestOutput } from '../../wasi/WasiConfig.ts';
import { WasiExit, WasiHostError } from '../../wasi/WasiHostError.ts';
import {
  Counter,
  importTable,
  FUEL_GLOBAL,
  MAX_WORKER_SLOTS,
  METER_IMPORT_MODULE,
  type CallReply,
  type CallTask,
  type ComponentDescriptor,
  type WorkerConfig,
} from '../protocol.ts';

// QuickJS guests use extended-const, on by default only from Node 22 (V8 flags are process-wide).
if (Number(process.versions.node.split('.')[0]) < 22) setFlagsFromString('--experimental-wasm-extended-const');

type Instantiate = (
  getCoreModule: (file: string) => WebAssembly.Module,
  imports: Record<string, Record<string, unknown>>,
  instantiateCore: (module: WebAssembly.Module, imports?: WebAssembly.Imports) => WebAssembly.Instance,
) => Record<string, unknown> | Promise<Record<string, unknown>>;

/** What meters an instance: it exists before the instance does, since start functions run metered. */
interface Metering {
  meter: Meter;
  /** The memory and table budget all its core instances share. */
  budget: ComponentBudget;
}

interface GuestInstance extends Metering {
  exports: Record<string, unknown>;
  /** `Counter.GENERATION` when the instance was built. */
  generation: bigint;
  uses: number;
  /** Set when its guest called `wasi:cli/exit(ok)`: the call succeeded, the instance is retired. */
  exited?: boolean;
  idleSince: number;
}

/** An artifact's glue and compiled core modules: one per worker, whatever number of components load it. */
interface CompiledArtifact {
  instantiate: Instantiate;
  modules: Map<string, WebAssembly.Module>;
  /** What each core module declares of tables and memory, read from its bytes: counted against the budget before instantiation. */
  tables: WeakMap<WebAssembly.Module, TableFacts>;
  /** Components loaded here that use it: it is dropped with the last. */
  users: number;
}

interface LoadedComponent {
  descriptor: ComponentDescriptor;
  compiled: CompiledArtifact;
  instantiate: Instantiate;
  modules: Map<string, WebAssembly.Module>;
  tables: WeakMap<WebAssembly.Module, TableFacts>;
  idle: GuestInstance[];
  counters: BigInt64Array;
  /** Whether an invocation of this component runs (host calls are refused outside one), and its deadline. */
  bridge: { active: boolean; deadline: number };
  /** corral's WASI host, when the component imports WASI. */
  wasi: WasiHost | null;
}

const components = new Map<string, LoadedComponent>();
/**
 * Compiled artifacts by key, in flight or done. 10,000 modules of one component used to import its glue
 * (through the module loader's hooks, a data: URL each, never freed) and compile its core modules 10,000
 * times per worker: a module's first event cost ~15 ms of that. Now each worker does it once per artifact,
 * and a module's first event only instantiates.
 */
const artifacts = new Map<string, Promise<CompiledArtifact>>();
/**
 * Every idle instance of this worker with its component, idle longest first (a Map keeps insertion
 * order): past `idleCap` the first is recycled (see DEFAULT_IDLE_INSTANCES: the process's address space
 * holds ~12,800 wasm memories, whatever their size).
 */
const idleOrder = new Map<GuestInstance, LoadedComponent>();
const idleCap = (workerData as WorkerConfig).idleInstances;
/** When `dropUnloaded` last swept every component (`performance.now()`). */
let lastSweep = -Infinity;
let reaper: NodeJS.Timeout | null = null;
let reaperPeriod = Infinity;
const slotIndex = threadId % MAX_WORKER_SLOTS;

// The call slot: created here, handed to the main thread once, then every call comes through it.
const slot = new WorkerSlot((workerData as WorkerConfig).regionBytes);
{
  // Before the first call: a low-priority runtime's guests never run at the priority of the others'.
  const { message, transfer } = slot.hello((workerData as WorkerConfig).priority === 'lowest' ? lowestPriority() : undefined);
  parentPort!.postMessage(message, transfer);
}
void serve();

async function serve(): Promise<void> {
  for (let next = await slot.nextCall(); next; next = await slot.nextCall()) {
    if ('unreadable' in next) {
      const unknown = { componentId: '(unreadable call)', exportName: '', invocationId: '' } as CallTask;
      slot.reply(internalTrap(unknown, `worker could not read the call: ${next.unreadable.message}`));
      continue;
    }
    const { task, descriptors } = next;
    const reply = (await loadAll(descriptors, task)) ?? runSafely(task);
    try {
      slot.reply(reply);
    } catch (error) {
      slot.reply(internalTrap(task, `the result cannot be passed to the host: ${(error as Error).message}`));
    }
  }
}

/** Loads the components the call brought along; a failure is the call's reply. */
async function loadAll(descriptors: ComponentDescriptor[], task: CallTask): Promise<CallReply | null> {
  try {
    for (const descriptor of descriptors) await loadComponent(descriptor);
    return null;
  } catch (error) {
    return { ...internalTrap(task, `worker could not load the component: ${(error as Error).message}`), notLoaded: true };
  }
}

function runSafely(task: CallTask): CallReply {
  try {
    return runCall(task);
  } catch (error) {
    // The guest's failures are signals (runCall catches them): this is corral's own.
    return internalTrap(task, `worker failed: ${(error as Error).message}`);
  }
}

function internalTrap(task: CallTask, message: string): CallReply & { ok: false } {
  const name = components.get(task.componentId)?.descriptor.name ?? task.componentId;
  return { ok: false, signal: { signal: 'Trap', component: name, exportName: task.exportName, invocationId: task.invocationId, code: 'unknown', message }, durationMs: 0, startedAt: performance.timeOrigin + performance.now() };
}

function runCall(task: CallTask): CallReply {
  // A call admitted before its component was unloaded still runs ("calls in flight finish"); its
  // instance is retired after it, and the component dropped at the next call or sweep.
  dropUnloaded(task.componentId);
  const component = components.get(task.componentId);
  if (!component) return { ...internalTrap(task, `component ${task.componentId} is not loaded in this worker`), notLoaded: true };
  const started = performance.now();
  // Epoch milliseconds with the clock's full resolution: comparable across threads (each has its own origin).
  const startedAt = performance.timeOrigin + started;
  let deadline = started + task.timeoutMs;
  slot.markStarted();
  component.bridge.active = true;
  component.bridge.deadline = deadline;
  component.wasi?.begin(deadline, task.wasiJournal);

  const generation = Atomics.load(component.counters, Counter.GENERATION);
  if (component.idle.length > 0 && component.idle[0]!.generation !== generation) {
    // The component was recycled since these were built: none of them may serve again.
    retire(component, Counter.RECYCLED_RESTART, component.idle.length);
    forget(component.idle);
    component.idle.length = 0;
  }
  let instance = task.prewarm ? undefined : component.idle.pop();
  if (instance) idleOrder.delete(instance);
  let metering: Metering | undefined = instance;
  let signal: SignalData | null = null;
  let value: unknown;
  let fuelUsed = 0;
  let index = 0;
  let callStarted = started;
  try {
    if (!instance) {
      metering = { meter: new Meter(), budget: newBudget(component.descriptor) };
      metering.meter.reset(task.fuel, deadline);
      instance = createInstance(component, metering);
      if (!task.prewarm) {
        // Building the instance had a deadline of its own (start functions, the initializer); the
        // call gets its whole deadline after it, as a warm call does. A 12 MB StarlingMonkey instance
        // takes 15–30 ms to build, which used to come out of a 250 ms call.
        callStarted = performance.now();
        deadline = callStarted + task.timeoutMs;
        slot.markStarted();
        component.bridge.deadline = deadline;
        if (component.wasi) component.wasi.clocks.deadline = deadline;
      }
    }
    if (task.prewarm) {
      fuelUsed = metering!.meter.settle();
      throw PREWARMED;
    }
    const fn = callExport(instance.exports, task.exportPath);
    if (task.each) {
      const values: unknown[] = [];
      value = values;
      for (index = 0; index < task.args.length; index++) {
        // Each call has its own deadline, and the backstop measures from its start.
        if (index > 0) slot.markStarted();
        // Every mechanism that enforces the deadline gets this call's own: the meter, the host-call
        // bridge and WASI's clocks. A catch-up step of 1,000 events used to keep the bridge's deadline
        // of its first event, so every host call after the first 250 ms failed and the module never caught up.
        callStarted = performance.now();
        const callDeadline = callStarted + task.timeoutMs;
        component.bridge.deadline = callDeadline;
        if (component.wasi) component.wasi.clocks.deadline = callDeadline;
        const result = callOnce(instance, fn, task.args[index] as unknown[], task.fuel, callDeadline);
        fuelUsed += result.fuelUsed;
        values.push(result.value);
        // exit(ok) unwound the instance: the calls after it cannot run on it, so the invocation ends here.
        if (instance.exited && index < task.args.length - 1) throw new CallStopped(new WasiExit(0), result.fuelUsed);
        if (task.each === 'err' && isErr(result.value)) break;
      }
    } else {
      const result = callOnce(instance, fn, task.args, task.fuel, deadline);
      fuelUsed = result.fuelUsed;
      value = result.value;
    }
  } catch (error) {
    if (error === PREWARMED) {
      component.wasi?.end(); // what a start function wrote belongs to no call
      return keepPrewarmed(component, instance!, fuelUsed, performance.now() - started, startedAt);
    }
    const callFuel = error instanceof CallStopped ? error.fuelUsed : 0;
    const cause = error instanceof CallStopped ? error.cause : error;
    signal = toSignal(cause, task, component.descriptor, metering, callFuel, performance.now() - callStarted);
  } finally {
    component.bridge.active = false;
  }
  const durationMs = performance.now() - started;
  const output = component.wasi?.end();
  // Read before the instance is parked or retired; a Global's i64 reads as a bigint.
  const memoryBytes = metering ? Number(metering.budget.usedPages.value as bigint) * WASM_PAGE_BYTES : undefined;

  if (instance) {
    if (instance.exited) retire(component, Counter.RECYCLED_EXIT);
    else if (signal) retire(component, signal.signal === 'Trap' ? Counter.RECYCLED_TRAP : Counter.RECYCLED_LIMIT);
    else if (++instance.uses >= component.descriptor.maxUses) retire(component, Counter.RECYCLED_MAX_USES);
    else if (Atomics.load(component.counters, Counter.UNLOADED) !== 0n) retire(component, Counter.RECYCLED_CLOSE);
    else park(component, instance);
  }
  // Only a WASI component has anything to add to its reply (what it wrote, its journal).
  const extra = component.wasi ? wasiExtras(component.wasi, output) : undefined;
  if (signal) {
    const failure: CallReply = task.each ? { ok: false, signal, durationMs, startedAt, index, ...extra } : { ok: false, signal, durationMs, startedAt, ...extra };
    if (memoryBytes !== undefined) failure.memoryBytes = memoryBytes;
    return failure;
  }
  return { ok: true, value, fuelUsed, durationMs, startedAt, memoryBytes: memoryBytes!, ...extra };
}

function wasiExtras(wasi: WasiHost, output: GuestOutput | undefined): { output?: GuestOutput; wasiCalls?: WasiCall[]; wasiReplayed?: number } {
  const wasiCalls = wasi.recorded();
  const wasiReplayed = wasi.replayed();
  return { ...(output ? { output } : {}), ...(wasiCalls ? { wasiCalls } : {}), ...(wasiReplayed !== undefined ? { wasiReplayed } : {}) };
}

/** Thrown past the export call of a prewarm (it has none): the fresh instance goes to the idle list. */
const PREWARMED = Symbol('prewarmed');

function keepPrewarmed(component: LoadedComponent, instance: GuestInstance, fuelUsed: number, durationMs: number, startedAt: number): CallReply {
  park(component, instance);
  return { ok: true, value: undefined, fuelUsed, durationMs, startedAt, memoryBytes: Number(instance.budget.usedPages.value as bigint) * WASM_PAGE_BYTES };
}

/** Why one call of an invocation stopped, with the fuel it had used (a signal reports that call's fuel). */
class CallStopped extends Error {
  constructor(
    override readonly cause: unknown,
    readonly fuelUsed: number,
  ) {
    super('call stopped');
  }
}

/** One export call under a fresh fuel budget and `deadline`; a stop is thrown as CallStopped. */
function callOnce(instance: GuestInstance, fn: (...args: unknown[]) => unknown, args: unknown[], fuel: number, deadline: number): { value: unknown; fuelUsed: number } {
  instance.meter.reset(fuel, deadline);
  instance.budget.clearDenied();
  let value: unknown;
  let fuelUsed = 0;
  try {
    try {
      value = fn(...args);
    } catch (error) {
      if (error instanceof WasiExit && error.status === 0) {
        // exit(ok): the call succeeded without a value; the unwound instance serves no more calls.
        instance.exited = true;
      } else if (isResultError(error)) {
        // An export whose WIT result is `err(e)`: jco's glue throws it, but it is a value, not a trap.
        value = { tag: 'err', val: error.payload };
      } else throw error;
    } finally {
      fuelUsed = instance.meter.settle();
    }
    if (instance.meter.stop) throw instance.meter.stop; // the guest swallowed the meter's exception
    // One long instruction (a bulk copy, a grow) or host answer can carry a call past its deadline with
    // no refuel in between to notice: the deadline is a promise to the caller, so such a call is late, not ok.
    if (performance.now() > deadline) throw (instance.meter.stop = new MeterStop('deadline'));
    // Segments between checks only subtract: a call can finish slightly over its budget, and is then
    // reported as out of fuel all the same, so the budget means the same whatever the code's shape.
    if (fuelUsed > fuel) throw new MeterStop('fuel');
  } catch (error) {
    throw new CallStopped(error, fuelUsed);
  }
  return { value, fuelUsed };
}

function isErr(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { tag?: unknown }).tag === 'err';
}

function isResultError(error: unknown): error is { payload: unknown } {
  return error instanceof Error && error.constructor.name === 'ComponentError' && Object.hasOwn(error, 'payload');
}

function callExport(exports: Record<string, unknown>, path: string[]): (...args: unknown[]) => unknown {
  let target: unknown = exports;
  for (const part of path) target = (target as Record<string, unknown>)[part];
  return target as (...args: unknown[]) => unknown;
}

/**
 * The one signal of a failed invocation. Every condition that holds is a candidate (the fuel spent,
 * the deadline passed, a page refused, a host limit, the error itself); `strongestSignal` picks by
 * `SIGNAL_PRIORITY`, so the order of the checks here does not matter.
 */
function toSignal(
  error: unknown,
  task: CallTask,
  descriptor: ComponentDescriptor,
  metering: Metering | undefined,
  fuelUsed: number,
  elapsedMs: number,
): SignalData {
  const context = { component: descriptor.name, exportName: task.exportName, invocationId: task.invocationId };
  const stop = metering?.meter.stop ?? (error instanceof MeterStop ? error : null);
  const candidates: SignalData[] = [];
  if (stop?.reason === 'fuel' || (metering !== undefined && fuelUsed > task.fuel)) candidates.push({ signal: 'OutOfFuel', ...context, fuelLimit: task.fuel, fuelUsed });
  // The deadline's own evidence only (the meter's stop, a host call cut off): an error that unwinds
  // just after the deadline, through a GC pause say, is still what it was.
  if (stop?.reason === 'deadline' || error instanceof HostCallDeadline) {
    candidates.push({ signal: 'ExecutionTimeout', ...context, timeoutMs: task.timeoutMs, elapsedMs, fuelUsed, terminated: false });
  }
  const limitBytes = descriptor.memoryMaxPages * WASM_PAGE_BYTES;
  const denied = metering ? Number(metering.budget.deniedPages.value as bigint) : 0;
  if (denied > 0) candidates.push({ signal: 'MemoryLimitExceeded', ...context, resource: 'memory', limitBytes, requestedBytes: denied * WASM_PAGE_BYTES });
  const deniedEntries = metering ? Number(metering.budget.deniedEntries.value as bigint) : 0;
  if (deniedEntries > 0) {
    candidates.push({ signal: 'MemoryLimitExceeded', ...context, resource: 'table', limitBytes, requestedBytes: deniedEntries * TABLE_ENTRY_BYTES });
  }
  if (error instanceof WasiExit) {
    candidates.push({ signal: 'Trap', ...context, code: 'exit', message: error.message, status: error.status });
  } else if (error instanceof WasiHostError) {
    candidates.push({ signal: 'Trap', ...context, code: 'host-error', message: error.message, hostError: { name: error.name, message: error.message, function: error.fn } });
  } else if (error instanceof HostCallFailed) {
    const { hostError } = error;
    if (hostError.name === 'HostLimitExceeded') {
      const { limit, max, observed } = hostError as Required<typeof hostError>;
      candidates.push({ signal: 'HostLimitExceeded', ...context, limit: limit as HostLimitName, max, observed });
    } else candidates.push({ signal: 'Trap', ...context, code: 'host-error', message: error.message, hostError });
  } else if (!(error instanceof MeterStop) && !(error instanceof HostCallDeadline)) {
    candidates.push({ signal: 'Trap', ...context, ...classifyTrap(error) });
  }
  return candidates.length > 0 ? strongestSignal(candidates) : { signal: 'Trap', ...context, ...classifyTrap(error) };
}

async function loadComponent(descriptor: ComponentDescriptor): Promise<LoadedComponent> {
  const known = components.get(descriptor.id);
  if (known) return known;
  let compiling = artifacts.get(descriptor.artifact);
  if (!compiling) {
    compiling = compileArtifact(descriptor);
    artifacts.set(descriptor.artifact, compiling);
    compiling.catch(() => artifacts.delete(descriptor.artifact));
  }
  const compiled = await compiling;
  // Two calls may have brought the same descriptor while it compiled.
  const again = components.get(descriptor.id);
  if (again) return again;
  compiled.users++;
  const component: LoadedComponent = {
    descriptor,
    compiled,
    instantiate: compiled.instantiate,
    modules: compiled.modules,
    tables: compiled.tables,
    idle: [],
    counters: new BigInt64Array(descriptor.counters),
    bridge: { active: false, deadline: 0 },
    wasi: descriptor.wasi ? new WasiHost(descriptor.wasi.config, descriptor.memoryMaxPages * WASM_PAGE_BYTES) : null,
  };
  components.set(descriptor.id, component);
  startReaper(descriptor.maxIdleMs);
  return component;
}

/**
 * From the bytes the main thread read at load, not from the cache directory (which may be gone by
 * now): the glue imports nothing relative, so it runs as well from a data: URL. The glue keeps no state
 * at its module level (everything is inside `instantiate`), so components of one artifact share it.
 */
async function compileArtifact(descriptor: ComponentDescriptor): Promise<CompiledArtifact> {
  const glueSource = Buffer.from(new Uint8Array(descriptor.files.glue)).toString('base64');
  const glue = (await import(`data:text/javascript;base64,${glueSource}`)) as { instantiate: Instantiate };
  const modules = new Map<string, WebAssembly.Module>();
  const tables = new WeakMap<WebAssembly.Module, TableFacts>();
  for (const [i, file] of descriptor.coreFiles.entries()) {
    const bytes = new Uint8Array(descriptor.files.core[i]!);
    // V8 compiles from shared memory (it copies the bytes first); lib.dom's BufferSource says otherwise.
    const module = await WebAssembly.compile(bytes as unknown as Uint8Array<ArrayBuffer>);
    modules.set(file, module);
    tables.set(module, tableFacts(bytes));
  }
  return { instantiate: glue.instantiate, modules, tables, users: 0 };
}

/**
 * Builds an instance under `metering`, which the caller keeps: if a start function or the initializer
 * trips a limit, the signal is read from it. Start functions run metered and capped, against the
 * budget of the call that needs the instance, but that fuel is not reported: a cold call and a warm
 * call report the same `fuelUsed`.
 */
function createInstance(component: LoadedComponent, metering: Metering): GuestInstance {
  const { meter, budget } = metering;

  const instantiateCore = (module: WebAssembly.Module, imports: WebAssembly.Imports = {}): WebAssembly.Instance => {
    const k = meter.globals.length;
    meter.grants.push(0);
    // Every core module gets the gates' globals; only those that grow memory or a table import them.
    const metered = meterImports(meter, k, budget);
    // V8 allocates declared tables and memory when it instantiates (and aborts the process if its
    // heap fills then): a core instance that would take the component instance past its budget is
    // refused first, however many instances of small modules came before it.
    const declared = component.tables.get(module);
    if (declared && !budget.admit(declared.definedPages, declared.definedElements, declared.longestSegment)) throw new DeclaredOverBudget();
    const instance = new WebAssembly.Instance(module, { ...imports, [METER_IMPORT_MODULE]: metered });
    meter.globals.push((instance.exports as Record<string, unknown>)[FUEL_GLOBAL] as WebAssembly.Global);
    return instance;
  };

  const exports = component.instantiate((file) => component.modules.get(file)!, hostImports(component), instantiateCore);
  if (exports instanceof Promise) throw new Error('glue instantiated asynchronously; corral needs synchronous core instantiation');
  const { initializer } = component.descriptor;
  if (initializer) {
    let result: unknown;
    try {
      result = callExport(exports, initializer.exportPath)(...initializer.args);
    } catch (error) {
      if (!isResultError(error)) throw error;
      throw new Error(`${initializer.exportPath.join('.')} refused the configuration: ${String(error.payload)}`);
    }
    void result;
  }
  const generation = Atomics.load(component.counters, Counter.GENERATION);
  const instance: GuestInstance = { exports, meter, budget, generation, uses: 0, idleSince: performance.now() };
  if (meter.stop) throw meter.stop;
  Atomics.add(component.counters, Counter.CREATED, 1n);
  Atomics.add(component.counters, Counter.LIVE_BASE + slotIndex, 1n);
  return instance;
}

/** A core module's declared tables or memory do not fit the budget: reported through it as MemoryLimitExceeded. */
class DeclaredOverBudget extends Error {
  constructor() {
    super('declared tables or memory do not fit the component instance\'s budget');
  }
}

/** The budget of one component instance: `memoryBytes` of memory, and as many bytes' worth of table entries. */
function newBudget(descriptor: ComponentDescriptor): ComponentBudget {
  const maxPages = descriptor.memoryMaxPages;
  return new ComponentBudget(maxPages, Math.floor((maxPages * WASM_PAGE_BYTES) / TABLE_ENTRY_BYTES));
}

/** One synchronous stub per imported function, forwarding over the worker's call slot. */
function hostImports(component: LoadedComponent): Record<string, Record<string, unknown>> {
  const imports: Record<string, Record<string, unknown>> = {};
  importTable(component.descriptor.imports).forEach(({ interfaceName, functionName }, index) => {
    const label = `${interfaceName}#${functionName}`;
    (imports[interfaceName] ??= {})[functionName] = (...args: unknown[]) => {
      const { active, deadline } = component.bridge;
      if (!active) throw new Error(`${label} called outside an invocation`);
      return slot.hostCall(index, label, args, deadline);
    };
  });
  if (component.wasi) Object.assign(imports, component.wasi.imports(component.descriptor.wasi!.interfaces));
  return imports;
}

/** `instance` is idle now: the newest in `idleOrder`; past the cap the worker's longest idle goes. */
function park(component: LoadedComponent, instance: GuestInstance): void {
  instance.idleSince = performance.now();
  component.idle.push(instance);
  idleOrder.set(instance, component);
  if (idleOrder.size > idleCap) recycleLongestIdle();
}

/** Recycles the instance idle longest whose component keeps no `minInstances` (those are kept built). */
function recycleLongestIdle(): void {
  for (const [instance, component] of idleOrder) {
    if (component.descriptor.minInstances > 0) continue;
    idleOrder.delete(instance);
    component.idle.splice(component.idle.indexOf(instance), 1);
    retire(component, Counter.RECYCLED_IDLE);
    return;
  }
}

/** These instances are no longer idle here (recycled or dropped with their component). */
function forget(instances: readonly GuestInstance[]): void {
  for (const instance of instances) idleOrder.delete(instance);
}

function retire(component: LoadedComponent, reason: number, count = 1): void {
  if (count === 0) return;
  Atomics.add(component.counters, reason, BigInt(count));
  Atomics.sub(component.counters, Counter.LIVE_BASE + slotIndex, BigInt(count));
}

/**
 * Discards idle instances older than `maxIdleMs`. It does not build replacements: that would run guest
 * code (start functions, `configure`) outside any invocation, where no deadline or backstop watches
 * it. The next call builds a fresh instance under its own limits.
 */
function startReaper(maxIdleMs: number): void {
  const period = Math.max(10, Math.floor(maxIdleMs / 2));
  if (period >= reaperPeriod) return;
  if (reaper) clearInterval(reaper);
  reaperPeriod = period;
  reaper = setInterval(reapIdle, period).unref();
}

/** How often at most a call sweeps for unloaded components (the reaper sweeps too). */
const SWEEP_INTERVAL_MS = 100;

/**
 * Forgets the components the main thread unloaded (but `keep`), with their idle instances, and an
 * artifact's compiled modules with its last component. A sweep reads every component's counters: on
 * every call, that made N modules' first events cost N² (10,000 modules: 10⁸ reads), so a call sweeps
 * at most every `SWEEP_INTERVAL_MS`. What an unloaded component holds until then is its idle instances.
 */
function dropUnloaded(keep?: string): void {
  const now = performance.now();
  if (keep !== undefined && now - lastSweep < SWEEP_INTERVAL_MS) return;
  lastSweep = now;
  for (const [id, component] of components) {
    if (id === keep || Atomics.load(component.counters, Counter.UNLOADED) === 0n) continue;
    retire(component, Counter.RECYCLED_CLOSE, component.idle.length);
    forget(component.idle);
    component.idle = [];
    components.delete(id);
    if (--component.compiled.users === 0) artifacts.delete(component.descriptor.artifact);
  }
}

function reapIdle(): void {
  dropUnloaded();
  const now = performance.now();
  for (const component of components.values()) {
    if (component.idle.length === 0) continue; // most of 10,000 modules: no pass over their 1,024 slots
    // Oldest first, and never below the component's minInstances alive (across all workers).
    let alive = 0;
    for (let s = 0; s < MAX_WORKER_SLOTS; s++) alive += Number(Atomics.load(component.counters, Counter.LIVE_BASE + s));
    const keep: GuestInstance[] = [];
    let reaped = 0;
    for (const instance of [...component.idle].sort((a, b) => a.idleSince - b.idleSince)) {
      if (now - instance.idleSince >= component.descriptor.maxIdleMs && alive - reaped > component.descriptor.minInstances) {
        reaped++;
        idleOrder.delete(instance);
      } else keep.push(instance);
    }
    component.idle = keep;
    retire(component, Counter.RECYCLED_IDLE, reaped);
  }
}
