import type { Logger } from 'pino';
import type { ChainFollower } from '../chain/ChainFollower.ts';
import { RpcDataError } from '../chain/RpcDataError.ts';
import type { BlockCursor, ChainBlock } from '../chain/types.ts';
import { backoffDelay } from '../clock/backoff.ts';
import { EngineError } from '../errors/EngineError.ts';
import { CATCH_UP_STEP_EVENTS, FEED_RETRY, PREFETCH_RANGES } from '../limits/defaults.ts';
import type { Bytes, ModuleStore } from '../store/EngineStore.ts';
import { planUndo } from '../store/planUndo.ts';
import { blocksEvery } from './blocksEvery.ts';
import { catchUpSteps } from './catchUpSteps.ts';
import type { ChainLogs } from './ChainLogs.ts';
import { addedBlockLogs, addedRangeLogs } from './addedLogs.ts';
import { continuesCursor } from './continuesCursor.ts';
import { cursorFromJson, type CursorJson } from './cursorJson.ts';
import type { Children, ChildPosition, Creation } from './factoryChildren.ts';
import { factoryBlockLogs, factoryRangeLogs } from './factoryLogs.ts';
import { FeedAddresses } from './FeedAddresses.ts';
import type { FeedDelivery } from './FeedDelivery.ts';
import { reorgKeptEvent } from './guestEvents.ts';
import { liveStep } from './liveStep.ts';
import { mergeLogs } from './mergeLogs.ts';
import { nextRange } from './nextRange.ts';
import { planRewind } from './planRewind.ts';
import { planStep } from './planStep.ts';
import { rangeBlocks, type RangeBlock } from './rangeBlocks.ts';
import { ReachWaiters } from './ReachWaiters.ts';
import type { ChainInterest } from './triggers.ts';
import { undoSteps } from './undoSteps.ts';

// The engine takes a step's shape, and the step without the events its module refused, from the feed.
export type { FeedDelivery } from './FeedDelivery.ts';
export { withoutEvents } from './withoutEvents.ts';

/**
 * How a delivery went: committed; to be tried again at once (a signal: the actor's backoff delays the
 * next try); failed outside the guest (the commit: try again after a pause); or the module is not serving.
 */
export type FeedResult = 'done' | 'retry' | 'failed' | 'stopped';

export interface FeedTarget {
  module: string;
  store: ModuleStore;
  deliver(delivery: FeedDelivery): Promise<FeedResult>;
  /** Resolves when the module takes events again (after quarantine or a stop), or when the engine stops. */
  whenServing(): Promise<void>;
  /** The chain reorganised below what the module can undo (`windowBlocks` deep): halt it. */
  reorgBeyondWindow(cursor: BlockCursor, windowBlocks: number): void;
  /** Whether a source other than this chain wrote `key` after the module's handling of `block` did (see ReorgMarks). */
  writtenSince(block: bigint, key: Bytes): boolean;
  /** corral's own keys in the module's state (timers, tasks): undone by the same rule, never named to the module. */
  reservedKey(key: Bytes): boolean;
}

export interface FeedOptions {
  interest: ChainInterest;
  /** Where a module without a cursor starts (default: the head less the confirmations). */
  startBlock: bigint | undefined;
  /** Blocks below `head - reorgWindow` are treated as final; handled blocks above it keep undo records. */
  reorgWindow: number;
  logger: Logger;
}

const source = (chainId: bigint) => `chain:${chainId}`;

/**
 * Delivers one module's events of one chain, driven by its durable cursor (the last block it fully
 * handled, and that block's hash). The cursor is the only truth: on start, after an outage, after a
 * failed event, after a reorg, the feed simply asks "what comes after my cursor?". Far behind the
 * head it catches up by ranges of `eth_getLogs`; near the head it goes block by block (logs fetched
 * by block hash, shared with the other modules) and keeps an undo record per block. A cursor that is
 * no longer canonical rewinds through those records, re-delivering the abandoned logs with
 * `removed = true`, newest first; keys another source wrote since a block keep that value, and the
 * undo step names them to the module (see planUndo). One step at a time: a failed step is tried
 * again, never skipped.
 */
