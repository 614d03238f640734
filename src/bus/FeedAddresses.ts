import type { Logger } from 'pino';
import type { ModuleStore } from '../store/EngineStore.ts';
import { sameAddresses } from './addedLogs.ts';
import { creationOf, creationWrite, loadChildren, type ChildPosition, type Children, type Creation } from './factoryChildren.ts';
import type { FactoryLogs } from './factoryLogs.ts';
import type { FeedDelivery } from './FeedDelivery.ts';
import type { ChainInterest } from './triggers.ts';

/**
 * The addresses one module's chain feed follows beyond its static filters, as committed: the children
 * of its factory triggers (src/bus/factoryChildren.ts), which grow with the steps that create them, and
 * the addresses its named triggers added at run time (src/host/triggers.ts), which any step may change
 * in keys the feed does not see. ModuleFeed asks here what to fetch for a block or a range, and tells
 * what each commit wrote; both sets are read from the module's state when the feed starts and after an
 * undo took some back.
 */
export class FeedAddresses {
  /** The factory triggers' children as committed, by factory id. */
  private children = new Map<string, Children>();
  /** An undo took children back, or the feed just started: read them from the state before the next step. */
  private stale = true;
  /** The named triggers' added addresses as committed, by trigger id (read again after each commit: a step may change them). */
  private addedNow = new Map<string, Children>();

  constructor(
    private readonly store: ModuleStore,
    private readonly interest: ChainInterest,
    private readonly module: string,
    private readonly logger: Logger,
  ) {}

  private get chainId(): bigint {
    return this.interest.chainId;
  }

  /** Before a step: both sets read from the state if an undo (or the start) left them stale. */
  async fresh(): Promise<void> {
    if (!this.stale) return;
    this.children = await loadChildren(this.store, this.chainId, this.interest.factories);
    this.addedNow = await loadChildren(this.store, this.chainId, this.interest.added);
    this.stale = false;
  }

  /** The children of factory `id` as committed (none yet: empty). */
  childrenOf(id: string): ReadonlyMap<string, ChildPosition> {
    return this.children.get(id) ?? new Map<string, ChildPosition>();
  }

  /** Every factory's children as committed. */
  get factoryChildren(): ReadonlyMap<string, Children> {
    return this.children;
  }

  /** The named triggers' added addresses as committed. */
  get added(): ReadonlyMap<string, Children> {
    return this.addedNow;
  }

  /** What the factory triggers of a block or range learned: their creations, and the children after them. */
  learned(factories: readonly FactoryLogs[], before: ReadonlyMap<string, Children>): { creations: Creation[]; children: ReadonlyMap<string, Children> } {
    const children = new Map(before);
    const creations: Creation[] = [];
    const named = new Set<string>();
    factories.forEach((fetched, i) => {
      const { id } = this.interest.factories[i]!;
      children.set(id, fetched.children);
      // Two triggers of one factory (different topics) learn the same children: each is written once.
      for (const c of fetched.creations) {
        const name = `${c.factory}/${c.address}`;
        if (named.has(name)) continue;
        named.add(name);
        creations.push(c);
      }
      if (fetched.undecodable > 0) this.logger.warn({ chainId: String(this.chainId), module: this.module, factory: id, logs: fetched.undecodable }, 'factory logs that do not decode as the declared event name no child');
    });
    return { creations, children };
  }

  /** The reserved writes of the children a step created (none: no `writes`). */
  creationWrites(creations: readonly Creation[]): Pick<FeedDelivery, 'writes'> {
    return creations.length > 0 ? { writes: creations.map((c) => creationWrite(this.chainId, c)) } : {};
  }

  /**
   * A step committed `delivery`: the children it created join their factories'; an undo leaves both
   * sets stale; the added addresses are read again (the step, or the undo, may have changed them).
   * Resolves with whether they moved: then what was fetched for later blocks without them is stale.
   * A failed read leaves them stale, and throws.
   */
  async committed(delivery: FeedDelivery): Promise<boolean> {
    if (delivery.undo) this.stale = true;
    if (delivery.writes) this.addChildren(delivery.writes);
    if (this.interest.added.length === 0) return false;
    let added: Map<string, Children>;
    try {
      added = await loadChildren(this.store, this.chainId, this.interest.added);
    } catch (error) {
      this.stale = true;
      throw error;
    }
    if (sameAddresses(added, this.addedNow)) return false;
    this.addedNow = added;
    return true;
  }

  /** The children a committed step created join their factories' children (one copy per factory and step: a step may create hundreds). */
  private addChildren(writes: NonNullable<FeedDelivery['writes']>): void {
    const changed = new Map<string, Map<string, ChildPosition>>();
    for (const write of writes) {
      const creation = creationOf(this.chainId, this.interest.factories, write);
      if (!creation) continue;
      let children = changed.get(creation.factory);
      if (!children) changed.set(creation.factory, (children = new Map(this.children.get(creation.factory))));
      children.set(creation.address, creation.position);
    }
    for (const [factory, children] of changed) this.children.set(factory, children);
  }
}
