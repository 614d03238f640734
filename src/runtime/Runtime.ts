/*
 * runtime/ by thread. The main thread runs the files at this folder's root: this call path (load,
 * call, limits, the host calls the guests make, answered through CallSlot.ts). Worker threads run
 * worker/ (instances, metering, the WASI host). One prepare thread runs prepare/ and fuel/ (transpile,
 * instrument, cache) on a cache miss; prepare/'s byte checks also run here, in `load`. protocol.ts,
 * valueCodec.ts and typedArrays.ts are what both sides of a thread boundary share.
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { basename, resolve } from 'node:path';
import { Piscina } from 'piscina';
import { CorralRuntimeError } from '../errors/RuntimeError.ts';
import { LoadError } from '../errors/LoadError.ts';
import {
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_FUEL,
  DEFAULT_GRACE_MS,
  DEFAULT_HOST_CALL_BUFFER_BYTES,
  DEFAULT_IDLE_INSTANCES,
  MAX_HOST_CALL_BUFFER_BYTES,
  MIN_HOST_CALL_BUFFER_BYTES,
  DEFAULT_MEMORY_BYTES,
  DEFAULT_TIMEOUT_MS,
  MAX_THREADS,
  WASM_PAGE_BYTES,
} from '../limits/defaults.ts';
import { ExecutionTimeout } from '../signals/ExecutionTimeout.ts';
import { signalFromData } from '../signals/signalFromData.ts';
import { Trap } from '../signals/Trap.ts';
import { Component, type CallFailure, type CallOptions, type CallOutcome, type CallSuccess, type ComponentHost, type Limits, type ResolvedExport } from './Component.ts';
import type { CallSlot, SlotCall, SlotResult } from './CallSlot.ts';
import { InvocationAbort } from './InvocationAbort.ts';
import { CallDispatcher } from './CallDispatcher.ts';
import { InvocationEnded, type BoundHostFunction, type HostImports } from './HostImports.ts';
import { InstancePool, type PoolOptions } from './InstancePool.ts';
import { defaultCacheDir, readArtifactFiles, type ArtifactFiles, type ArtifactMeta, type PreparedArtifact } from './prepare/prepareArtifact.ts';
import { prepareInWorker } from './prepare/prepareInWorker.ts';
import { type CallTask, type ComponentDescriptor, type WorkerConfig } from './protocol.ts';
import { bytesFacts, SourceCache, type SourceFacts } from './prepare/SourceCache.ts';
import { checkWasiImports, embedderImports, wasiImports } from '../wasi/wasiPolicy.ts';
import { resolveWasiConfig, type WasiOptions } from '../wasi/resolveWasiConfig.ts';
import type { CallJournal, JournaledHostCall } from './CallJournal.ts';
import type { WasiCall } from '../wasi/WasiHost.ts';

export interface RuntimeOptions {
  /** Worker threads. Default: the machine's available parallelism. At most 64. */
  threads?: number;
  /** Where prepared artifacts are cached. Default: `$CORRAL_CACHE_DIR` or `~/.cache/corral`. */
  cacheDir?: string;
  /** Grace after a deadline before the worker is terminated (ms). Default `DEFAULT_GRACE_MS`. */
  graceMs?: number;
  /** Size of each host-call buffer, bytes. Default `DEFAULT_HOST_CALL_BUFFER_BYTES`. */
  hostCallBufferBytes?: number;
  /** How long `close()` waits for in-flight calls (ms). Default `DEFAULT_CLOSE_TIMEOUT_MS`. */
  closeTimeoutMs?: number;
  /** The instance pool of every component loaded, where its `load` does not say otherwise. Default `DEFAULT_POOL`. */
  pool?: Partial<PoolOptions>;
  /** Idle instances kept across all components, split between the workers; past a worker's share the longest idle is recycled. Default `DEFAULT_IDLE_INSTANCES`. */
  idleInstances?: number;
  /**
   * `lowest`: every worker lowers its own thread to the lowest scheduling priority (nice 19) at start,
   * so its guests run only when other threads leave a core free (a shadow run's candidate beside live
   * modules). Linux only: elsewhere the workers keep their priority, as `workerNice()` says. Default `normal`.
   */
  priority?: 'normal' | 'lowest';
}

