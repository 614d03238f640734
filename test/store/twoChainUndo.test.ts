import { afterEach, describe, expect, it } from 'vitest';
import type { JournalEntry } from '../../src/store/EngineStore.ts';
import type { GuardedModuleStore } from '../../src/store/GuardedModuleStore.ts';
import { backends, type Backend } from './backends.ts';
import { A, B, blockCommit, openChainStore, reopenChainStore, undoThroughInvocation, type ChainStore } from './twoChainStore.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (u: Uint8Array | undefined) => (u === undefined ? undefined : new TextDecoder().decode(u));
const K = enc('k');
/** a1 (block 10 of chain A) or b1 (block 500 of chain B). */
const blockOf = (chain: 'A' | 'B'): [bigint, bigint] => (chain === 'A' ? [A, 10n] : [B, 500n]);

/**
 * A module on two chains, as the engine builds its store (a backend's store, reorg marks, the guard), whose
 * blocks on both chains wrote the same key; each undo runs as the engine runs it: planned by the feed
 * from the journal and the marks, staged and committed by the invocation step.
 */
class TwoChains {
  private constructor(private readonly chains: ChainStore) {}

  static async open(backend: Backend, chainIds?: readonly bigint[]): Promise<TwoChains> {
    return new TwoChains(await openChainStore(await backend.open(), chainIds));
  }

  get store(): GuardedModuleStore {
    return this.chains.store;
  }

  get marks(): ChainStore['marks'] {
    return this.chains.marks;
  }

  /** Closes the database as a crash would leave it (every commit so far is durable) and opens it again. */
  async reopen(): Promise<TwoChains> {
    return new TwoChains(await reopenChainStore(this.chains));
  }

  close(): Promise<void> {
    return this.chains.backend.close();
  }

  get value(): string | undefined {
    return dec(this.store.getSync(K));
  }

  /** Block `number` of `chainId` writes k. */
  block(chainId: bigint, number: bigint, value: string): Promise<void> {
    return this.store.commit({ writes: [{ key: K, value: enc(value) }], sizeDelta: 0, ...blockCommit(chainId, number) });
  }

  /** A custom event writes k. */
  custom(value: string): Promise<void> {
    return this.store.commit({ writes: [{ key: K, value: enc(value) }], sizeDelta: 0, cursor: { source: 'custom', value: { seq: 1 } } });
  }

  /** The undo of block `number` of `chainId`, its journal entry read as a feed reads it when it rewinds. */
  async undoBlock(chainId: bigint, number: bigint): Promise<string[]> {
    return this.undo(chainId, await this.entry(chainId, number));
  }

  /** The journal entry of block `number` of `chainId`, as a feed reads it when it rewinds. */
  async entry(chainId: bigint, number: bigint): Promise<JournalEntry> {
    return (await this.store.journal(chainId)).find((e) => e.number === number)!;
  }

  /** The undo of `entry` as its feed plans it, through the invocation step to its commit; the keys its plan kept. */
  async undo(chainId: bigint, entry: JournalEntry): Promise<string[]> {
    const plan = await undoThroughInvocation(this.chains, chainId, entry);
    expect(await this.store.journal(chainId)).not.toContainEqual(expect.objectContaining({ number: entry.number }));
    return plan.kept.map((key) => dec(key)!);
  }
}

