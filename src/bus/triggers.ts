import { Cron } from 'croner';
import { z } from 'zod';
import type { LogFilter } from '../chain/types.ts';

const chainId = z.number().int().positive();
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'a 20-byte hex address').transform((a) => a.toLowerCase());
const topic = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'a 32-byte hex topic').transform((t) => t.toLowerCase());
/** Blocks a trigger's events wait below the head before delivery. Default: the chain's `confirmations` (0: at once). */
const confirmations = z.number().int().min(0).max(1_000).optional();

/** What wakes a module, as its manifest declares it. */
export const TriggerSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('block'),
      chain: chainId,
      /** Every N-th block (numbers divisible by N). Default 1: every block. */
      every: z.number().int().positive().default(1),
      confirmations,
      /**
       * Only the newest block matters (e.g. a price poller): a module behind the head skips to it
       * instead of catching up. Without it, no block a cursor passes is ever skipped.
       */
      latestOnly: z.boolean().default(false),
    })
    .strict(),
  z
    .object({
      kind: z.literal('log'),
      chain: chainId,
      /** The eth_getLogs filter shape: one address or a list (none: any contract). */
      address: z.union([address, z.array(address)]).optional(),
      /** Per position: null (any), one topic, or a list of alternatives. */
      topics: z.array(z.union([topic, z.array(topic).min(1), z.null()])).max(4).default([]),
      confirmations,
    })
    .strict(),
  z.object({ kind: z.literal('custom'), topic: z.string().min(1) }).strict(),
  z
    .object({
      kind: z.literal('cron'),
      /** A 5-field (minute first) or 6-field (seconds first) cron expression, as croner reads it. */
      schedule: z.string().refine(validCron, { message: 'a cron expression of 5 or 6 fields (e.g. "*/5 * * * *")' }),
      /** IANA time zone of the expression (default UTC). */
      timezone: z.string().refine(validTimeZone, { message: 'an IANA time zone (e.g. "Europe/Zurich")' }).optional(),
      /** What `schedule` events of this trigger carry, and the key of its last tick. Default: the expression. */
      name: z.string().min(1).max(128).optional(),
    })
    .strict(),
]);

function validCron(expression: string): boolean {
  try {
    new Cron(expression, { paused: true });
    return true;
  } catch {
    return false;
  }
}

function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export type Trigger = z.output<typeof TriggerSchema>;
export type CronTrigger = Extract<Trigger, { kind: 'cron' }>;

/** The chains a module's triggers follow (block and log triggers). */
export function triggerChains(triggers: readonly Trigger[]): bigint[] {
  return [...new Set(triggers.flatMap((t) => ('chain' in t ? [BigInt(t.chain)] : [])))];
}
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