export interface LoadOptions {
  /** Name used in signals and logs. Default: the file name, or `component`. */
  name?: string;
  /** Implementations of the component's imports; every import must be provided (WASI excepted: corral serves it, see `wasi`). */
  imports?: HostImports;
  /** Default limits of this component's calls. */
  limits?: Partial<Limits>;
  pool?: Partial<PoolOptions>;
  /** Export called with `args` on every fresh instance before it serves (e.g. `configure`). */
  initializer?: { export: string; args: unknown[] };
  /**
   * What a component that imports WASI 0.2 may see: environment, arguments, read-only directories,
   * deterministic clocks and random, the output cap. Ignored for components that import no WASI.
   * `deterministic` also gives every call a fresh instance (`pool.maxUses` 1), so a call's result and
   * fuel depend only on its arguments, never on what an instance ran before.
   */
  wasi?: WasiOptions;
  /**
   * Records every invocation of this component (arguments, host calls with their answers, WASI clock
   * and random answers, outcome) for `replay`. Also gives every call a fresh instance (`pool.maxUses` 1),
   * as replay does, so that a replay of the same component reproduces its fuel too.
   */
  record?: CallJournal;
  /**
   * The component's sha256 (64 lower-case hex digits): bytes with another digest are refused with a
   * `LoadError` `sha256-mismatch`. Checked on the bytes read, which are the bytes prepared.
   */
  sha256?: string;
}

interface InFlight {
  component: Component;
  /** Its way to a worker; `slot` is set once a worker took it. */
  call: SlotCall;
  timeoutMs: number;
  /** Set by `kill()`: the embedder (a supervisor's brutal-kill) terminated the call's worker. */
  killed: boolean;
  /** Set by the backstop when it terminated the worker. */
  terminated: { elapsedMs: number } | null;
  /** Aborts the host work of the call (see `invocationSignal()`): when it ends, however it ends. */
  abort: InvocationAbort;
}

/** One invocation of a journaled component: where it goes, and its host and WASI calls as they are made. */
interface InvocationJournal {
  to: CallJournal;
  hostCalls: JournaledHostCall[];
  wasiCalls: WasiCall[];
}

const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './worker/worker-entry.mjs' : './worker/worker.js', import.meta.url);

/**
 * Loads WebAssembly components and runs their exports on worker threads under fuel, deadline and
 * memory limits. Every call ends with a value or a typed signal; the host never hangs or crashes
 * because of a guest.
 *
 * @example
 * const runtime = new Runtime({ threads: 2 });
 * const component = await runtime.load('guest.wasm');
 * const outcome = await component.invoke('work', [1000], { fuel: 10_000 });
 * if (!outcome.ok) console.log(outcome.signal.name); // 'OutOfFuel'
 * await runtime.close();
 */
export class Runtime implements ComponentHost {
  readonly threads: number;
  private readonly pool: Piscina;
  private readonly dispatcher: CallDispatcher;
  /** Where prepared artifacts are cached (a runtime made beside this one shares it: a component is prepared once). */
  readonly cacheDir: string;
  private readonly graceMs: number;
  private readonly closeTimeoutMs: number;
  private readonly defaultPool: Partial<PoolOptions>;
  private readonly components = new Set<Component>();
  /** Component files read, by path and identity: one read and hash per file, not per load. */
  private readonly sources: SourceCache;
  /** Artifact files in memory by artifact key, shared by the loaded components of the same bytes. */
  private readonly sharedFiles = new Map<string, { files: Promise<ArtifactFiles>; users: number }>();
  /** Where the invocations of a component loaded with `record` are journaled (kept here: Component knows nothing of journals). */
  private readonly journals = new WeakMap<Component, CallJournal>();
  private readonly inflight = new Set<InFlight>();
  private backstop: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  private destroying = false;
  private nextId = 0;

