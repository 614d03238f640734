import type { ChainBlock } from '../../src/chain/types.ts';

/**
 * Headers of an in-memory chain, written as the tables write them: `a12` is block 12 of branch `a`,
 * its hash `0xa12`. `a10-a20` is a run, each block on the one before; `b18-b21/a17` is a branch whose
 * first block builds on `a17`. Without `/parent` a run's first block builds on its own branch.
 */
export function headers(spec: string): ChainBlock[] {
  if (spec === '') return [];
  const [run, parent] = spec.split('/');
  const [first, last = first] = run!.split('-');
  const branch = first!.replace(/[0-9]+$/, '');
  const from = Number(first!.slice(branch.length));
  const to = Number(last!.slice(branch.length));
  const blocks: ChainBlock[] = [];
  for (let n = from; n <= to; n++) blocks.push(header(`${branch}${n}`, n === from ? parent : undefined));
  return blocks;
}

/** One header: `id` as in `headers`, on `parent` (default: the block below on its own branch). */
export function header(id: string, parent?: string): ChainBlock {
  const branch = id.replace(/[0-9]+$/, '');
  const number = Number(id.slice(branch.length));
  return {
    chainId: 1n,
    number: BigInt(number),
    hash: `0x${id}`,
    parentHash: `0x${parent ?? `${branch}${number - 1}`}`,
    timestamp: BigInt(number),
    logsBloom: '0x',
    transactionsRoot: '0x',
  };
}

/** The ids of `blocks`, as the tables write them. */
export const ids = (blocks: readonly ChainBlock[]): string[] => blocks.map((b) => b.hash.slice(2));
