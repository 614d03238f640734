import type { ChainBlock, ChainLog } from '../chain/types.ts';
import { FACTORY_ADDRESSES_PER_REQUEST } from '../limits/defaults.ts';
import type { ChainLogs } from './ChainLogs.ts';
import { afterCreation, childChunks, type Children } from './factoryChildren.ts';
import { mergeLogs } from './mergeLogs.ts';
import type { AddedFilter } from './triggers.ts';

/*
 * A named trigger's added addresses are kept like a factory's children (address → the position they
 * count after: the end of the step that added them), so their logs are fetched the same way, in chunks
 * of addresses each from its earliest addition, and only logs after the addition are delivered.
 */

/** The logs of a named trigger's added addresses in one block near the head. */
export async function addedBlockLogs(logs: ChainLogs, added: AddedFilter, addresses: Children, block: ChainBlock, perRequest = FACTORY_ADDRESSES_PER_REQUEST): Promise<ChainLog[]> {
  if (addresses.size === 0) return [];
  const chunks = childChunks(addresses, added.topics, perRequest, block.number);
  return afterCreation(mergeLogs(await Promise.all(chunks.map((c) => logs.blockLogs(c.key, c.filter, block)))), addresses);
}

/** The logs of a named trigger's added addresses over a range of final blocks [from, end]. */
export async function addedRangeLogs(logs: ChainLogs, added: AddedFilter, addresses: Children, from: bigint, end: bigint, perRequest = FACTORY_ADDRESSES_PER_REQUEST): Promise<ChainLog[]> {
  if (addresses.size === 0) return [];
  const chunks = childChunks(addresses, added.topics, perRequest, from);
  return afterCreation(mergeLogs(await Promise.all(chunks.map((c) => logs.rangeLogs(c.key, c.filter, c.from, end)))), addresses);
}

/** Whether two loads of the added addresses hold the same addresses at the same positions. */
export function sameAddresses(a: ReadonlyMap<string, Children>, b: ReadonlyMap<string, Children>): boolean {
  if (a.size !== b.size) return false;
  for (const [id, children] of a) {
    const other = b.get(id);
    if (!other || other.size !== children.size) return false;
    for (const [address, position] of children) {
      const p = other.get(address);
      if (!p || p.block !== position.block || p.logIndex !== position.logIndex) return false;
    }
  }
  return true;
}