  constructor(options: RuntimeOptions = {}) {
    this.threads = options.threads ?? Math.min(availableParallelism(), MAX_THREADS);
    if (!Number.isInteger(this.threads) || this.threads < 1 || this.threads > MAX_THREADS) {
      throw new CorralRuntimeError('invalid-option', `threads must be an integer from 1 to ${MAX_THREADS}, got ${options.threads}`, { option: 'threads', value: options.threads });
    }
    this.cacheDir = options.cacheDir ?? defaultCacheDir();
    this.sources = new SourceCache(this.cacheDir);
    this.graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
    this.closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.defaultPool = options.pool ?? {};
    const regionBytes = options.hostCallBufferBytes ?? DEFAULT_HOST_CALL_BUFFER_BYTES;
    if (!Number.isInteger(regionBytes) || regionBytes < MIN_HOST_CALL_BUFFER_BYTES || regionBytes > MAX_HOST_CALL_BUFFER_BYTES) {
      throw new CorralRuntimeError('invalid-option', `hostCallBufferBytes must be an integer from ${MIN_HOST_CALL_BUFFER_BYTES} to ${MAX_HOST_CALL_BUFFER_BYTES}, got ${options.hostCallBufferBytes}`, {
        option: 'hostCallBufferBytes',
        value: options.hostCallBufferBytes,
      });
    }
    const idle = options.idleInstances ?? DEFAULT_IDLE_INSTANCES;
    if (!Number.isInteger(idle) || idle < 1) {
      throw new CorralRuntimeError('invalid-option', `idleInstances must be an integer of at least 1, got ${options.idleInstances}`, { option: 'idleInstances', value: options.idleInstances });
    }
    const idleInstances = Math.ceil(idle / this.threads);
    if (options.priority !== undefined && options.priority !== 'normal' && options.priority !== 'lowest') {
      throw new CorralRuntimeError('invalid-option', `priority must be 'normal' or 'lowest', got ${String(options.priority)}`, { option: 'priority', value: options.priority });
    }
    this.pool = new Piscina({
      filename: WORKER_URL.href,
      minThreads: this.threads,
      maxThreads: this.threads,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: 1,
      // piscina runs no tasks on these workers (calls go through their slots): it must not hold their
      // event loop in a blocking Atomics.wait, which their slots, reapers and module loading need.
      atomics: 'async',
      workerData: { regionBytes, idleInstances, ...(options.priority === 'lowest' ? { priority: 'lowest' as const } : {}) } satisfies WorkerConfig,
    });
    // A worker that is gone took its instances with it, whichever way it went.
    this.dispatcher = new CallDispatcher(this.pool, regionBytes, (threadId) => {
      if (this.destroying) return; // shutdown writes every instance off as closed
      for (const component of this.components) component.pool.writeOffWorker(threadId);
    });
  }

  /**
   * Validates and prepares a component (or reads it from the cache) and says what it imports and
   * exports, without registering it: an embedder can check capabilities before it provides imports.
   */
  async inspect(source: Uint8Array | string, name?: string, sha256?: string): Promise<ArtifactMeta> {
    return (await this.prepare(source, name, undefined, sha256)).artifact.meta;
  }

  /**
   * Reads, validates and prepares a component. `precheck` sees its import names (versions included)
   * before the expensive part: a component `load` would refuse for its WASI imports is refused in
   * milliseconds instead of after preparing (3 s for a 12 MB one). A file whose identity is unchanged
   * since this runtime read it is not read again (see SourceCache), and its artifact is the one found or
   * prepared then: 10,000 modules of one file read, hash and prepare it once.
   */
  private async prepare(source: Uint8Array | string, givenName?: string, precheck?: (importNames: string[], label: string) => void, sha256?: string) {
    if (this.closing) throw closedError();
    const label = typeof source === 'string' ? source : (givenName ?? 'component bytes');
    const name = givenName ?? (typeof source === 'string' ? basename(source).replace(/\.wasm$/, '') : 'component');
    let facts = typeof source === 'string' ? await this.sources.facts(source, label) : bytesFacts(source, label);
    // The pin is checked on the sha256 of bytes that were read, the very bytes the artifact is prepared
    // from. One that does not match what the file's identity recorded is checked on a fresh read before
    // it is refused: a refusal never rests on the cache.
    if (sha256 !== undefined && facts.sha256 !== sha256 && typeof source === 'string') facts = await this.sources.facts(source, label, true);
    if (sha256 !== undefined && facts.sha256 !== sha256) {
      throw new LoadError('sha256-mismatch', `${label} has sha256 ${facts.sha256}, pinned ${sha256}`, { source: label, module: name, expected: sha256, actual: facts.sha256 });
    }
    precheck?.(facts.importNames, label);
    const artifact = await this.artifactOf(facts, name, label);
    return { artifact, label, name, importNames: facts.importNames, facts };
  }

  /** The prepared artifact of `facts`' bytes, found or prepared once and then kept with them. */
  private artifactOf(facts: SourceFacts, name: string, label: string): Promise<PreparedArtifact> {
    // Another load found or prepared it: nothing is prepared for this one.
    if (facts.artifact) return facts.artifact.then((artifact) => ({ ...artifact, fromCache: true }));
    const prepared = prepareInWorker({ bytes: facts.bytes!, sha256: facts.sha256, name, source: label, cacheDir: this.cacheDir });
    facts.artifact = prepared;
    // Prepared: the bytes are not needed any more (a missing cache directory is read again from the file).
    prepared.then(
      () => {
        facts.bytes = null;
        void this.sources.record(facts);
      },
      () => (facts.artifact = undefined),
    );
    return prepared;
  }

