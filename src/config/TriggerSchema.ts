import { Cron } from 'croner';
import { z } from 'zod';
import { factoryEventProblem } from './factoryEvent.ts';
import { DEFAULT_MESSAGES } from '../limits/defaults.ts';

const chainId = z.number().int().positive();
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'a 20-byte hex address').transform((a) => a.toLowerCase());
/**
 * A factory: the children whose addresses the factory's `event` names in its `parameter` (an `address`
 * parameter, indexed or not), each followed from the log that created it. See docs/bus.md, "Factory triggers".
 */
const factory = z
  .object({
    /** The contract that emits the creation events. */
    factory: address,
    /** The event's Solidity declaration, with `indexed` where it is, e.g. `PoolCreated(address indexed token0, …, address pool)`. */
    event: z.string().min(1).max(1_000),
    /** The name of the event's `address` parameter that names the child. */
    parameter: z.string().min(1).max(128),
  })
  .strict()
  .superRefine((spec, context) => {
    const problem = factoryEventProblem(spec.event, spec.parameter);
    if (problem) context.addIssue({ code: z.ZodIssueCode.custom, message: problem.message, path: [problem.field] });
  });
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
      /** The eth_getLogs filter shape: one address or a list (none: any contract); or a factory whose events name the addresses. */
      address: z.union([address, z.array(address), factory]).optional(),
      /** Per position: null (any), one topic, or a list of alternatives. */
      topics: z.array(z.union([topic, z.array(topic).min(1), z.null()])).max(4).default([]),
      confirmations,
      /**
       * Names the trigger for `triggers.add-address` / `remove-address`: the module may then follow more
       * addresses at run time (see docs/bus.md, "Addresses added at run time"). A named trigger without
       * `address` follows only the addresses added, never "any contract". Not on a factory trigger.
       */
      name: z.string().min(1).max(128).optional(),
    })
    .strict(),
  z.object({ kind: z.literal('custom'), topic: z.string().min(1) }).strict(),
  z
    .object({
      kind: z.literal('messages'),
      /** The modules it takes messages from; each must grant it (`grants.messages`). */
      from: z.array(z.string().min(1)).min(1),
      /** Messages of one sender it may have pending before that sender's sends answer `limit("inbox-full")`. */
      inbox: z.number().int().positive().max(1_000_000).default(DEFAULT_MESSAGES.inbox),
    })
    .strict(),
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