export class ModuleFeed {
  private cursor: BlockCursor | undefined;
  /** The cursor was placed by a catch-up step, on a block fetched as final: no need to ask the node again. */
  private cursorIsFinal = false;
  /** Numbers of the module's journal entries on this chain, ascending. */
  private journalNumbers: bigint[] = [];
  private stopped = false;
  private wake: (() => void) | undefined;
  private failures = 0;
  /** Catch-up ranges being fetched, the next one first: the node works ahead of the module. */
  private ahead: { from: bigint; end: bigint; blocks: ReturnType<ModuleFeed['fetchRange']> }[] = [];
  /** The factory children and added addresses it follows beyond the static filters. */
  private readonly addresses: FeedAddresses;
  /** The last commit changed the added addresses: what was fetched for later blocks without them is stale. */
  private addedMoved = false;
  readonly done: Promise<void>;

  constructor(
    private readonly follower: ChainFollower,
    private readonly logs: ChainLogs,
    private readonly target: FeedTarget,
    private readonly options: FeedOptions,
  ) {
    this.addresses = new FeedAddresses(target.store, options.interest, target.module, options.logger);
    this.done = this.run();
  }

  private readonly reachWaiters = new ReachWaiters();
  /** The tip the last step looked at: the feed sleeps until the chain moves past it. */
  private tipSeen: ChainBlock | undefined;

  /** The module reached the head (less its confirmations) at least once since the feed started. */
  caughtUp = false;
  /**
   * Steps committed and the events they carried, since the feed started; and the module's keys that
   * undone blocks had written and that kept a later write of another source (each named in a notice).
   */
  readonly handled = { steps: 0, events: 0, keptOnUndo: 0 };

  /** Blocks the module's events wait below the head on this chain. */
  get confirmations(): number {
    return this.options.interest.confirmations;
  }

  /** The cursor as the feed last committed it. */
  get position(): BlockCursor | undefined {
    return this.cursor;
  }

  /**
   * Resolves once the module's cursor on this chain has passed block `number`, or stands on it (with
   * `hash`, if given: after a reorg at the same height, the new block, not the old one). Rejects with
   * EngineError 'stopped' if the feed stops first.
   */
  reached(number: bigint, hash?: string): Promise<void> {
    if (this.stopped) return Promise.reject(this.stoppedError());
    return this.reachWaiters.wait(this.cursor, number, hash);
  }

  private stoppedError(): EngineError {
    return new EngineError('stopped', `the feed of ${this.target.module} on chain ${this.chainId} stopped`, { module: this.target.module, chainId: String(this.chainId) });
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.reachWaiters.reject(() => this.stoppedError());
    return this.done;
  }

