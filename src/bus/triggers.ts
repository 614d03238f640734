import { createHash } from 'node:crypto';
import type { LogFilter } from '../chain/types.ts';
import { parseFactoryEvent, type FactoryEvent } from '../config/factoryEvent.ts';
import type { Trigger } from '../config/TriggerSchema.ts';

export type CronTrigger = Extract<Trigger, { kind: 'cron' }>;
export type BlockTrigger = Extract<Trigger, { kind: 'block' }>;
export type LogTrigger = Extract<Trigger, { kind: 'log' }>;

/** A module's chain triggers of one chain, with what they share: one cursor, one confirmation depth. */
export interface ChainInterest {
  chainId: bigint;
  confirmations: number;
  /** Deliver a block event for blocks divisible by `every` (none: no block events). */
  blocks: { every: number; latestOnly: boolean } | undefined;
  /** One filter per log trigger, deduplicated; `key` identifies the filter for sharing fetches. */
  filters: { key: string; filter: LogFilter }[];
  /** One per factory log trigger: its children's addresses are learned from the factory's events. */
  factories: FactoryFilter[];
  /** One per named log trigger: the addresses its module added at run time (see addedTriggers.ts). */
  added: AddedFilter[];
}

/** A named log trigger's addresses added at run time (`triggers.add-address`), kept like a factory's children. */
export interface AddedFilter {
  name: string;
  /** Names the address set in the module's state (16 hex digits, never a factory's id). */
  id: string;
  /** The manifest's addresses: always followed, never removed at run time. */
  static: readonly string[];
  /** The added addresses' logs: the trigger's topics. */
  topics: LogFilter['topics'];
}

/** The added-address set of the log trigger named `name`. */
export function addedOf(trigger: LogTrigger & { name: string }): AddedFilter {
  const id = createHash('sha256').update(`added/${trigger.name}`).digest('hex').slice(0, 16);
  const { filter } = filterOf({ ...trigger, address: undefined });
  return { name: trigger.name, id, static: trigger.address === undefined ? [] : [trigger.address as string | string[]].flat(), topics: filter.topics };
}

/** A log trigger whose addresses are the children a factory's events name (see docs/bus.md, "Factory triggers"). */
export interface FactoryFilter {
  /**
   * Names the child set in the module's state: the same for triggers of one factory, event and parameter
   * (whatever their topics), so they share their children, and topics can change across restarts.
   */
  id: string;
  event: FactoryEvent;
  /** The creation logs: the factory's address, topic 0 the event's selector. Never delivered for the factory trigger itself. */
  creation: { key: string; filter: LogFilter };
  /** The children's logs: the trigger's topics, at the children's addresses. */
  topics: LogFilter['topics'];
}

/** The factory filter of a log trigger whose `address` is a factory. */
export function factoryOf(trigger: FactoryTrigger): FactoryFilter {
  const { factory, event, parameter } = trigger.address;
  const parsed = parseFactoryEvent(event, parameter);
  const creation: LogFilter = { address: [factory], topics: [parsed.selector] };
  const id = createHash('sha256').update(`${factory}/${parsed.selector}/${parameter}`).digest('hex').slice(0, 16);
  return { id, event: parsed, creation: { key: JSON.stringify(creation), filter: creation }, topics: filterOf({ ...trigger, address: undefined }).filter.topics };
}

/** The `eth_getLogs` filter of a log trigger, and a key equal for equal filters. */
export function filterOf(trigger: LogTrigger): { key: string; filter: LogFilter } {
  // A factory's addresses are learned from the chain: its filter is factoryOf's, never "any contract".
  if (isFactoryTrigger(trigger)) throw new TypeError('filterOf: a factory trigger has no static filter (see factoryOf)');
  const address = trigger.address === undefined ? [] : [trigger.address as string | string[]].flat().sort();
  const topics = trigger.topics.map((t) => (Array.isArray(t) ? [...t].sort() : t));
  while (topics.length > 0 && topics[topics.length - 1] === null) topics.pop();
  const filter: LogFilter = { address, topics };
  return { key: JSON.stringify(filter), filter };
}

/**
 * Groups a module's chain triggers by chain; a trigger without `confirmations` takes its chain's
 * (`chainConfirmations`). The triggers of one chain must agree on confirmations:
 * a module's events of a chain arrive in block order behind one cursor, so they cannot wait for
 * different depths. Returns the problem as a string when they do not.
 */
export function chainInterests(triggers: readonly Trigger[], chainConfirmations: (chainId: number) => number = () => 0): ChainInterest[] | string {
  const byChain = new Map<number, ChainInterest>();
  for (const trigger of triggers) {
    if (!('chain' in trigger)) continue;
    const confirmations = trigger.confirmations ?? chainConfirmations(trigger.chain);
    let interest = byChain.get(trigger.chain);
    if (!interest) byChain.set(trigger.chain, (interest = { chainId: BigInt(trigger.chain), confirmations, blocks: undefined, filters: [], factories: [], added: [] }));
    if (interest.confirmations !== confirmations) {
      return `the triggers on chain ${trigger.chain} ask for ${interest.confirmations} and ${confirmations} confirmations; one module's triggers of one chain must agree`;
    }
    if (trigger.kind === 'block') {
      if (interest.blocks) return `two block triggers on chain ${trigger.chain}; declare one (its \`every\` picks the blocks)`;
      interest.blocks = { every: trigger.every, latestOnly: trigger.latestOnly };
    } else if (trigger.name !== undefined) {
      if (isFactoryTrigger(trigger)) return `the log trigger named "${trigger.name}" has a factory address: a factory's addresses come from its events, a name is for addresses added at run time`;
      if ([...byChain.values()].some((i) => i.added.some((a) => a.name === trigger.name))) return `two log triggers named "${trigger.name}"; a module's trigger names must differ`;
      const added = addedOf({ ...trigger, name: trigger.name });
      interest.added.push(added);
      // Without static addresses a named trigger follows only what is added: its filter is never "any contract".
      if (added.static.length > 0) {
        const filter = filterOf(trigger);
        if (!interest.filters.some((f) => f.key === filter.key)) interest.filters.push(filter);
      }
    } else if (isFactoryTrigger(trigger)) {
      const factory = factoryOf(trigger);
      if (!interest.factories.some((f) => f.id === factory.id && JSON.stringify(f.topics) === JSON.stringify(factory.topics))) interest.factories.push(factory);
    } else {
      const filter = filterOf(trigger);
      if (!interest.filters.some((f) => f.key === filter.key)) interest.filters.push(filter);
    }
  }
  for (const interest of byChain.values()) {
    if (interest.blocks?.latestOnly && interest.filters.length + interest.factories.length + interest.added.length > 0) {
      return `chain ${interest.chainId}: a latestOnly block trigger skips blocks, so it cannot share a module with log triggers that must see every block`;
    }
  }
  return [...byChain.values()];
}

/** A log trigger whose `address` is a factory. */
export type FactoryTrigger = LogTrigger & { address: Extract<LogTrigger['address'], { factory: string }> };

export function isFactoryTrigger(trigger: LogTrigger): trigger is FactoryTrigger {
  return typeof trigger.address === 'object' && !Array.isArray(trigger.address);
}
