import type { Subscription } from 'rxjs';
import type { DeliveryOutcome } from '../actor/Actor.ts';
import { parseManifest, type ModuleManifest, type ResolvedManifest } from '../config/ModuleManifestSchema.ts';
import { EngineError } from '../errors/EngineError.ts';
import { ReplaceError } from '../errors/ReplaceError.ts';
import { DEFAULT_REPLACE_PROBATION_INVOCATIONS } from '../limits/defaults.ts';
import { isOwnedStore } from '../store/OwnedStore.ts';
import type { SignalName } from '../signals/signalFromData.ts';
import type { EngineParts } from './EngineParts.ts';
import { ServingBuilds } from './HotSwapsBuilds.ts';
import { outsideInvocation } from './hostBinding.ts';
import type { Envelope } from './invocation.ts';
import { checkMessageGrants } from './messageGrants.ts';
import { checkCapabilities, MODULE_INTERFACES, type InterfaceName } from './ModuleManifest.ts';
import type { ModuleRuntime } from './ModuleRuntime.ts';
import type { InvocationRecord } from './records.ts';

/** What a new build imports against its manifest's grants and against the build it replaces. */
export interface CapabilityDiff {
  /** Interfaces (without their versions) the new build imports and the previous one did not. */
  added: string[];
  /** Interfaces the previous build imported and the new one does not. */
  removed: string[];
  /** Imports of the new build its manifest does not grant, each with the grant it needs. */
  ungranted: { import: string; grant: InterfaceName }[];
}

export interface ReplaceOptions {
  /** The new version's first invocations watched for a signal (any one rolls it back). Default: DEFAULT_REPLACE_PROBATION_INVOCATIONS. */
  probationInvocations?: number;
}

/** How the new version's probation ended. `outcomes`: its first invocations', in order. */
export type ProbationEnd =
  | { result: 'kept'; outcomes: InvocationRecord['outcome'][] }
  /** A signal: the previous version serves again; `redelivered` custom events the new one failed went to it. */
  | { result: 'rolled-back'; outcomes: InvocationRecord['outcome'][]; signal: SignalName; redelivered: number }
  /** A signal, and the previous version could not be loaded again: the module is not loaded. */
  | { result: 'rollback-failed'; outcomes: InvocationRecord['outcome'][]; signal: SignalName; error: unknown }
  /** Replaced again, unloaded, or the engine stopped before the probation was over. */
  | { result: 'ended'; outcomes: InvocationRecord['outcome'][] };

/** A swap that happened: the new version serves; `probation` settles once its first invocations decided. */
export interface Replacement {
  module: string;
  /** sha256 of the previous and of the new component file. */
  previous: string;
  version: string;
  capabilities: CapabilityDiff;
  probation: Promise<ProbationEnd>;
}

/** What a swap needs of the engine (its private load and unload, as Engine.ts wires them). */
export interface SwapHost {
  readonly parts: EngineParts;
  find(name: string): ModuleRuntime | undefined;
  /** The manifests of the modules loaded here. */
  manifests(): ResolvedManifest[];
  load(manifest: ResolvedManifest): Promise<void>;
  /** Takes the module out as a handover does: drained, its state and cursors kept, no lifecycle task. */
  unload(name: string): Promise<void>;
}

const bare = (specifier: string) => specifier.replace(/@[^/]*$/, '');

/** The capability diff of a build importing `imports` under `manifest`, against a previous build's `previous` imports. */
export function capabilityDiff(manifest: ResolvedManifest, imports: Record<string, string[]>, previous: Record<string, string[]>): CapabilityDiff {
  const now = new Set(Object.keys(imports).map(bare));
  const before = new Set(Object.keys(previous).map(bare));
  const ungranted: CapabilityDiff['ungranted'] = [];
  for (const specifier of Object.keys(imports)) {
    const entry = (Object.entries(MODULE_INTERFACES) as [InterfaceName, string][]).find(([, id]) => id === bare(specifier));
    const grant = entry && manifest.grants[entry[0]];
    if (entry && (grant === undefined || grant === false)) ungranted.push({ import: specifier, grant: entry[0] });
  }
  return { added: [...now].filter((i) => !before.has(i)).sort(), removed: [...before].filter((i) => !now.has(i)).sort(), ungranted };
}

