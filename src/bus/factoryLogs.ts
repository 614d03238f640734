import type { ChainBlock, ChainLog } from '../chain/types.ts';
import { FACTORY_ADDRESSES_PER_REQUEST } from '../limits/defaults.ts';
import type { ChainLogs } from './ChainLogs.ts';
import { afterCreation, childChunks, creationsIn, withCreations, type Children, type Creation } from './factoryChildren.ts';
import { mergeLogs } from './mergeLogs.ts';
import type { FactoryFilter } from './triggers.ts';

/** A factory trigger's share of a block or range: its children's logs, the children it created, and its creation logs that did not decode. */
export interface FactoryLogs {
  logs: ChainLog[];
  creations: Creation[];
  children: Children;
  undecodable: number;
}

/**
 * A factory trigger's logs of one block near the head: first the factory's creation logs of the block
 * (shared like any filter's), then the logs of every child, those created in this block included, so a
 * child's log after its creation log in the same block comes in the same step.
 */
export async function factoryBlockLogs(logs: ChainLogs, factory: FactoryFilter, known: Children, block: ChainBlock, perRequest = FACTORY_ADDRESSES_PER_REQUEST): Promise<FactoryLogs> {
  const { creations, undecodable } = creationsIn(await logs.blockLogs(factory.creation.key, factory.creation.filter, block), factory, known);
  const children = withCreations(known, creations);
  const chunks = childChunks(children, factory.topics, perRequest, block.number);
  const fetched = await Promise.all(chunks.map((c) => logs.blockLogs(c.key, c.filter, block)));
  return { logs: afterCreation(mergeLogs(fetched), children), creations, children, undecodable };
}

/**
 * A factory trigger's logs over a range of final blocks [from, end]: the creation logs of the range
 * first, then the children's logs in chunks of addresses, each chunk from its earliest child's
 * creation (see childChunks), merged in log order.
 */
export async function factoryRangeLogs(logs: ChainLogs, factory: FactoryFilter, known: Children, from: bigint, end: bigint, perRequest = FACTORY_ADDRESSES_PER_REQUEST): Promise<FactoryLogs> {
  const { creations, undecodable } = creationsIn(await logs.rangeLogs(factory.creation.key, factory.creation.filter, from, end), factory, known);
  const children = withCreations(known, creations);
  const chunks = childChunks(children, factory.topics, perRequest, from);
  const fetched = await Promise.all(chunks.map((c) => logs.rangeLogs(c.key, c.filter, c.from, end)));
  return { logs: afterCreation(mergeLogs(fetched), children), creations, children, undecodable };
}
