import { createHash } from 'node:crypto';
import { decodeEventLog, type Hex } from 'viem';
import type { ChainLog, LogFilter } from '../chain/types.ts';
import type { Bytes, ModuleStore } from '../store/EngineStore.ts';
import { childPrefix, prefixLimit, suffixOf } from '../store/reservedKeys.ts';
import type { FactoryFilter } from './triggers.ts';

/** Where a child was created: the block and log index of the factory's event that named it. */
export interface ChildPosition {
  block: bigint;
  logIndex: number;
}

/** One factory trigger's children: address (lower-case) → where it was created. */
export type Children = ReadonlyMap<string, ChildPosition>;

/** A child a step learned, as it commits with the step (a reserved key: undone with the step's block). */
export interface Creation {
  factory: string;
  address: string;
  position: ChildPosition;
}

/** A reserved write a feed commits with a step. */
export interface FeedWrite {
  key: Bytes;
  value: Bytes;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The key and value of a creation in the module's state. */
export function creationWrite(chainId: bigint, creation: Creation): FeedWrite {
  return { key: Uint8Array.from([...childPrefix(chainId, creation.factory), ...encoder.encode(creation.address)]), value: encoder.encode(`${creation.position.block}:${creation.position.logIndex}`) };
}

/** A creation back from its write, or undefined for a write that is not one of `factories`' children. */
export function creationOf(chainId: bigint, factories: readonly FactoryFilter[], write: FeedWrite): Creation | undefined {
  for (const { id } of factories) {
    const address = suffixOf(write.key, childPrefix(chainId, id));
    if (address !== undefined) return { factory: id, address, position: parsePosition(decoder.decode(write.value)) };
  }
  return undefined;
}

function parsePosition(text: string): ChildPosition {
  const [block, logIndex] = text.split(':');
  return { block: BigInt(block!), logIndex: Number(logIndex) };
}

/**
 * Every factory's children (or named trigger's added addresses) as the module's committed state has
 * them (on start, and after an undo took some back).
 */
export async function loadChildren(store: Pick<ModuleStore, 'keys' | 'get'>, chainId: bigint, factories: readonly { id: string }[]): Promise<Map<string, Map<string, ChildPosition>>> {
  const all = new Map<string, Map<string, ChildPosition>>();
  for (const { id } of factories) {
    if (all.has(id)) continue;
    const prefix = childPrefix(chainId, id);
    const children = new Map<string, ChildPosition>();
    for await (const key of store.keys({ gte: prefix, lt: prefixLimit(prefix), limit: -1 })) {
      const value = await store.get(key);
      if (value) children.set(suffixOf(key, prefix)!, parsePosition(decoder.decode(value)));
    }
    all.set(id, children);
  }
  return all;
}

/**
 * The children the factory's creation logs name that `known` does not have yet, in log order (the
 * first creation of an address counts; a later one names a child already followed). A log that does not
 * decode as the declared event (another event with the same selector, a different `indexed` layout) is
 * counted in `undecodable` and names no child.
 */
export function creationsIn(logs: readonly ChainLog[], factory: FactoryFilter, known: Children): { creations: Creation[]; undecodable: number } {
  const creations: Creation[] = [];
  const seen = new Set<string>();
  let undecodable = 0;
  for (const log of logs) {
    const address = childIn(log, factory);
    if (address === undefined) {
      undecodable++;
      continue;
    }
    if (known.has(address) || seen.has(address)) continue;
    seen.add(address);
    creations.push({ factory: factory.id, address, position: { block: log.blockNumber, logIndex: log.logIndex } });
  }
  return { creations, undecodable };
}

/**
 * The child a creation log names, or undefined when it does not decode as the event. Where the address
 * has a fixed place (see FactoryEvent.slot) it is read from there (viem's full decode cost ~50–180 µs a
 * log on this machine: most of a 1,000-child backfill's overhead); otherwise decoded with viem.
 */
function childIn(log: ChainLog, factory: FactoryFilter): string | undefined {
  const { slot, abi, parameter } = factory.event;
  if (slot) {
    if (log.topics.length !== slot.topics) return undefined;
    const word = 'topic' in slot ? log.topics[slot.topic]!.slice(2) : log.data.slice(2 + 64 * slot.word, 2 + 64 * (slot.word + 1));
    // A well-formed address word: 64 hex digits, the first 24 of them zero.
    return word.length === 64 && /^0{24}[0-9a-fA-F]{40}$/.test(word) ? `0x${word.slice(24).toLowerCase()}` : undefined;
  }
  try {
    const { args } = decodeEventLog({ abi: [abi], data: log.data as Hex, topics: log.topics as [Hex, ...Hex[]], strict: true });
    return String((args as Record<string, unknown>)[parameter]).toLowerCase();
  } catch {
    return undefined;
  }
}

/** `known` with `creations` of the same factory added. */
export function withCreations(known: Children, creations: readonly Creation[]): Children {
  if (creations.length === 0) return known;
  const next = new Map(known);
  for (const c of creations) if (!next.has(c.address)) next.set(c.address, c.position);
  return next;
}

/**
 * The children's filters of one request each: at most `perRequest` addresses, the children created
 * earliest first, each chunk asked from its earliest child's creation block (or `from`, if later), so
 * a child created inside a range is not asked for blocks before it.
 */
export function childChunks(children: Children, topics: LogFilter['topics'], perRequest: number, from: bigint): { key: string; filter: LogFilter; from: bigint }[] {
  const sorted = [...children].sort(([, a], [, b]) => (a.block < b.block ? -1 : a.block > b.block ? 1 : a.logIndex - b.logIndex));
  const chunks: { key: string; filter: LogFilter; from: bigint }[] = [];
  for (let i = 0; i < sorted.length; i += perRequest) {
    const part = sorted.slice(i, i + perRequest);
    const filter: LogFilter = { address: part.map(([address]) => address).sort(), topics };
    const earliest = part[0]![1].block;
    // The key names the chunk in the shared fetches and the recent answers: a digest, not 500 addresses.
    const key = `children:${createHash('sha256').update(JSON.stringify(filter)).digest('hex')}`;
    chunks.push({ key, filter, from: earliest > from ? earliest : from });
  }
  return chunks;
}

/** The logs of children emitted after their creation (a log at or before its creation log is not the child's to deliver). */
export function afterCreation(logs: readonly ChainLog[], children: Children): ChainLog[] {
  return logs.filter((log) => {
    const created = children.get(log.address.toLowerCase());
    return created !== undefined && (log.blockNumber > created.block || (log.blockNumber === created.block && log.logIndex > created.logIndex));
  });
}
