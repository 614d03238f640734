import { afterEach, describe, expect, it } from 'vitest';
import { countOf, indexKey, removeTimerWrites, setTimerWrites, type TimerSpec } from '../../src/jobs/timerWrites.ts';
import type { Commit } from '../../src/store/EngineStore.ts';
import type { GuardedModuleStore } from '../../src/store/GuardedModuleStore.ts';
import { tagOfTimerKey, TIMER_COUNT_KEY, TIMER_PREFIX, TIMER_PREFIX_END, timerKey } from '../../src/store/reservedKeys.ts';
import { StateTransaction } from '../../src/store/StateTransaction.ts';
import { backends, type Backend } from '../store/backends.ts';
import { A, B, blockCommit, openChainStore, reopenChainStore, undoThroughInvocation, type ChainStore } from '../store/twoChainStore.ts';

const BLOCKS: Record<'A' | 'B', [bigint, bigint]> = { A: [A, 10n], B: [B, 500n] };

/** A timer change as the timers host stages it: set (with a spec) or cancel. */
type Change = [tag: string, spec: TimerSpec | 'cancel'];

/**
 * A module on two chains as the engine builds its store (a backend's store, reorg marks, the guard), whose blocks
 * and custom events set and cancel timers as the timers host does; each undo runs as the engine runs
 * it, planned from the journal and the marks, staged and committed by the invocation step.
 */
class TimerChains {
  private constructor(private readonly chains: ChainStore) {}

  static async open(backend: Backend): Promise<TimerChains> {
    return new TimerChains(await openChainStore(await backend.open()));
  }

  get store(): GuardedModuleStore {
    return this.chains.store;
  }

  /** Closes the database as a crash would leave it (every commit so far is durable) and opens it again. */
  async reopen(): Promise<TimerChains> {
    return new TimerChains(await reopenChainStore(this.chains));
  }

  close(): Promise<void> {
    return this.chains.backend.close();
  }

  /** Block `number` of `chainId` makes `changes`. */
  block([chainId, number]: [bigint, bigint], ...changes: Change[]): Promise<void> {
    return this.commit(changes, blockCommit(chainId, number));
  }

  /** A custom event makes `changes`. */
  custom(...changes: Change[]): Promise<void> {
    return this.commit(changes, { cursor: { source: 'custom', value: { seq: 1 } } });
  }

  /** The undo of block `number` of `chainId`, as its feed plans it, through the invocation step to its commit. */
  async undo([chainId, number]: [bigint, bigint]): Promise<void> {
    const entry = (await this.store.journal(chainId)).find((e) => e.number === number)!;
    await undoThroughInvocation(this.chains, chainId, entry);
  }

  /**
   * The stored count, the timers by tag, and how many timers lack their index entry (they would never
   * fire). An index entry that is not its timer's may stand between two undos (see timerRestores).
   */
  async timers(): Promise<{ count: number; tags: string[]; unindexed: number }> {
    const tags: string[] = [];
    for await (const key of this.store.keys({ gte: TIMER_PREFIX, lt: TIMER_PREFIX_END, limit: -1 })) tags.push(tagOfTimerKey(key)!);
    const unindexed = tags.filter((tag) => {
      const value = this.store.getSync(timerKey(tag))!;
      const entry = this.store.getSync(indexKey(tag, JSON.parse(Buffer.from(value).toString()) as TimerSpec));
      return entry === undefined || Buffer.compare(entry, value) !== 0;
    });
    return { count: countOf(this.store.getSync(TIMER_COUNT_KEY)), tags: tags.sort(), unindexed: unindexed.length };
  }

  private async commit(changes: Change[], commit: Omit<Commit, 'writes' | 'sizeDelta'>): Promise<void> {
    const tx = new StateTransaction(this.store);
    for (const [tag, spec] of changes) {
      const previous = tx.get(timerKey(tag));
      const count = countOf(tx.get(TIMER_COUNT_KEY));
      const writes = spec === 'cancel' ? (previous ? removeTimerWrites(tag, previous, count) : []) : setTimerWrites(tag, spec, previous, count);
      for (const { key, value } of writes) {
        if (value === null) tx.delete(key);
        else tx.set(key, value);
      }
    }
    await this.store.commit({ ...commit, writes: tx.writes(), sizeDelta: tx.sizeDelta });
  }
}

const T1 = { at: 1_000 };
const T2 = { at: 2_000 };
const T3 = { at: 3_000 };

/**
 * Histories in which blocks of two chains and custom events set, move and cancel timers, each with the
 * timers that stand once both blocks are undone: the custom events' and those from before the blocks.
 */
const histories: { name: string; run: (c: TimerChains) => Promise<void>; left: string[] }[] = [
  {
    name: 'each block sets a timer, custom events set theirs in between and after',
    run: async (c) => {
      await c.custom(['c0', T1]);
      await c.block(BLOCKS.A, ['a', T1]);
      await c.custom(['c1', T2]);
      await c.block(BLOCKS.B, ['b', T2]);
      await c.custom(['c2', T3]);
    },
    left: ['c0', 'c1', 'c2'],
  },
  {
    name: "a block sets a timer, the other chain's block moves it, a custom event sets another",
    run: async (c) => {
      await c.block(BLOCKS.A, ['x', T1]);
      await c.block(BLOCKS.B, ['x', T2]);
      await c.custom(['c', T3]);
    },
    left: ['c'],
  },
  {
    name: "a block cancels a timer set before it, the other chain's block sets it again, a custom event moves another",
    run: async (c) => {
      await c.custom(['p', T1], ['q', T1]);
      await c.block(BLOCKS.A, ['p', 'cancel']);
      await c.block(BLOCKS.B, ['p', T2]);
      await c.custom(['q', T3]);
    },
    left: ['p', 'q'],
  },
  {
    name: 'a block sets a timer a custom event then cancels, and the other chain\'s block sets the same tag again',
    run: async (c) => {
      await c.block(BLOCKS.A, ['y', T1]);
      await c.custom(['y', 'cancel']);
      await c.block(BLOCKS.B, ['y', T2]);
    },
    left: [],
  },
];

describe.each(backends)('timers undone on two chains: the count equals the timers after every undo ($name)', (backend) => {
  let chains: TimerChains | undefined;
  afterEach(() => chains?.close());

  for (const { name, run, left } of histories) {
    for (const order of [['A', 'B'], ['B', 'A']] as const) {
      for (const crash of [false, true]) {
        it(`behavior: ${name}; ${order.join(' then ')} undone${crash ? ', a crash in between' : ''}`, async () => {
          let c = (chains = await TimerChains.open(backend));
          await run(c);
          const before = await c.timers();
          expect(before).toMatchObject({ count: before.tags.length, unindexed: 0 });
          await c.undo(BLOCKS[order[0]]);
          const between = await c.timers();
          expect(between).toMatchObject({ count: between.tags.length, unindexed: 0 });
          if (crash) c = chains = await c.reopen();
          await c.undo(BLOCKS[order[1]]);
          expect(await c.timers()).toEqual({ count: left.length, tags: left, unindexed: 0 });
        });
      }
    }
  }
});