/**
 * Hot swaps of running modules (`engine.replace`). A swap validates the new build first (capabilities,
 * preparation), then drains the old version as a handover does (its feeds finish their step, its queued
 * events run) and loads the new one from the same state and cursors: nothing committed is lost or run
 * twice. Embedder events published meanwhile wait for the swap (on LevelDB a module out of the table
 * would not receive them). The new version's first invocations are its probation: a signal among them
 * swaps the previous version back; the chain steps, timers and ticks it failed were never committed and
 * run again on the previous version, and the custom events it failed are delivered to it again. The
 * previous version is loaded pinned to its sha256, from its bytes as kept since it was loaded
 * (ServingBuilds) when its file was rebuilt in place since: never the rebuilt file as if it were the
 * previous build, and not `rollback-failed` for want of the file either.
 */
export class HotSwaps {
  private readonly probations = new Map<string, Probation>();
  private readonly builds: ServingBuilds;
  /** Per module: the swap or rollback running, so that two never interleave. */
  private readonly turns = new Map<string, Promise<unknown>>();
  private readonly gates = new Set<Promise<void>>();

  constructor(private readonly host: SwapHost) {
    this.builds = new ServingBuilds(host.parts.logger);
  }

  /**
   * A module was loaded (at start, by `engine.load`, by a swap or a rollback): its build's bytes are
   * kept for a rollback to it. Not on a store shared by replicas, where no swap runs.
   */
  async loaded(module: ModuleRuntime): Promise<void> {
    if (isOwnedStore(this.host.parts.store)) return;
    await this.builds.loaded(module.name, module.manifest.component, module.version);
  }

  /** A module was unloaded: its build's bytes go once no module serves them. */
  forget(name: string): void {
    this.builds.forget(name);
  }

  /** The engine stopped: the copies written for rollbacks are removed. */
  close(): Promise<void> {
    return this.builds.close();
  }

  /** Resolves once no swap has a module out of the table; undefined when none has. */
  held(): Promise<void> | undefined {
    return this.gates.size === 0 ? undefined : Promise.all(this.gates).then(() => undefined);
  }

  replace(raw: ModuleManifest, options: ReplaceOptions = {}): Promise<Replacement> {
    // On a shared store placement alone loads and unloads modules (leases, epochs): a swap would go behind it.
    if (isOwnedStore(this.host.parts.store)) return Promise.reject(new ReplaceError('not-replaceable', 'a module cannot be swapped on a store shared by replicas: unload and load it', { module: (raw as { name?: unknown }).name }));
    const manifest = parseManifest(raw, `module ${(raw as { name?: unknown }).name ?? ''}`);
    return this.turn(manifest.name, () => this.swap(manifest, options.probationInvocations ?? DEFAULT_REPLACE_PROBATION_INVOCATIONS));
  }

  /**
   * Runs `work` as a swap runs (engine.promote, promote.ts): in the module's turn, so no swap or
   * rollback interleaves; an open probation over; embedder events held until `work` is done. `work`
   * gets the handover unload and the load.
   */
  exclusive<T>(name: string, work: (host: SwapHost) => Promise<T>): Promise<T> {
    return this.turn(name, () => {
      this.probations.get(name)?.end();
      return this.hold(() => work(this.host));
    });
  }

  private async turn<T>(name: string, work: () => Promise<T>): Promise<T> {
    const before = this.turns.get(name) ?? Promise.resolve();
    const run = before.then(work, work);
    const settled = run.then(() => undefined, () => undefined);
    this.turns.set(name, settled);
    void settled.then(() => this.turns.get(name) === settled && this.turns.delete(name));
    return run;
  }