  /**
   * The artifact's files, read into memory once per artifact and shared by every component loaded from
   * it (10,000 modules of one component held 10,000 copies, 2–3 MiB each): what every worker, including
   * one started long after (a replacement after a kill), builds instances from. Released with the last
   * component that uses them (`releaseFiles`).
   */
  private async acquireFiles(artifact: PreparedArtifact, facts: SourceFacts, source: Uint8Array | string, name: string, label: string): Promise<ArtifactFiles> {
    const { key } = artifact.meta;
    let shared = this.sharedFiles.get(key);
    if (!shared) {
      const entry = { files: this.artifactFiles(artifact, facts, source, name, label), users: 0 };
      entry.files.catch(() => {
        if (this.sharedFiles.get(key) === entry) this.sharedFiles.delete(key);
      });
      this.sharedFiles.set(key, (shared = entry));
    }
    shared.users++;
    try {
      return await shared.files;
    } catch (error) {
      this.releaseFiles(key);
      throw error;
    }
  }

  private releaseFiles(key: string): void {
    const shared = this.sharedFiles.get(key);
    if (shared && --shared.users === 0) this.sharedFiles.delete(key);
  }

  /**
   * Reads the artifact's files. Gone from the cache since it was prepared or found there (a cleanup,
   * `rm -rf ~/.cache/corral`): prepared again, from the file read afresh, which must still hold the
   * bytes the artifact was made from.
   */
  private async artifactFiles(artifact: PreparedArtifact, facts: SourceFacts, source: Uint8Array | string, name: string, label: string): Promise<ArtifactFiles> {
    try {
      return await readArtifactFiles(artifact.dir, artifact.meta);
    } catch {
      const bytes = facts.bytes ?? (typeof source === 'string' ? (await this.sources.facts(source, label, true)).bytes : source)!;
      const again = await prepareInWorker({ bytes, name, source: label, cacheDir: this.cacheDir });
      if (again.meta.sha256 !== artifact.meta.sha256) {
        throw new LoadError('sha256-mismatch', `${label} changed while it was loaded: sha256 ${again.meta.sha256}, was ${artifact.meta.sha256}`, { source: label, module: name, expected: artifact.meta.sha256, actual: again.meta.sha256 });
      }
      return readArtifactFiles(again.dir, again.meta);
    }
  }

  /** Validates, prepares (or reads from cache) and registers a component. Nothing runs yet. */
  async load(source: Uint8Array | string, options: LoadOptions = {}): Promise<Component> {
    const givenName = options.name;
    const nameForLimits = givenName ?? (typeof source === 'string' ? basename(source).replace(/\.wasm$/, '') : 'component');
    const limits = resolveLimits(options.limits ?? {}, nameForLimits);
    const wasiConfig = resolveWasiConfig(options.wasi, nameForLimits);
    const imports = options.imports ?? {};
    // WASI interfaces and versions only: whether an embedder import is needed at all is known after
    // preparing (an interface that only defines types, such as corral:module/types, needs nothing).
    const precheck = (names: string[], label: string) => checkWasiImports(names, {}, label);
    const { artifact, label, name, importNames, facts } = await this.prepare(source, givenName, precheck, options.sha256);
    const files = await this.acquireFiles(artifact, facts, source, name, label);
    try {
      return this.register(source, options, { artifact, label, name, importNames, files, limits, wasiConfig, imports });
    } catch (error) {
      this.releaseFiles(artifact.meta.key);
      throw error;
    }
  }

  /** The rest of `load`, once the artifact's files are held: checks, then the component registered. */
  private register(
    source: Uint8Array | string,
    options: LoadOptions,
    { artifact, label, name, importNames, files, limits, wasiConfig, imports }: { artifact: PreparedArtifact; label: string; name: string; importNames: string[]; files: ArtifactFiles; limits: Limits; wasiConfig: ReturnType<typeof resolveWasiConfig>; imports: HostImports },
  ): Component {
    checkWasiImports(importNames, artifact.meta.imports, label);
    checkImports(embedderImports(artifact.meta.imports), imports, label);
    const wasi = wasiImports(artifact.meta.imports);
    const freshInstances = options.record !== undefined || (Object.keys(wasi).length > 0 && wasiConfig.deterministic !== null);
    // No prewarm either: a prewarmed instance ran its initializer in an earlier task, outside the call.
    const given = { ...this.defaultPool, ...options.pool };
    const pool = freshInstances ? { ...given, maxUses: 1, minInstances: 0 } : given;
    const memoryMaxPages = Math.floor(limits.memoryBytes / WASM_PAGE_BYTES);
    for (const core of artifact.meta.coreModules) {
      for (const pages of core.facts.definedMemoryPages) {
        if (pages > memoryMaxPages) {
          throw new LoadError(
            'memory-over-cap',
            `${label} starts with ${pages * WASM_PAGE_BYTES} bytes of linear memory (${core.file}); the cap is ${limits.memoryBytes}`,
            { source: label, initialBytes: pages * WASM_PAGE_BYTES, limitBytes: limits.memoryBytes },
          );
        }
      }
    }
    const id = `${name}#${++this.nextId}`;
    const component = new Component(id, name, limits, imports, artifact.meta, artifact.dir, files, artifact.fromCache, new InstancePool(pool, name), this);
    if (Object.keys(wasi).length > 0) component.wasi = { interfaces: wasi, config: wasiConfig };
    if (options.initializer) {
      component.initializer = { exportPath: component.resolveExport(options.initializer.export).path, args: options.initializer.args };
    }
    if (options.record) {
      this.journals.set(component, options.record);
      options.record.component(name, {
        ...(typeof source === 'string' ? { path: resolve(source) } : {}), // absolute: a replay may run elsewhere
        sha256: artifact.meta.sha256,
        limits: { ...limits },
        ...(component.wasi ? { wasi: component.wasi.config } : {}),
        ...(component.initializer ? { initializer: component.initializer } : {}),
      });
    }
    this.components.add(component);
    this.refill(component);
    return component;
  }

