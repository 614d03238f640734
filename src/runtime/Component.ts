import { CorralRuntimeError } from '../errors/RuntimeError.ts';
import type { Signal } from '../signals/signalFromData.ts';
import type { BoundHostFunction, HostImports } from './HostImports.ts';
import { importTable } from './protocol.ts';
import type { InstancePool, PoolStats } from './InstancePool.ts';
import type { ArtifactFiles, ArtifactMeta } from './prepare/prepareArtifact.ts';
import type { ExportSignature } from './prepare/transpileComponent.ts';
import { embedderImports } from '../wasi/wasiPolicy.ts';
import type { GuestOutput, WasiConfig } from '../wasi/WasiConfig.ts';
import type { WasiCall } from '../wasi/WasiHost.ts';

/** Limits of one invocation. Defaults in src/limits/defaults.ts. */
export interface Limits {
  /** Fuel budget per invocation. */
  fuel: number;
  /** Wall-clock deadline per invocation, ms from the guest's start. */
  timeoutMs: number;
  /** Cap on each linear memory, bytes. Fixed per component (instances are built with it). */
  memoryBytes: number;
}

/** Per-call overrides of the component's limits, and of its import implementations. */
export type CallOptions = Partial<Pick<Limits, 'fuel' | 'timeoutMs'>> & {
  /**
   * Implementations for this call only (e.g. bound to the call's own state overlay). Every import the
   * component declares must be present, as at load.
   */
  imports?: HostImports;
  /** The id signals and logs carry; a fresh UUID when absent (the engine sets it to bind its logger). */
  invocationId?: string;
  /**
   * The caller's own deadline for getting an instance, on `performance.now()`'s clock: a call that finds
   * every instance busy waits no longer than this (`CheckoutError { reason: 'deadline' }`), nor past the
   * pool's `checkoutTimeoutMs`. The call's own `timeoutMs` starts when it runs.
   */
  checkoutDeadline?: number;
  /** Aborting it stops a call that still waits for an instance (`CheckoutError { reason: 'aborted' }`). */
  signal?: AbortSignal;
  /**
   * Replay: WASI's clock reads, random and polls are answered from `calls`, in order (see `replay`);
   * `used` is set to how many the call took.
   */
  wasiAnswers?: { calls: WasiCall[]; used?: number };
};

export interface CallSuccess {
  ok: true;
  value: unknown;
  fuelUsed: number;
  durationMs: number;
  /** When the worker began the invocation, in epoch milliseconds (sub-millisecond); absent if no guest code ran. */
  startedAt?: number;
  invocationId: string;
  /**
   * The instance's linear memories after the call, bytes (pages × 65,536 of all of them). Memory never
   * shrinks, so this is the instance's high-water mark: the call's own peak on a fresh instance
   * (`pool.maxUses` 1, `deterministic` WASI), the peak over every call it served on a pooled one.
   * Absent, like `startedAt`, when no instance served the outcome.
   */
  memoryBytes?: number;
  /** What a WASI guest wrote to stdout and stderr during the call (absent when it wrote nothing). */
  output?: GuestOutput;
}

export interface CallFailure {
  ok: false;
  signal: Signal;
  durationMs: number;
  /** As in CallSuccess; absent when the worker never reported (terminated, or its thread died). */
  startedAt?: number;
  invocationId: string;
  /** As in CallSuccess, at the stop; absent when no instance was built or the worker never reported. */
  memoryBytes?: number;
  /** With `invokeEach`: the index of the call the signal ended. */
  index?: number;
  /** As in CallSuccess: what the guest wrote before it stopped. */
  output?: GuestOutput;
}

export type CallOutcome = CallSuccess | CallFailure;

/** A resolved export: where it lives in the glue's export object, and its signature when known. */
export interface ResolvedExport {
  name: string;
  path: string[];
  signature: ExportSignature | undefined;
}

/** What the runtime does for a component; implemented by `Runtime`, kept off the public surface. */
export interface ComponentHost {
  invoke(component: Component, target: ResolvedExport, args: unknown[], options: CallOptions, each?: 'signal' | 'err'): Promise<CallOutcome>;
  kill(component: Component): void;
  unload(component: Component): void;
  /** Rebuilds the component's `minInstances` (after a recycle). */
  refill(component: Component, atLeast?: number): void;
}

/**
 * A loaded component: call its exports under limits. Instances are built lazily in the workers.
 *
 * @example
 * const adder = await runtime.load('add.wasm', { limits: { fuel: 1_000_000 } });
 * const { value, fuelUsed } = await adder.call('add', [1, 2]); // 3
 */
export class Component {
  /** Export names as the glue spells them (camelCase), with `function` or `instance`. */
  readonly exports: readonly [string, 'function' | 'instance'][];
  /** The embedder's import functions in import-table order: host calls name them by index. */
  readonly hostTable: readonly BoundHostFunction[];
  private readonly resolved = new Map<string, ResolvedExport>();
  /** The embedder's imports in import-table order, with their labels (see `bindImports`). */
  private importOrder: { interfaceName: string; functionName: string; label: string }[] | undefined;
  /** Called on every fresh instance before it serves; set by `Runtime.load`. */
  initializer: { exportPath: string[]; args: unknown[] } | undefined;
  /** The WASI interfaces it imports and what its WASI host is given; set by `Runtime.load`. */
  wasi: { interfaces: Record<string, string[]>; config: WasiConfig } | undefined;

