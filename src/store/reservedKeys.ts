import { createHash } from 'node:crypto';
import { concatBytes } from './copyBytes.ts';
import type { Bytes } from './EngineStore.ts';
import { prefixEnd } from './StateTransaction.ts';

/**
 * The layout of corral's own records, in one place: the jobs, timers and cron ticks of a running
 * engine (src/jobs), the host that stages them (src/host) and `corral inspect` (src/cli) all read
 * and write through these builders and parsers, never a copy of the layout.
 *
 * Keys that start with `RESERVED_PREFIX` (0xff 0x00 "corral/") are corral's, kept among the module's
 * state so that they commit, roll back and undo on reorgs with it. A module can neither read, write nor
 * list them; any other key, 0xff-first binary keys included, is the module's. Under the prefix:
 *
 * - `timer/<tag>` → a timer's spec; `timer-at/<at>/<tag>` and `timer-blk/<chain>/<block>/<tag>` → the
 *   same spec, in the order timers fall due (numbers as 16 hex digits); `timer-count` → how many are pending.
 * - `cron/<name>` → a cron trigger's last handled tick (epoch ms, decimal).
 * - `job/<id>` → a pending task; `dead/<id>` → a dead-lettered one; `dedupe/<sha256 hex>` → `{ id, until }`.
 * - `child/<chain>/<factory>/<address>` → a factory trigger's child (src/bus/factoryChildren.ts): where it
 *   was created, `<block>:<log index>` (decimal); `<factory>` is the trigger's id (16 hex digits).
 *   A named log trigger's addresses added at run time (src/host/triggers.ts) are kept the same way under
 *   its own id, `<block>` the step that added it and `<log index>` 2^53 − 1 (after every log of the block).
 * - `reorg/<chain>/<block>/<key>` → a reorg mark (src/store/ReorgMarks.ts): the sources that wrote the key
 *   after that block did (numbers as 16 hex digits).
 *
 * - `msg-out/<to>/<seq>` → a message this module sent to module `to` (its outbox, src/host/messages.ts);
 *   `msg-seq/<to>` → the last sequence number it gave one (decimal; never taken back by a reorg's undo).
 * - `dead-msg/<from>/<seq>` → a message of module `from` this module's steps failed on past their retries
 *   (src/engine/MessageFeed.ts), as JSON: payload, correlation id, runs, last signal, when.
 *
 * Cursors are kept apart from the module's keys, by source: `chain:<id>`, `custom`, or `msg:<sender>`.
 */
export const RESERVED_PREFIX: Bytes = Uint8Array.from([0xff, 0x00, ...Buffer.from('corral/')]);

/** The reserved range, as a listing of the module's own keys skips it. */
export const RESERVED_RANGE: { from: Bytes; to: Bytes } = { from: RESERVED_PREFIX, to: prefixEnd(RESERVED_PREFIX)! };

export function isReserved(key: Bytes): boolean {
  return startsWith(key, RESERVED_PREFIX);
}

export function startsWith(key: Bytes, prefix: Bytes): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

/** The rest of `key` after `prefix` (UTF-8), or undefined when it does not start with it. */
export function suffixOf(key: Bytes, prefix: Bytes): string | undefined {
  return startsWith(key, prefix) ? Buffer.from(key.buffer, key.byteOffset + prefix.length, key.byteLength - prefix.length).toString('utf8') : undefined;
}

/** The key just past every key with `prefix` (its last byte, '/', plus one). */
export function prefixLimit(prefix: Bytes): Bytes {
  const end = Uint8Array.from(prefix);
  end[end.length - 1]!++;
  return end;
}

const reserved = (name: string): Bytes => concatBytes(RESERVED_PREFIX, name);
// A task's key is built for every task enqueued and every run: no spread through a JS array.
const withText = (prefix: Bytes, text: string): Bytes => concatBytes(prefix, text);
const hex16 = (n: bigint | number) => BigInt(n).toString(16).padStart(16, '0');

/** Timers by tag. */
export const TIMER_PREFIX = reserved('timer/');
/** Just past `TIMER_PREFIX` ('0' follows '/'). */
export const TIMER_PREFIX_END = reserved('timer0');
/** The index of time timers, by due time then tag. */
export const AT_PREFIX = reserved('timer-at/');
/** The index of block timers, by chain, block, then tag. */
export const BLOCK_PREFIX = reserved('timer-blk/');
/** How many timers are pending: the cap is checked against it without a scan. */
export const TIMER_COUNT_KEY = reserved('timer-count');

/** The key of a module's timer with this tag. */
export const timerKey = (tag: string): Bytes => withText(TIMER_PREFIX, tag);

/** The tag of a timer's key, or undefined for a key that is not one. */
export const tagOfTimerKey = (key: Bytes): string | undefined => suffixOf(key, TIMER_PREFIX);

/** The index key of a time timer: sorts by due time, then tag. */
export const atIndexKey = (at: number, tag: string): Bytes => withText(AT_PREFIX, `${hex16(at)}/${tag}`);