  /**
   * Unloads a component (see `Component.close()`): what `load` registered is released, so a long-lived
   * runtime that loads and unloads modules does not grow.
   */
  unload(component: Component): void {
    if (!this.components.delete(component)) return;
    this.releaseFiles(component.meta.key);
    component.pool.markUnloaded();
    component.pool.rejectWaiting(unloadedError(component.name));
    for (const inflight of this.inflight) if (inflight.component === component) inflight.abort.abort(new InvocationEnded('unloaded'));
    this.dispatcher.forget(component.id);
  }

  /** Components loaded and not unloaded. */
  get loadedComponents(): number {
    return this.components.size;
  }

  /**
   * Keeps `minInstances` of `component` built: one prewarm per instance missing (alive plus prewarms in
   * flight below the minimum), or `atLeast` (after a recycle, when the alive count still holds the
   * instances of the old generation). A prewarm is an invocation like any other (checkout slot, fuel,
   * deadline, backstop) that builds a fresh instance and calls no export; its host calls (from
   * `configure`) go to the imports given at load. After a prewarm that ended in a signal, none runs
   * until a call of the component succeeds.
   */
  refill(component: Component, atLeast = 0): void {
    const { pool } = component;
    const min = pool.options.minInstances;
    if (min === 0 || this.closing || !this.components.has(component) || pool.prewarm.blocked) return;
    const missing = Math.max(atLeast, min - pool.stats().size) - pool.prewarm.inFlight;
    for (let i = 0; i < missing; i++) void this.prewarm(component);
  }

  private async prewarm(component: Component): Promise<void> {
    const { pool } = component;
    pool.prewarm.inFlight++;
    pool.prewarm.runs++;
    try {
      const outcome = await this.invoke(component, PREWARM_TARGET, [], {}, undefined, true);
      if (!outcome.ok) {
        pool.prewarm.failures++;
        pool.prewarm.lastSignal = outcome.signal.name;
        pool.prewarm.blocked = true;
      }
    } catch {
      // The runtime is closing, the component was unloaded, or no slot was free in time: nothing to keep warm.
    } finally {
      pool.prewarm.inFlight--;
    }
  }

  invoke(component: Component, target: ResolvedExport, args: unknown[], options: CallOptions, each?: 'signal' | 'err', prewarm = false): Promise<CallOutcome> {
    const to = prewarm ? undefined : this.journals.get(component);
    // Most calls have nothing to do once answered: theirs is the invocation's own promise (an async
    // step less between the reply and the caller).
    if (!to && (prewarm || component.pool.options.minInstances === 0)) return this.invokeOnce(component, target, args, options, each, prewarm);
    return this.invokeAndFollowUp(component, target, args, options, each, prewarm, to);
  }

  /** `invoke` of a journaled component, or of one that keeps instances prewarmed: the journal entry and the refill follow the call. */
  private async invokeAndFollowUp(component: Component, target: ResolvedExport, args: unknown[], options: CallOptions, each: 'signal' | 'err' | undefined, prewarm: boolean, to: CallJournal | undefined): Promise<CallOutcome> {
    const journal: InvocationJournal | undefined = to ? { to, hostCalls: [], wasiCalls: [] } : undefined;
    const outcome = await this.invokeOnce(component, target, args, options, each, prewarm, journal);
    if (journal) {
      const fuel = options.fuel ?? component.limits.fuel;
      const timeoutMs = options.timeoutMs ?? component.limits.timeoutMs;
      const { hostCalls, wasiCalls } = journal;
      journal.to.invocation(
        { component: component.name, invocationId: outcome.invocationId, export: target.name, args, ...(each ? { each } : {}), fuel, timeoutMs, hostCalls, wasiCalls },
        outcome,
      );
    }
    if (!prewarm && component.pool.options.minInstances > 0) {
      if (outcome.ok) component.pool.prewarm.blocked = false;
      this.refill(component);
    }
    return outcome;
  }

