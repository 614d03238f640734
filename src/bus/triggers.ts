import type { LogFilter } from '../chain/types.ts';
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
}

/** The `eth_getLogs` filter of a log trigger, and a key equal for equal filters. */
export function filterOf(trigger: LogTrigger): { key: string; filter: LogFilter } {
  const address = trigger.address === undefined ? [] : [trigger.address].flat().sort();
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
    if (!interest) byChain.set(trigger.chain, (interest = { chainId: BigInt(trigger.chain), confirmations, blocks: undefined, filters: [] }));
    if (interest.confirmations !== confirmations) {
      return `the triggers on chain ${trigger.chain} ask for ${interest.confirmations} and ${confirmations} confirmations; one module's triggers of one chain must agree`;
    }
    if (trigger.kind === 'block') {
      if (interest.blocks) return `two block triggers on chain ${trigger.chain}; declare one (its \`every\` picks the blocks)`;
      interest.blocks = { every: trigger.every, latestOnly: trigger.latestOnly };
    } else {
      const filter = filterOf(trigger);
      if (!interest.filters.some((f) => f.key === filter.key)) interest.filters.push(filter);
    }
  }
  for (const interest of byChain.values()) {
    if (interest.blocks?.latestOnly && interest.filters.length > 0) {
      return `chain ${interest.chainId}: a latestOnly block trigger skips blocks, so it cannot share a module with log triggers that must see every block`;
    }
  }
  return [...byChain.values()];
}