/** The index key of a block timer: sorts by chain, then block, then tag. */
export const blockIndexKey = (chain: bigint, block: bigint, tag: string): Bytes => withText(BLOCK_PREFIX, `${hex16(chain)}/${hex16(block)}/${tag}`);

/** The tag of an index key (after its prefix and numbers). */
export function tagOfIndexKey(key: Bytes): string | undefined {
  const prefix = startsWith(key, AT_PREFIX) ? AT_PREFIX : startsWith(key, BLOCK_PREFIX) ? BLOCK_PREFIX : undefined;
  if (!prefix) return undefined;
  const skip = prefix === AT_PREFIX ? 17 : 34; // "<16 hex>/" once or twice
  return Buffer.from(key.subarray(prefix.length + skip)).toString('utf8');
}

/** Cron triggers' last handled ticks, by trigger name. */
export const CRON_PREFIX = reserved('cron/');

/** The key of a cron trigger's last handled tick. */
export const cronKey = (name: string): Bytes => withText(CRON_PREFIX, name);

/** Reorg marks, by chain, block, then the module's key. */
export const REORG_PREFIX = reserved('reorg/');

/** The key of the mark on `key` for block `block` of `chain`. */
export const reorgMarkKey = (chain: bigint, block: bigint, key: Bytes): Bytes => concatBytes(REORG_PREFIX, `${hex16(chain)}/${hex16(block)}/`, key);

/** Pending tasks. */
export const JOB_PREFIX = reserved('job/');
/** Dead-lettered tasks. */
export const DEAD_PREFIX = reserved('dead/');
/** Deduplication entries (unique-for, idempotency keys): `{ id, until }`. */
export const DEDUPE_PREFIX = reserved('dedupe/');

export const jobKey = (id: string): Bytes => withText(JOB_PREFIX, id);
export const deadKey = (id: string): Bytes => withText(DEAD_PREFIX, id);

/** The deduplication key of a unique-for task (type + payload) or of an idempotency key. */
export function dedupeKey(kind: 'unique' | 'idempotency', ...parts: string[]): Bytes {
  return withText(DEDUPE_PREFIX, createHash('sha256').update([kind, ...parts].join('\u0000')).digest('hex'));
}

/** The cursor source of embedder events. */
export const CUSTOM_SOURCE = 'custom';

/** The cursor source of a chain's events. */
export const chainSource = (chainId: bigint | number | string): string => `chain:${chainId}`;

/** The chain a cursor source names, or undefined for another source. */
export const chainOfSource = (source: string): bigint | undefined => (source.startsWith('chain:') ? BigInt(source.slice('chain:'.length)) : undefined);

/**
 * A shadow run's report (src/engine/ModuleShadow.ts): the candidate and its first differences, as JSON.
 * Written in a commit of its own, never with a step's, so `corral inspect` shows it after a stop.
 */
export const SHADOW_REPORT_KEY = reserved('shadow/report');
/** Children of factory triggers, by chain, factory id, then address. */
export const CHILD_PREFIX = reserved('child/');

/** The prefix of one factory trigger's children on `chain`. */
export const childPrefix = (chain: bigint, factory: string): Bytes => withText(CHILD_PREFIX, `${hex16(chain)}/${factory}/`);
/** Outboxes of messages to other modules, by receiver then sequence number. */
export const MSG_OUT_PREFIX = reserved('msg-out/');
/** The last sequence number given to a message, by receiver. */
export const MSG_SEQ_PREFIX = reserved('msg-seq/');

/** The outbox of messages to `to`: every key of it starts so. */
export const outboxPrefix = (to: string): Bytes => withText(MSG_OUT_PREFIX, `${to}/`);

/** The outbox key of message `seq` to `to`: sorts by receiver, then sequence number. */
export const outboxKey = (to: string, seq: bigint | number): Bytes => withText(MSG_OUT_PREFIX, `${to}/${hex16(seq)}`);

/** The receiver and sequence number of an outbox key, or undefined for a key that is not one. */
export function parseOutboxKey(key: Bytes): { to: string; seq: bigint } | undefined {
  const rest = suffixOf(key, MSG_OUT_PREFIX);
  const slash = rest?.lastIndexOf('/') ?? -1;
  if (rest === undefined || slash < 0) return undefined;
  return { to: rest.slice(0, slash), seq: BigInt(`0x${rest.slice(slash + 1)}`) };
}

/** The key of the last sequence number given to a message to `to`. */
export const messageSeqKey = (to: string): Bytes => withText(MSG_SEQ_PREFIX, to);

/** The cursor source of messages from module `from`. */
export const messageSource = (from: string): string => `msg:${from}`;

/** Dead-lettered messages this module received, by sender then sequence number. */
export const DEAD_MSG_PREFIX = reserved('dead-msg/');

/** The key of the dead letter of message `seq` from `from`: sorts by sender, then sequence number. */
export const deadMessageKey = (from: string, seq: bigint | number): Bytes => withText(DEAD_MSG_PREFIX, `${from}/${hex16(seq)}`);