  private invokeOnce(
    component: Component,
    target: ResolvedExport,
    args: unknown[],
    options: CallOptions,
    each: 'signal' | 'err' | undefined,
    prewarm: boolean,
    journal?: InvocationJournal,
  ): Promise<CallOutcome> {
    let checkout: Promise<void> | void;
    let table: readonly BoundHostFunction[];
    let fuel: number;
    let timeoutMs: number;
    try {
      if (this.closing) throw closedError();
      if (!this.components.has(component)) throw unloadedError(component.name);
      fuel = options.fuel ?? component.limits.fuel;
      timeoutMs = options.timeoutMs ?? component.limits.timeoutMs;
      checkFuel(fuel, 'fuel');
      checkTimeout(timeoutMs, 'timeoutMs');
      const bound = options.imports ? component.bindImports(options.imports) : component.hostTable;
      table = journal ? journal.to.recordingTable(bound, journal.hostCalls) : bound;
      checkout = component.pool.checkout(
        options.checkoutDeadline === undefined && !options.signal
          ? NO_BOUNDS
          : { ...(options.checkoutDeadline === undefined ? {} : { deadline: options.checkoutDeadline }), ...(options.signal ? { signal: options.signal } : {}) },
      );
    } catch (error) {
      return Promise.reject(error);
    }
    const start = () => {
      const invocationId = options.invocationId ?? randomUUID();
      // Optional fields are assigned, not spread: a spread of an empty object is an allocation per call.
      const task: CallTask = { componentId: component.id, exportPath: target.path, exportName: target.name, args, fuel, timeoutMs, invocationId };
      if (each) task.each = each;
      if (prewarm) task.prewarm = true;
      if (component.wasi && options.wasiAnswers) task.wasiJournal = { replay: options.wasiAnswers.calls };
      else if (component.wasi && journal) task.wasiJournal = 'record';
      return this.dispatch(component, target, task, table, options, journal);
    };
    if (!checkout) return start();
    return checkout.then(() => {
      // Unloaded while this caller waited for its slot (it was granted just before): give the slot back.
      if (!this.components.has(component)) {
        component.pool.release();
        throw unloadedError(component.name);
      }
      return start();
    });
  }

  /**
   * Hands `task` to a worker; the promise is resolved from the call's end (`SlotCall.settle`, run
   * where the reply is read), not from an async function awaiting it: two promise steps fewer per call.
   */
  private dispatch(component: Component, target: ResolvedExport, task: CallTask, table: readonly BoundHostFunction[], options: CallOptions, journal: InvocationJournal | undefined): Promise<CallOutcome> {
    return new Promise<CallOutcome>((resolve, reject) => {
      const abort = new InvocationAbort();
      const inflight: InFlight = {
        component,
        call: {
          task,
          table,
          describe: () => describe(component),
          pool: component.pool,
          slot: null,
          abort,
          settle: (result) => {
            try {
              // A signal or error is made in a microtask of its own: made here, under the slot that read
              // the reply or saw its worker exit, its stack would keep that slot (and its shared
              // memory) alive for as long as the embedder keeps the signal.
              if ('reply' in result && result.reply.ok && !inflight.terminated) resolve(this.outcome(inflight, target, options, journal, result));
              else resolve(Promise.resolve(result).then((ended) => this.outcome(inflight, target, options, journal, ended)));
            } catch (error) {
              reject(error);
            } finally {
              // Host work the guest no longer waits for (its deadline passed while a request ran, it
              // trapped) stops here: a request's socket must not outlive its invocation.
              abort.abort(ENDED);
              this.inflight.delete(inflight);
              component.pool.release();
              // Nothing asks an ended call for its slot; a signal's stack may keep this closure's record.
              inflight.call.slot = null;
            }
          },
        },
        timeoutMs: task.timeoutMs,
        terminated: null,
        killed: false,
        abort,
      };
      this.inflight.add(inflight);
      this.armBackstop();
      this.dispatcher.run(inflight.call);
    });
  }

