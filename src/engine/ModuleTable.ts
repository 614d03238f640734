import type { Logger } from 'pino';
import type { PoolStats } from '../runtime/InstancePool.ts';
import { EngineError } from '../errors/EngineError.ts';
import { MODULE_LOAD_CONCURRENCY } from '../limits/defaults.ts';
import { mapConcurrently } from './mapConcurrently.ts';
import type { ModuleRuntime } from './ModuleRuntime.ts';
import type { ResolvedManifest } from '../config/ModuleManifestSchema.ts';
import { checkMessageGrants } from './messageGrants.ts';
import type { ChainPosition } from './records.ts';

/**
 * The engine's modules by name. A name is arriving (its load has begun), serving (in the table) or
 * leaving (unloaded, its instance still draining). A load of a name that arrives or serves is refused
 * at once; a load of a name that is leaving waits for the drain, since both instances would share the
 * name's state and each would run the other's lifecycle tasks from it.
 */
export class ModuleTable {
  private readonly serving = new Map<string, ModuleRuntime>();
  private readonly arriving = new Set<string>();
  private readonly leaving = new Map<string, Promise<unknown>>();
  /** Serving modules by the topics of embedder events they receive: a publish to one of 10,000 looks at one. */
  private readonly byTopic = new Map<string, Set<ModuleRuntime>>();

  /** Takes `name` for a load; call before the load's first await, so two loads of one name cannot both pass. */
  reserve(name: string): void {
    if (this.serving.has(name) || this.arriving.has(name)) throw new EngineError('duplicate-module', `a module named ${name} already runs`, { module: name });
    this.arriving.add(name);
  }

  /** The load that reserved `name` has ended, the module serving or not. */
  arrived(name: string): void {
    this.arriving.delete(name);
  }

  /** Resolves once an earlier instance of `name` has drained (at once when none is leaving). */
  async departed(name: string, logger: Logger): Promise<void> {
    const leaving = this.leaving.get(name);
    if (!leaving) return;
    logger.info({ module: name }, 'module waits for its earlier instance to drain');
    await leaving;
  }

  add(module: ModuleRuntime): void {
    if (this.serving.has(module.name)) throw new EngineError('duplicate-module', `two modules are named ${module.name}`, { module: module.name });
    this.serving.set(module.name, module);
    for (const topic of module.topics) {
      let receivers = this.byTopic.get(topic);
      if (!receivers) this.byTopic.set(topic, (receivers = new Set()));
      receivers.add(module);
    }
  }

  /**
   * The modules of a start, loaded with `load` `MODULE_LOAD_CONCURRENCY` at a time and taken into the table
   * in their order (children start in order). If one fails, the others finish loading and are abandoned.
   */
  async admitAll<M extends { name: string }>(manifests: readonly M[], load: (manifest: M) => Promise<ModuleRuntime>): Promise<ModuleRuntime[]> {
    const names = new Set<string>();
    for (const m of manifests) {
      if (names.has(m.name) || this.find(m.name)) throw new EngineError('duplicate-module', `two modules are named ${m.name}`, { module: m.name });
      names.add(m.name);
    }
    const settled = await mapConcurrently(manifests, MODULE_LOAD_CONCURRENCY, load);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      for (const r of settled) if (r.status === 'fulfilled') r.value.abandon();
      throw failed.reason;
    }
    const modules = settled.map((r) => (r as PromiseFulfilledResult<ModuleRuntime>).value);
    for (const module of modules) this.add(module);
    return modules;
  }

  /** One module loaded with `load` and taken into the table (its actor not started yet). */
  async admit<M extends { name: string }>(manifest: M, load: (manifest: M) => Promise<ModuleRuntime>): Promise<ModuleRuntime> {
    // Checked before the load too: a start listing one name twice loads nothing twice.
    if (this.find(manifest.name)) throw new EngineError('duplicate-module', `two modules are named ${manifest.name}`, { module: manifest.name });
    const module = await load(manifest);
    this.add(module);
    return module;
  }

  /**
   * The highest custom-event sequence any of `modules` committed: a restarted engine numbers its next
   * events above it. Read side by side: one after another, 10,000 reads took 0.5–3.6 s of the start.
   */
  async customSequence(modules: readonly ModuleRuntime[]): Promise<number> {
    let highest = 0;
    for (const read of await mapConcurrently(modules, MODULE_LOAD_CONCURRENCY, (m) => m.customSequence())) {
      if (read.status === 'rejected') throw read.reason;
      highest = Math.max(highest, read.value);
    }
    return highest;
  }

  /**
   * Refuses `manifests` (a start's, or one loaded while the engine runs) whose `messages` grants name a
   * module neither among them nor serving, or one that takes no messages from them (messageGrants.ts).
   */
  checkGrants(manifests: readonly ResolvedManifest[]): void {
    checkMessageGrants(manifests, [...this.all().map((m) => m.manifest), ...manifests]);
  }

  /** The serving modules that receive embedder events on `topic`. */
  receivers(topic: string): ModuleRuntime[] {
    const receivers = this.byTopic.get(topic);
    return receivers ? [...receivers] : [];
  }

  /** Forgets a module that never served (its actor could not start). */
  drop(name: string): void {
    const module = this.serving.get(name);
    this.serving.delete(name);
    if (module) this.unindex(module);
  }

  private unindex(module: ModuleRuntime): void {
    for (const topic of module.topics) {
      const receivers = this.byTopic.get(topic);
      receivers?.delete(module);
      if (receivers?.size === 0) this.byTopic.delete(topic);
    }
  }

  /** Takes `name` out of routing at once (a second remove fails), and keeps it leaving until `drain` settles. */
  async remove(name: string, drain: (module: ModuleRuntime) => Promise<void>): Promise<void> {
    const module = this.get(name);
    this.serving.delete(name);
    this.unindex(module);
    const drained = drain(module);
    const leaving = drained.catch(() => undefined);
    this.leaving.set(name, leaving);
    try {
      await drained;
    } finally {
      if (this.leaving.get(name) === leaving) this.leaving.delete(name);
    }
  }

  get(name: string): ModuleRuntime {
    const module = this.serving.get(name);
    if (!module) throw new EngineError('unknown-module', `no module named ${name}`, { module: name });
    return module;
  }

  find(name: string): ModuleRuntime | undefined {
    return this.serving.get(name);
  }

  all(): ModuleRuntime[] {
    return [...this.serving.values()];
  }

  /** Each module's instance pool counters: its events' pool under its name, its jobs' pool under `<name>/jobs`. */
  poolStats(): Record<string, PoolStats> {
    return Object.fromEntries(this.all().flatMap((m) => {
      const pools = m.poolStats();
      return [[m.name, pools.events] as const, ...(pools.jobs ? [[`${m.name}/jobs`, pools.jobs] as const] : [])];
    }));
  }

  /** Each module's stored bytes (keys + values, as its storage cap counts them). */
  storedBytes(): Record<string, number> {
    return Object.fromEntries(this.all().map((m) => [m.name, m.store.storedBytes]));
  }

  /** Each module's storage cap (`caps.stored_bytes`): what `storedBytes` may reach. */
  storeQuotas(): Record<string, number> {
    return Object.fromEntries(this.all().map((m) => [m.name, m.caps.storedBytes]));
  }

  /** Where every module stands on every chain it follows. */
  positions(): ChainPosition[] {
    return this.all().flatMap((m) => m.positions());
  }
}