describe.each(backends)('undo on two chains that wrote the same key ($name)', (backend) => {
  let chains: TwoChains | undefined;
  afterEach(() => chains?.close());

  /** k = v0 (a custom event, before any block), then a1 on chain A writes va and b1 on chain B writes vb. */
  async function aThenB(): Promise<TwoChains> {
    chains = await TwoChains.open(backend);
    await chains.custom('v0');
    await chains.block(A, 10n, 'va');
    await chains.block(B, 500n, 'vb');
    return chains;
  }

  it('default: A undone first keeps b1\'s value while b1 stands; B undone next restores the value from before both', async () => {
    const c = await aThenB();
    expect(await c.undoBlock(A, 10n)).toEqual(['k']);
    expect(c.value).toBe('vb');
    expect(await c.undoBlock(B, 500n)).toEqual([]);
    expect(c.value).toBe('v0');
  });

  it('behavior: B undone first restores a1\'s value (a1 stands); A undone next restores the value from before both', async () => {
    const c = await aThenB();
    expect(await c.undoBlock(B, 500n)).toEqual([]);
    expect(c.value).toBe('va');
    expect(await c.undoBlock(A, 10n)).toEqual([]);
    expect(c.value).toBe('v0');
  });

  it.each([
    ['A', 'B'],
    ['B', 'A'],
  ] as const)('behavior: a crash between the undo of %s and the undo of %s loses nothing and applies nothing twice', async (first, second) => {
    let c = await aThenB();
    c = chains = await c.reopen(); // the marks name the blocks that caused them, across a restart too
    await c.undoBlock(...blockOf(first));
    const between = c.value;
    const bytes = c.store.storedBytes;
    c = chains = await c.reopen();
    expect(c.value).toBe(between);
    expect(c.store.storedBytes).toBe(bytes);
    await c.undoBlock(...blockOf(second));
    expect(c.value).toBe('v0');
  });

  it('behavior: a mark whose causing block went past the window (pruned, final) stays: undoing a1 keeps b1\'s value, after a restart too', async () => {
    let c = await aThenB();
    const record = { number: 600n, hash: '0x2600', prev: { number: 599n, hash: '0x2599' }, payload: [] };
    await c.store.commit({ writes: [], sizeDelta: 0, cursor: { source: 'chain:2', value: {} }, journal: { chainId: B, record, remove: [500n] } });
    expect(await c.undoBlock(A, 10n)).toEqual(['k']);
    expect(c.value).toBe('vb');
    await c.close();
    c = chains = await aThenB();
    await c.store.commit({ writes: [], sizeDelta: 0, cursor: { source: 'chain:2', value: {} }, journal: { chainId: B, record, remove: [500n] } });
    c = chains = await c.reopen();
    expect(await c.undoBlock(A, 10n)).toEqual(['k']);
    expect(c.value).toBe('vb');
  });

  it('behavior: an entry the feed read before the other chain\'s undo still restores the value from before both', async () => {
    const c = await aThenB();
    const b1 = await c.entry(B, 500n); // chain B's feed rewinds, and waits for its turn while chain A's undo commits
    await c.undoBlock(A, 10n);
    await c.undo(B, b1);
    expect(c.value).toBe('v0');
  });

  it.each([
    ['A', 'B'],
    ['B', 'A'],
  ] as const)('behavior: a custom event\'s write between a1 and b1 stands when %s then %s are undone', async (first, second) => {
    chains = await TwoChains.open(backend);
    const c = chains;
    await c.custom('v0');
    await c.block(A, 10n, 'va');
    await c.custom('vc');
    await c.block(B, 500n, 'vb');
    await c.undoBlock(...blockOf(first));
    await c.undoBlock(...blockOf(second));
    expect(c.value).toBe('vc');
  });

  it.each([
    ['A', 'B'],
    ['B', 'A'],
  ] as const)('behavior: a custom event\'s write after both blocks stands when %s then %s are undone, each keeping it', async (first, second) => {
    const c = await aThenB();
    await c.custom('vc');
    expect(await c.undoBlock(...blockOf(first))).toEqual(['k']);
    expect(await c.undoBlock(...blockOf(second))).toEqual(['k']);
    expect(c.value).toBe('vc');
  });

  it('behavior: a block of a third chain in between: every order of undo ends on the value from before them all', async () => {
    const orders = [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ];
    const blocks: [bigint, bigint][] = [
      [A, 10n],
      [B, 500n],
      [3n, 7n],
    ];
    for (const order of orders) {
      const c = await TwoChains.open(backend, [A, B, 3n]);
      try {
        await c.custom('v0');
        for (const [chainId, number] of blocks) await c.block(chainId, number, `v${chainId}`);
        for (const i of order) await c.undoBlock(...blocks[i]!);
        expect([order, c.value]).toEqual([order, 'v0']);
        const left: string[] = [];
        for await (const key of c.marks.keys({ limit: -1 })) left.push(dec(key)!);
        expect(left).toEqual(['k']); // no mark left behind
      } finally {
        await c.close();
      }
    }
  });
});