  /** What a call that ended with `result` comes to for its caller. */
  private outcome(inflight: InFlight, target: ResolvedExport, options: CallOptions, journal: InvocationJournal | undefined, result: SlotResult): CallOutcome {
    const { component, timeoutMs } = inflight;
    const { invocationId } = inflight.call.task;
    const context = () => ({ component: component.name, exportName: target.name, invocationId });
    // The worker may answer in the instant it is terminated: the termination decides the outcome.
    if (inflight.terminated) {
      const { elapsedMs } = inflight.terminated;
      return { ok: false, signal: new ExecutionTimeout({ ...context(), timeoutMs, elapsedMs, fuelUsed: null, terminated: true }), durationMs: elapsedMs, invocationId };
    }
    if ('refused' in result) {
      throw new CorralRuntimeError('invalid-arguments', `${component.name}.${target.name}: the arguments cannot be passed to a worker thread: ${result.refused.message}`, {
        component: component.name,
        export: target.name,
      });
    }
    // Killed on purpose, or the worker died under the call (e.g. it ran out of heap): a trap.
    if (inflight.killed || 'failed' in result) {
      const message = inflight.killed ? 'killed by the embedder (brutal-kill)' : `worker thread failed: ${(result as { failed: Error }).failed.message}`;
      return { ok: false, signal: new Trap({ ...context(), code: 'unknown', message }), durationMs: 0, invocationId };
    }
    const { reply } = result;
    if (journal && reply.wasiCalls) journal.wasiCalls.push(...reply.wasiCalls);
    if (options.wasiAnswers && reply.wasiReplayed !== undefined) options.wasiAnswers.used = reply.wasiReplayed;
    if (reply.ok) {
      const success: CallSuccess = { ok: true, value: reply.value, fuelUsed: reply.fuelUsed, durationMs: reply.durationMs, startedAt: reply.startedAt, memoryBytes: reply.memoryBytes, invocationId };
      if (reply.output) success.output = reply.output;
      return success;
    }
    const failure: CallFailure = { ok: false, signal: signalFromData(reply.signal), durationMs: reply.durationMs, startedAt: reply.startedAt, invocationId };
    if (reply.memoryBytes !== undefined) failure.memoryBytes = reply.memoryBytes;
    if (reply.index !== undefined) failure.index = reply.index;
    if (reply.output) failure.output = reply.output;
    return failure;
  }

  /**
   * Ends every call of `component` in flight now, each with a Trap: workers running one are
   * terminated (piscina replaces them); calls not yet started are refused when a worker picks them up.
   */
  kill(component: Component): void {
    const queued = new Set(this.dispatcher.takeWaiting((call) => call.task.componentId === component.id));
    for (const inflight of this.inflight) {
      if (inflight.component !== component || inflight.killed || inflight.terminated) continue;
      inflight.abort.abort(new InvocationEnded('killed'));
      const { call } = inflight;
      if (queued.has(call)) {
        inflight.killed = true;
        this.dispatcher.end(call, { failed: new Error('killed before it started') });
      } else if (call.slot?.current === call) {
        inflight.killed = true;
        this.terminateWorker(call.slot);
      }
      // else it has just been answered: its caller has the reply.
    }
  }

  /**
   * The nice value of each worker of a `priority: 'lowest'` runtime, by thread id, as each announced it
   * once started (a worker that has served a call has); null for a worker whose priority could not be
   * lowered (not Linux, or refused). Empty for a runtime of normal priority.
   */
  workerNice(): ReadonlyMap<number, number | null> {
    return this.dispatcher.nice;
  }

  /**
   * Stops accepting calls, lets in-flight calls finish for up to `closeTimeoutMs`, then terminates
   * the workers. Leaves no threads, timers or handles behind.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    for (const component of this.components) component.pool.rejectWaiting(closedError());
    const deadline = Date.now() + this.closeTimeoutMs;
    while (this.inflight.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    for (const inflight of this.inflight) inflight.abort.abort(new InvocationEnded('closed'));
    for (const call of this.dispatcher.close()) this.dispatcher.end(call, { failed: new Error('the runtime closed before the call ran') });
    // Only these workers' slots can still count instances: a worker gone before had its slot written
    // off when it exited (taken in the same turn as `destroying` is set, so no exit falls between).
    const threadIds = this.pool.threads.map((worker) => worker.threadId);
    this.destroying = true;
    await this.pool.destroy();
    if (this.backstop) clearInterval(this.backstop);
    this.backstop = null;
    for (const component of this.components) component.pool.writeOffAll(threadIds);
  }

  /**
   * Terminates the worker running a call: its slot's watcher ends the call (CallDispatcher, on the
   * thread's exit), piscina starts a replacement, and the instances that lived in it are written off
   * once the thread has exited.
   */
  private terminateWorker(slot: CallSlot): void {
    // Cancel first: a worker blocked in Atomics.wait (a host call) throws out of the guest at once.
    slot.cancel();
    const worker = this.pool.threads.find((w) => w.threadId === slot.threadId);
    void worker?.terminate();
  }