  constructor(
    readonly id: string,
    readonly name: string,
    readonly limits: Readonly<Limits>,
    readonly imports: HostImports,
    readonly meta: ArtifactMeta,
    readonly artifactDir: string,
    /** The artifact's files, held in memory for as long as the component is loaded (see `ArtifactFiles`). */
    readonly artifactFiles: ArtifactFiles,
    /** True when the prepared artifact was read from the on-disk cache. */
    readonly fromCache: boolean,
    readonly pool: InstancePool,
    private readonly host: ComponentHost,
  ) {
    this.exports = meta.exports;
    this.hostTable = this.bindImports(imports);
  }

  /** The import table for a set of implementations, in the order host calls name them. */
  bindImports(imports: HostImports): BoundHostFunction[] {
    // The order and labels are the component's, computed once: every job binds its imports anew.
    this.importOrder ??= importTable(embedderImports(this.meta.imports)).map(({ interfaceName, functionName }) => ({ interfaceName, functionName, label: `${interfaceName}#${functionName}` }));
    return this.importOrder.map(({ interfaceName, functionName, label }) => {
      const fn = imports[interfaceName]?.[functionName];
      if (typeof fn !== 'function') {
        throw new CorralRuntimeError('invalid-arguments', `${this.name}: no implementation of ${interfaceName}#${functionName}`, {
          component: this.name,
          import: interfaceName,
          function: functionName,
        });
      }
      return { label, fn };
    });
  }

  /** Calls an export; resolves with its value, rejects with a `Signal` (or a `CorralRuntimeError`). */
  async call(exportName: string, args: unknown[] = [], options: CallOptions = {}): Promise<CallSuccess> {
    const outcome = await this.invoke(exportName, args, options);
    if (!outcome.ok) throw outcome.signal;
    return outcome;
  }

  /** Like `call`, but a signal is a value (`ok: false`) instead of a rejection. */
  invoke(exportName: string, args: unknown[] = [], options: CallOptions = {}): Promise<CallOutcome> {
    const target = this.resolveExport(exportName);
    if (target.signature && args.length !== target.signature.params.length) {
      const expected = target.signature.params.map((p) => `${p.name}: ${p.type}`).join(', ');
      return Promise.reject(
        new CorralRuntimeError('invalid-arguments', `${this.name}.${target.name} takes ${target.signature.params.length} argument(s) (${expected}), got ${args.length}`, {
          component: this.name,
          export: target.name,
        }),
      );
    }
    return this.host.invoke(this, target, args, options);
  }

  /**
   * Calls an export once per element of `argsList`, in order, in one trip to a worker and on one
   * instance: each call has the component's (or `options`') fuel budget and deadline to itself. Stops
   * at the first signal (the failure's `index` says which call), or with `stopAt: 'err'` also after
   * the first `err` result. On success `value` lists the results; `fuelUsed` is their sum. What the
   * engine uses to hand a module all its events of one block at the cost of one round trip.
   */
  invokeEach(exportName: string, argsList: unknown[][], options: CallOptions & { stopAt?: 'signal' | 'err' } = {}): Promise<CallOutcome> {
    const target = this.resolveExport(exportName);
    const { stopAt = 'signal', ...callOptions } = options;
    return this.host.invoke(this, target, argsList, callOptions, stopAt);
  }

  stats(): PoolStats {
    return this.pool.stats();
  }

  /**
   * Discards every instance of this component, idle or not yet returned: the next call of each worker
   * builds a fresh one from the compiled artifact. What a supervisor's restart does to a guest.
   */
  recycle(): void {
    this.pool.recycle();
    // The old generation's instances still count as alive until a call retires them: build the minimum anew.
    this.host.refill(this, this.pool.options.minInstances);
  }

  /** Terminates the workers running this component's calls now; those calls end in a Trap. */
  kill(): void {
    this.host.kill(this);
  }

  /**
   * Unloads the component: later calls (and callers waiting for an instance) fail with `closed`;
   * calls in flight finish; the workers drop its instances and compiled code at their next call or
   * idle sweep. `runtime.unload(component)` does the same.
   */
  close(): void {
    this.host.unload(this);
  }

  /**
   * Finds an export by the name a user is likely to type: `call-slow` (WIT), `callSlow` (JS), or
   * `iface.fn` / `iface#fn` for a function of an exported interface.
   */
  resolveExport(exportName: string): ResolvedExport {
    let resolved = this.resolved.get(exportName);
    if (resolved) return resolved;
    const parts = exportName.split(/[.#]/).map(camelCase);
    const top = this.meta.exports.find(([name]) => name === parts[0] || name === exportName.split(/[.#]/)[0]);
    const ok = top && (parts.length === 1 ? top[1] === 'function' : parts.length === 2 && top[1] === 'instance');
    if (!top || !ok) {
      throw new CorralRuntimeError('unknown-export', `${this.name} has no export \`${exportName}\`; it exports ${this.exports.map(([n]) => n).join(', ')}`, {
        component: this.name,
        export: exportName,
      });
    }
    const path = [top[0], ...parts.slice(1)];
    resolved = { name: exportName, path, signature: parts.length === 1 ? this.meta.signatures[top[0]] : undefined };
    this.resolved.set(exportName, resolved);
    return resolved;
  }
}

function camelCase(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