  private async hold<T>(work: () => Promise<T>): Promise<T> {
    const run = work();
    const gate = run.then(() => undefined, () => undefined);
    this.gates.add(gate);
    try {
      return await run;
    } finally {
      this.gates.delete(gate);
    }
  }

  private async swap(manifest: ResolvedManifest, probationInvocations: number): Promise<Replacement> {
    const { runtime } = this.host.parts;
    const name = manifest.name;
    const old = this.host.find(name);
    if (!old) throw new EngineError('unknown-module', `no module named ${name}`, { module: name });
    // As `engine.load` checks them: the new build's grants, and those of the senders it takes messages from.
    const others = this.host.manifests().filter((m) => m.name !== name);
    checkMessageGrants([manifest, ...others.filter((m) => m.grants.messages?.includes(name))], [...others, manifest]);
    const refused = (error: unknown, capabilities?: CapabilityDiff) =>
      new ReplaceError('load-failed', `module ${name}: the new build cannot be loaded; the previous version serves on`, { module: name, ...(capabilities ? { capabilities } : {}) }, error);
    const meta = await runtime.inspect(manifest.component, name, manifest.sha256).catch((error: unknown) => Promise.reject(refused(error)));
    // Kept for the probation: the file may be rebuilt in place (it may already be, when the new build is
    // at the same path), and a rollback must load these very bytes.
    const previousBytes = this.builds.bytes(old.version);
    // Without them, and with the file rebuilt in place, every import counts as added.
    const before = await runtime.inspect(previousBytes ?? old.manifest.component, name, old.version).then((m) => m.imports, () => ({}));
    const capabilities = capabilityDiff(manifest, meta.imports, before);
    if (capabilities.ungranted.length > 0) {
      // Refused rather than swapped in with the host answering `denied`: the manifest is the module's
      // declared reach, and a build past it would fail its first call there; the grant is the fix.
      const grants = [...new Set(capabilities.ungranted.map((u) => u.grant))];
      throw new ReplaceError('capability-not-granted', `module ${name}: the new build imports ${capabilities.ungranted.map((u) => `\`${u.import}\``).join(', ')}, which its manifest does not grant (grant ${grants.map((g) => `\`${g}\``).join(', ')}); the previous version serves on`, { module: name, capabilities });
    }
    try {
      checkCapabilities(manifest, meta.imports, meta.exports.map(([n]) => n));
      // Prepared once before the old version goes: a build the runtime refuses never takes its place,
      // and the load of the swap finds it prepared.
      const candidate = await runtime.load(manifest.component, { name: `${name}-candidate`, limits: manifest.limits, sha256: meta.sha256, imports: outsideInvocation(meta.imports) });
      candidate.close();
    } catch (error) {
      throw refused(error, capabilities);
    }
    // A probation still open is over: the version serving now is the one to fall back to.
    this.probations.get(name)?.end();
    // Pinned: a rollback loads the very build that served, never a file rebuilt in place since.
    const previous: ResolvedManifest = { ...old.manifest, sha256: old.version };
    const probation = new Probation(this.host, name, probationInvocations, (p, signal) => this.rollback(p, previous, previousBytes, signal));
    await this.hold(async () => {
      await this.host.unload(name);
      // Watched from before the load: the new version's first chain step may run before `load` returns.
      probation.watch();
      try {
        await this.host.load({ ...manifest, sha256: meta.sha256 });
      } catch (error) {
        probation.end();
        await this.host.load(previous);
        throw refused(error, capabilities);
      }
      probation.attach(this.host.find(name));
      // The circuit the previous version opened is closed: the new one gets its events (its probation decides).
      const { supervisor } = this.host.parts;
      if (supervisor.stateOf(name) === 'quarantined') supervisor.reset(name);
    });
    this.probations.set(name, probation);
    void probation.done.then(() => this.probations.get(name) === probation && this.probations.delete(name));
    return { module: name, previous: old.version, version: meta.sha256, capabilities, probation: probation.done };
  }

  /**
   * The new version failed its probation: the previous one serves again, and gets the custom events it
   * failed. It is loaded from its file while that still holds its bytes, else from a copy of `bytes`.
   */
  private rollback(probation: Probation, previous: ResolvedManifest, bytes: Uint8Array | undefined, signal: SignalName): void {
    const name = probation.module;
    void this.turn(name, async () => {
      if (!probation.serving()) return probation.settle({ result: 'ended', outcomes: probation.outcomes });
      await this.hold(async () => {
        // The drain runs what the new version still has queued; those of its custom events that fail are caught too.
        await this.host.unload(name);
        const component = await this.builds.loadable(previous.component, previous.sha256!, bytes);
        await this.host.load(component === undefined ? previous : { ...previous, component });
        for (const payload of probation.failed) await this.host.parts.supervisor.send(name, { kind: 'custom', payload });
      });
      this.host.parts.logger.warn({ module: name, signal }, 'module rolled back to its previous version: the new one failed its first events');
      probation.settle({ result: 'rolled-back', outcomes: probation.outcomes, signal, redelivered: probation.failed.length });
    }).catch((error: unknown) => {
      this.host.parts.logger.error({ module: name, err: error }, 'module could not be rolled back to its previous version: it is not loaded');
      probation.settle({ result: 'rollback-failed', outcomes: probation.outcomes, signal, error });
    });
  }
}

/** A new version's first invocations, watched for a signal. */
class Probation {
  readonly outcomes: InvocationRecord['outcome'][] = [];
  /** Custom events the new version ended with a signal: never committed, for the previous version to handle. */
  readonly failed: Extract<Envelope, { kind: 'custom' }>[] = [];
  readonly done: Promise<ProbationEnd>;
  private resolve!: (end: ProbationEnd) => void;
  private records: Subscription | undefined;
  private runtime: ModuleRuntime | undefined;
  private deciding = true;

  constructor(
    private readonly host: SwapHost,
    readonly module: string,
    private readonly limit: number,
    private readonly onSignal: (probation: Probation, signal: SignalName) => void,
  ) {
    this.done = new Promise((resolve) => (this.resolve = resolve));
  }

  watch(): void {
    this.records = this.host.parts.invocations.subscribe({
      next: (record) => record.module === this.module && this.observe(record.outcome),
      complete: () => this.settle({ result: 'ended', outcomes: this.outcomes }),
    });
  }

  /** The new version's runtime: its custom events' outcomes are seen until the probation settles. */
  attach(runtime: ModuleRuntime | undefined): void {
    this.runtime = runtime;
    if (runtime) runtime.probe = (envelope, outcome) => this.caught(envelope, outcome);
  }

  /** Whether the version on probation is the one serving (not unloaded or replaced meanwhile). */
  serving(): boolean {
    return this.runtime !== undefined && this.host.find(this.module) === this.runtime;
  }

  /** Over without a decision (replaced again, or the new version did not load). */
  end(): void {
    this.settle({ result: 'ended', outcomes: this.outcomes });
  }

  settle(end: ProbationEnd): void {
    this.deciding = false;
    this.records?.unsubscribe();
    if (this.runtime?.probe) this.runtime.probe = undefined;
    this.resolve(end);
  }

  private observe(outcome: InvocationRecord['outcome']): void {
    if (!this.deciding) return;
    this.outcomes.push(outcome);
    if (outcome !== 'ok' && outcome !== 'rejected') {
      this.deciding = false;
      this.records?.unsubscribe();
      return this.onSignal(this, outcome);
    }
    if (this.outcomes.length >= this.limit) this.settle({ result: 'kept', outcomes: this.outcomes });
  }

  private caught(envelope: Envelope, outcome: DeliveryOutcome): void {
    if (envelope.kind === 'custom' && !outcome.ok && 'signal' in outcome) this.failed.push(envelope);
  }
}