  /**
   * The backstop for guests that do not come back (stuck in a host call, or swallowing the meter's
   * exception): one sweep over the calls in flight, a few times per grace period. A call whose guest
   * started more than deadline + grace ago has its worker terminated.
   */
  private armBackstop(): void {
    if (this.backstop) return;
    const period = Math.max(2, Math.min(50, Math.floor(this.graceMs / 4)));
    this.backstop = setInterval(() => {
      if (this.inflight.size === 0) {
        clearInterval(this.backstop!);
        this.backstop = null;
        return;
      }
      const now = performance.timeOrigin + performance.now();
      for (const inflight of this.inflight) {
        const slot = inflight.call.slot;
        const startedAt = slot?.current === inflight.call ? slot.guestStartedAt() : null;
        if (!slot || startedAt === null || inflight.terminated || now - startedAt < inflight.timeoutMs + this.graceMs) continue;
        inflight.terminated = { elapsedMs: now - startedAt };
        this.terminateWorker(slot);
      }
    }, period);
    this.backstop.unref();
  }
}

/** A call's checkout without a deadline or signal of its own: one object, not one per call. */
const NO_BOUNDS = Object.freeze({});

/** The reason of every invocation that ended by itself: one instance, not an Error (and its stack) per call. */
const ENDED = new InvocationEnded('ended');

/** What a prewarm names as its export: nothing is called (see CallTask.prewarm). */
const PREWARM_TARGET: ResolvedExport = { name: '(prewarm)', path: [], signature: undefined };

function describe(component: Component): ComponentDescriptor {
  const { pool, meta } = component;
  return {
    id: component.id,
    name: component.name,
    artifact: meta.key,
    coreFiles: meta.coreModules.map((m) => m.file),
    files: component.artifactFiles,
    imports: embedderImports(meta.imports),
    ...(component.wasi ? { wasi: component.wasi } : {}),
    memoryMaxPages: Math.floor(component.limits.memoryBytes / WASM_PAGE_BYTES),
    maxUses: pool.options.maxUses,
    maxIdleMs: pool.options.maxIdleMs,
    minInstances: pool.options.minInstances,
    counters: pool.counterBuffer,
    ...(component.initializer ? { initializer: component.initializer } : {}),
  };
}

function resolveLimits(limits: Partial<Limits>, name: string): Limits {
  const resolved: Limits = {
    fuel: limits.fuel ?? DEFAULT_FUEL,
    timeoutMs: limits.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    memoryBytes: limits.memoryBytes ?? DEFAULT_MEMORY_BYTES,
  };
  checkFuel(resolved.fuel, `limits.fuel of ${name}`);
  checkTimeout(resolved.timeoutMs, `limits.timeoutMs of ${name}`);
  if (!Number.isSafeInteger(resolved.memoryBytes) || resolved.memoryBytes < WASM_PAGE_BYTES) {
    throw new CorralRuntimeError('invalid-option', `limits.memoryBytes of ${name} must be an integer of at least ${WASM_PAGE_BYTES} (one page), got ${resolved.memoryBytes}`, { option: 'limits.memoryBytes', component: name, value: resolved.memoryBytes });
  }
  return resolved;
}

function checkFuel(fuel: number, what: string): void {
  if (!Number.isSafeInteger(fuel) || fuel < 1) throw new CorralRuntimeError('invalid-option', `${what} must be a positive integer, got ${fuel}`, { option: what, value: fuel });
}

function checkTimeout(timeoutMs: number, what: string): void {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new CorralRuntimeError('invalid-option', `${what} must be a positive number of ms, got ${timeoutMs}`, { option: what, value: timeoutMs });
}

function checkImports(needed: Record<string, string[]>, provided: HostImports, source: string): void {
  for (const [interfaceName, functions] of Object.entries(needed)) {
    const given = provided[interfaceName];
    for (const fn of functions) {
      if (typeof given?.[fn] !== 'function') {
        const what = given ? `function \`${fn}\` of import \`${interfaceName}\`` : `import \`${interfaceName}\``;
        throw new LoadError('import-not-provided', `${source} needs ${what}, which is not provided`, {
          source,
          import: interfaceName,
          function: fn,
        });
      }
    }
  }
}

function closedError(): CorralRuntimeError {
  return new CorralRuntimeError('closed', 'the runtime is closed');
}

function unloadedError(component: string): CorralRuntimeError {
  return new CorralRuntimeError('closed', `component ${component} was unloaded`, { component });
}
