import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import { ChainFollower, type CanonicalChange, type ChainNode } from '../../src/chain/ChainFollower.ts';
import type { ChainBlock } from '../../src/chain/types.ts';

/**
 * A node answering from a chain held in memory. `branch` names the chain a block belongs to, so a
 * reorg is a new branch from some height on. A fetch of a number in `blocked` waits until released.
 */
class FakeNode implements ChainNode {
  readonly chainId = 1n;
  readonly byNumber: ChainBlock[] = [];
  readonly byHash = new Map<string, ChainBlock>();
  readonly fetched: (bigint | 'latest')[] = [];
  private readonly blocked = new Map<bigint, Promise<void>>();

  extend(to: number, branch = 'a'): void {
    for (let n = this.byNumber.length; n <= to; n++) this.add(block(n, branch, this.byNumber[n - 1]?.hash ?? '0x'));
  }

  /** Replaces the chain from `from` on with a branch up to `to`. */
  reorg(from: number, to: number, branch: string): void {
    this.byNumber.length = from;
    for (let n = from; n <= to; n++) this.add(block(n, branch, this.byNumber[n - 1]!.hash));
  }

  head(n: number): ChainBlock {
    return { ...this.byNumber[n]! };
  }

  /** Makes fetches of block `n` wait; returns the release. */
  block(n: bigint): () => void {
    let release!: () => void;
    this.blocked.set(n, new Promise((resolve) => (release = resolve)));
    return () => {
      this.blocked.delete(n);
      release();
    };
  }

  async blockByNumber(number: bigint | 'latest'): Promise<ChainBlock> {
    this.fetched.push(number);
    if (number !== 'latest') await this.blocked.get(number);
    const found = number === 'latest' ? this.byNumber[this.byNumber.length - 1] : this.byNumber[Number(number)];
    if (!found) throw new Error(`no block ${number}`);
    return { ...found };
  }

  async blockByHash(hash: string): Promise<ChainBlock | null> {
    const found = this.byHash.get(hash);
    return found ? { ...found } : null;
  }

  private add(b: ChainBlock): void {
    this.byNumber.push(b);
    this.byHash.set(b.hash, b);
  }
}

const block = (n: number, branch: string, parentHash: string): ChainBlock => ({
  chainId: 1n,
  number: BigInt(n),
  hash: `0x${branch}${n}`,
  parentHash,
  timestamp: BigInt(n),
  logsBloom: '0x',
  transactionsRoot: '0x',
});

const follow = (node: FakeNode, windowBlocks = 2048) => {
  const changes: CanonicalChange[] = [];
  const follower = new ChainFollower(node, { windowBlocks, logger: pino({ level: 'silent' }), onChange: (change) => changes.push(change) });
  return { follower, changes };
};

const numbers = (blocks: ChainBlock[]) => blocks.map((b) => Number(b.number));

describe('ChainFollower.ingest', () => {
  test('behavior: heads arriving while a fetch is blocked coalesce into one, and the chain ends at the newest with every block in order', async () => {
    const node = new FakeNode();
    node.extend(1002);
    const { follower, changes } = follow(node);
    await follower.ingest(node.head(0));
    const release = node.block(1n);
    const ingested = [follower.ingest(node.head(2))];
    for (let n = 3; n <= 1002; n++) ingested.push(follower.ingest(node.head(n)));
    release();
    await Promise.all(ingested);

    expect(follower.tip?.hash).toBe(node.head(1002).hash);
    // Without coalescing every one of the 1,000 heads would be linked (and change the chain) in turn.
    expect(changes).toHaveLength(3);
    expect(changes.flatMap((c) => numbers(c.added))).toEqual(Array.from({ length: 1003 }, (_, n) => n));
    expect(changes.every((c) => c.abandoned.length === 0)).toBe(true);
    // Each block was fetched once: the waiting heads cost no fetches of their own.
    expect(node.fetched).toHaveLength(1000);
  });

  test('behavior: a waiting head replaced by a lower one (a lagging source) lets the node\'s latest decide', async () => {
    const node = new FakeNode();
    node.extend(10);
    const { follower, changes } = follow(node);
    await follower.ingest(node.head(0));
    const release = node.block(1n);
    const ingested = [follower.ingest(node.head(2)), follower.ingest(node.head(10)), follower.ingest(node.head(4))];
    release();
    await Promise.all(ingested);

    expect(follower.tip?.hash).toBe(node.head(10).hash);
    expect(changes.flatMap((c) => numbers(c.added))).toEqual(Array.from({ length: 11 }, (_, n) => n));
    expect(node.fetched).toContain('latest');
  });

  test('behavior: a reorg to a shorter chain arriving while a head waits is followed to the new branch', async () => {
    const node = new FakeNode();
    node.extend(6);
    const { follower, changes } = follow(node);
    await follower.ingest(node.head(0));
    const release = node.block(1n);
    const ingested = [follower.ingest(node.head(3)), follower.ingest(node.head(6))];
    const orphan = node.head(6);
    node.reorg(5, 5, 'b');
    ingested.push(follower.ingest(node.head(5)));
    release();
    await Promise.all(ingested);

    expect(follower.tip?.hash).toBe(node.head(5).hash);
    expect(await follower.isCanonical(6n, orphan.hash)).toBe(false);
    // The two waiting heads disagreed (5 is not above 6), so the node's latest was linked: the
    // abandoned 6 was never followed, and nothing had to be undone.
    expect(changes.map((c) => c.added.map((b) => b.hash))).toEqual([['0xa0'], ['0xa1', '0xa2', '0xa3'], ['0xa4', '0xb5']]);
    expect(changes.flatMap((c) => c.abandoned)).toEqual([]);
  });

  test('behavior: a head arriving after the queue drained is linked on its own', async () => {
    const node = new FakeNode();
    node.extend(2);
    const { follower, changes } = follow(node);
    await follower.ingest(node.head(0));
    await follower.ingest(node.head(1));
    await follower.ingest(node.head(2));
    expect(changes.map((c) => numbers(c.added))).toEqual([[0], [1], [2]]);
  });
});