  private get chainId(): bigint {
    return this.options.interest.chainId;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const progressed = await this.step();
        if (progressed === 'stopped') {
          await this.until(this.target.whenServing());
          continue;
        }
        if (progressed === 'waiting') await this.until(this.follower.changed(this.tipSeen));
        this.failures = 0;
      } catch (error) {
        // The node failed or answered malformed data: wait, then ask again from the same cursor.
        const delay = backoffDelay(this.failures++, FEED_RETRY);
        this.options.logger.warn({ chainId: String(this.chainId), module: this.target.module, err: error, retryInMs: delay }, 'chain delivery failed; retrying from the cursor');
        await this.until(new Promise<void>((resolve) => setTimeout(resolve, delay).unref()));
      }
    }
  }

  /** Waits for `promise`, or for `stop()` (already called: no wait; a step can end in a stop it did not see). */
  private until(promise: Promise<void>): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.wake = resolve;
      void promise.then(resolve);
    }).finally(() => (this.wake = undefined));
  }

  private async step(): Promise<'progressed' | 'waiting' | 'stopped'> {
    const tip = (this.tipSeen = this.follower.tip);
    if (!tip) return 'waiting';
    await this.addresses.fresh();
    const cursor = this.cursor;
    const plan = planStep(tip.number, cursor, this.cursorIsFinal, this.options);
    if (plan.kind === 'start') return this.init(plan.origin);
    if (plan.verify && !(await this.follower.isCanonical(cursor!.number, cursor!.hash))) return this.rewind();
    if (plan.kind === 'waiting') {
      this.caughtUp = true;
      return 'waiting';
    }
    const result = plan.kind === 'catch-up' ? await this.catchUp(plan.from, plan.to) : await this.handleBlock(await this.follower.headerAt(plan.number, 'live'));
    if (this.cursor!.number >= plan.target) this.caughtUp = true;
    return result;
  }

  /** Loads the cursor and journal; a new module starts at `startBlock` or the head, and says so durably. */
  private async init(origin: bigint): Promise<'progressed' | 'stopped'> {
    const saved = (await this.target.store.cursor(source(this.chainId))) as CursorJson | undefined;
    this.journalNumbers = (await this.target.store.journal(this.chainId)).map((e) => e.number);
    if (saved) {
      this.cursor = cursorFromJson(saved);
      // A restarted engine may already be where a caller waits for: with no new block there is no commit to settle it.
      this.reachWaiters.moved(this.cursor);
      return 'progressed';
    }
    const start: BlockCursor = origin < 0n ? { number: -1n, hash: '', origin: true } : { number: origin, hash: (await this.follower.headerAt(origin, 'backfill')).hash, origin: true };
    return this.commit({ events: [], cursor: start });
  }

  /**
   * A range of final blocks: their logs by range (and headers, for a block trigger), delivered in steps
   * of up to CATCH_UP_STEP_EVENTS events (see catchUpSteps). The next range is fetched while this one is
   * delivered.
   */
  private async catchUp(from: bigint, to: bigint): Promise<'progressed' | 'stopped'> {
    if (this.ahead[0]?.from !== from || this.ahead[0].end > to) this.ahead = []; // the cursor or the tip went elsewhere
    while (this.ahead.length <= PREFETCH_RANGES) {
      const previous = this.ahead.at(-1);
      const range = nextRange(previous?.end ?? from - 1n, to, this.logs.range.max);
      if (!range) break;
      // A range fetched ahead follows the children the ranges before it create.
      const blocks = this.fetchRange(range.from, range.end, previous ? previous.blocks.then((r) => r.children) : Promise.resolve(this.addresses.factoryChildren), this.addresses.added);
      blocks.catch(() => {}); // a failure is met (and retried) when the range is due
      this.ahead.push({ ...range, blocks });
    }
    const range = this.ahead.shift()!;
    const { blocks, endHash, startParent, creations } = await range.blocks;
    // The range was fetched as final, by number: it must continue the module's cursor. If it does not,
    // the chain changed below the reorg window (rewind then finds nothing to undo, and halts).
    if (!continuesCursor(this.cursor!, range.from, startParent)) return this.rewind();
    // Past the window now: the undo records of earlier live blocks can never be used (the first commit drops them).
    const pruned = () => (this.journalNumbers.length > 0 ? { journal: { remove: [...this.journalNumbers] } } : {});
    let after = this.cursor!.number;
    for (const step of catchUpSteps(blocks, { number: range.end, hash: endHash }, CATCH_UP_STEP_EVENTS, this.options.interest.added.length > 0)) {
      // Each child commits with the step that holds its creation block.
      const created = creations.filter((c) => c.position.block > after && c.position.block <= step.cursor.number);
      after = step.cursor.number;
      if ((await this.commit({ ...step, ...pruned(), ...this.addresses.creationWrites(created) }, true)) === 'stopped') return 'stopped';
      // The step added or removed addresses: the rest of the range was fetched without them.
      if (this.addedMoved) return 'progressed';
    }
    return 'progressed';
  }

  /**
   * The blocks of [from, end] with events for this module, ascending; the hashes of `end` and of
   * `from - 1`; the factory children the range creates, and every factory's children after it (from
   * `known`, the children before the range).
   */
  private async fetchRange(
    from: bigint,
    end: bigint,
    known: Promise<ReadonlyMap<string, Children>>,
    added: ReadonlyMap<string, Children>,
  ): Promise<{ blocks: RangeBlock[]; endHash: string; startParent: string | undefined; creations: Creation[]; children: ReadonlyMap<string, Children> }> {
    const { interest } = this.options;
    const before = await known;
    const [endHeader, startParent, fetched, factories, addedLogs] = await Promise.all([
      this.follower.headerAt(end, 'backfill'),
      from > 0n ? this.follower.headerAt(from - 1n, 'backfill').then((b) => b.hash) : undefined,
      Promise.all(interest.filters.map((f) => this.logs.rangeLogs(f.key, f.filter, from, end))),
      Promise.all(interest.factories.map((f) => factoryRangeLogs(this.logs, f, before.get(f.id) ?? new Map<string, ChildPosition>(), from, end))),
      Promise.all(interest.added.map((a) => addedRangeLogs(this.logs, a, added.get(a.id) ?? new Map<string, ChildPosition>(), from, end))),
    ]);
    const headers = interest.blocks ? await mapConcurrently(blocksEvery(from, end, interest.blocks.every), 16, (n) => this.follower.headerAt(n, 'backfill')) : [];
    const logs = mergeLogs([...fetched, ...factories.map((f) => f.logs), ...addedLogs]);
    return { blocks: rangeBlocks(logs, headers), endHash: endHeader.hash, startParent, ...this.addresses.learned(factories, before) };
  }

  /** One block near the head: its logs by hash, its block event, and an undo record. */
  private async handleBlock(block: ChainBlock): Promise<'progressed' | 'stopped'> {
    const { interest } = this.options;
    const cursor = this.cursor!;
    if (!continuesCursor(cursor, block.number, block.parentHash)) {
      // The cursor and this block came from two answers of the node, and the chain moved in between:
      // ask again (the next step sees the reorg, if it is one).
      throw new RpcDataError('inconsistent', { chainId: String(this.chainId), method: 'eth_getBlockByNumber', field: 'block.parentHash', value: block.parentHash, expected: `the module's cursor ${cursor.hash} at ${cursor.number}` });
    }
    const [fetched, factories, addedLogs] = await Promise.all([
      Promise.all(interest.filters.map((f) => this.logs.blockLogs(f.key, f.filter, block))),
      Promise.all(interest.factories.map((f) => factoryBlockLogs(this.logs, f, this.addresses.childrenOf(f.id), block))),
      Promise.all(interest.added.map((a) => addedBlockLogs(this.logs, a, this.addresses.added.get(a.id) ?? new Map<string, ChildPosition>(), block))),
    ]);
    const { creations } = this.addresses.learned(factories, this.addresses.factoryChildren);
    const logs = mergeLogs([...fetched, ...factories.map((f) => f.logs), ...addedLogs]);
    return this.commit({ ...liveStep(block, logs, cursor, interest.blocks, this.options.reorgWindow, this.journalNumbers), ...this.addresses.creationWrites(creations) });
  }

  /**
   * The cursor left the canonical chain: undo every block after the first canonical position the
   * journal leads back to, newest first, each in one commit with the re-delivery of its logs as
   * `removed` (see planRewind, undoSteps). A module that cannot undo that far halts.
   */
  private async rewind(): Promise<'progressed' | 'stopped'> {
    this.ahead = [];
    const cursor = this.cursor!;
    const plan = await planRewind(await this.target.store.journal(this.chainId), cursor, (position) => this.follower.isCanonical(position.number, position.hash));
    if (plan.kind === 'beyond-window') {
      this.options.logger.error({ chainId: String(this.chainId), module: this.target.module, cursor: String(cursor.number), undoable: plan.blocks.length }, 'reorg deeper than the module can undo; module halted');
      this.target.reorgBeyondWindow(cursor, this.options.reorgWindow);
      return 'stopped';
    }
    const anchor = plan.kind === 'undo' ? plan.anchor : { number: plan.origin.number, hash: (await this.follower.headerAt(plan.origin.number, 'reorg')).hash, origin: true };
    this.options.logger.info({ chainId: String(this.chainId), module: this.target.module, depth: plan.blocks.length, anchor: String(anchor.number) }, 'undoing abandoned blocks');
    for (const step of undoSteps(plan.blocks, anchor)) {
      if ((await this.commit(step)) === 'stopped') return 'stopped';
    }
    // An origin that moved without anything to undo.
    if (plan.blocks.length === 0 && anchor.hash !== cursor.hash) return this.commit({ events: [], cursor: anchor });
    return 'progressed';
  }

  /**
   * Hands a step to the module until it commits (a failure is retried, after the actor's backoff).
   * `final`: the step's blocks were fetched as final (catching up).
   */
  private async commit(step: FeedDelivery, final = false): Promise<'progressed' | 'stopped'> {
    let delivery = step;
    for (let failures = 0; ; ) {
      if (this.stopped) return 'stopped';
      // An undo is planned against the state as each try finds it: a retry may follow other commits.
      if (step.undo) delivery = this.planned(step);
      const result = await this.target.deliver(delivery);
      if (result === 'stopped') return 'stopped';
      if (result === 'done') break;
      if (result === 'failed') {
        const delay = backoffDelay(failures++, FEED_RETRY);
        await this.until(new Promise<void>((resolve) => setTimeout(resolve, delay).unref()));
      }
    }
    this.cursor = delivery.cursor;
    this.cursorIsFinal = final;
    this.addedMoved = false;
    try {
      this.addedMoved = await this.addresses.committed(delivery);
    } catch (error) {
      // Fetch nothing ahead with a set that may be old (the addresses are read again before the next step).
      this.ahead = [];
      throw error;
    }
    if (this.addedMoved) this.ahead = [];
    this.handled.steps++;
    this.handled.events += delivery.events.length;
    const kept = delivery.undo?.plan?.kept.filter((key) => !this.target.reservedKey(key)) ?? [];
    if (kept.length > 0) {
      this.handled.keptOnUndo += kept.length;
      this.options.logger.warn({ chainId: String(this.chainId), module: this.target.module, block: String(delivery.undo!.entry.number), keys: kept.length }, 'undo kept keys written since the block by another source');
    }
    this.reachWaiters.moved(this.cursor);
    const { journal } = delivery;
    if (journal) {
      const removed = new Set(journal.remove ?? []);
      this.journalNumbers = this.journalNumbers.filter((n) => !removed.has(n));
      if (journal.record) this.journalNumbers.push(journal.record.number);
    }
    return 'progressed';
  }

  /**
   * An undo step with its plan for this try: the restores the invocation stages, and, when keys of the
   * module's own kept a later write, a `corral/reorg-kept` event naming them after the removed logs.
   */
  private planned(step: FeedDelivery): FeedDelivery {
    const { entry } = step.undo!;
    const plan = planUndo(entry.undo, (key) => this.target.writtenSince(entry.number, key));
    const named = plan.kept.filter((key) => !this.target.reservedKey(key));
    const events = named.length > 0 ? [...step.events, reorgKeptEvent(this.chainId, entry, named)] : step.events;
    return { ...step, events, undo: { entry, plan } };
  }
}

async function mapConcurrently<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
