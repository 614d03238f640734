import type { Logger } from 'pino';
import type { ChainFollower } from '../chain/ChainFollower.ts';
import { RpcDataError } from '../chain/RpcDataError.ts';
import type { BlockCursor, ChainBlock, ChainLog } from '../chain/types.ts';
import { backoffDelay } from '../clock/backoff.ts';
import { EngineError } from '../errors/EngineError.ts';
import { CATCH_UP_STEP_EVENTS, FEED_RETRY, PREFETCH_RANGES } from '../limits/defaults.ts';
import type { Bytes, JournalEntry, ModuleStore } from '../store/EngineStore.ts';
import { planUndo, type UndoPlan } from '../store/planUndo.ts';
import type { ChainLogs } from './ChainLogs.ts';
import { cursorFromJson, type CursorJson } from './cursorJson.ts';
import { blockEvent, logEvent, logFromJson, logToJson, reorgKeptEvent, type GuestEvent } from './guestEvents.ts';
import type { ChainInterest } from './triggers.ts';

/** One step of a module's cursor on a chain: the events to hand the guest, and what commits with them. */
export interface FeedDelivery {
  events: GuestEvent[];
  /** The cursor after this step, committed with the guest's writes. */
  cursor: BlockCursor;
  /** Journal changes: a record to undo this block later (blocks inside the reorg window), entries to drop. */
  journal?: { record?: Omit<JournalEntry, 'undo'>; remove?: bigint[] };
  /**
   * The undo of a block a reorg abandoned: its record, and the plan the feed made for this try (which
   * keys to restore, which keep a later write). The invocation plans again when the step's turn comes
   * and refuses the step as stale if that plan differs: the feed then plans and tries again.
   */
  undo?: { entry: JournalEntry; plan?: UndoPlan };
  /** When the block of a live step reached the engine (see ChainBlock.seenAt). */
  seenAt?: number;
}

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

interface ReachWaiter {
  number: bigint;
  hash?: string | undefined;
  resolve: () => void;
  reject: (error: Error) => void;
}

interface RangeBlock {
  number: bigint;
  hash: string;
  logs: ChainLog[];
  block?: ChainBlock;
}

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
  readonly done: Promise<void>;

  constructor(
    private readonly follower: ChainFollower,
    private readonly logs: ChainLogs,
    private readonly target: FeedTarget,
    private readonly options: FeedOptions,
  ) {
    this.done = this.run();
  }

  private readonly reachWaiters: ReachWaiter[] = [];
  /** The tip the last step looked at: the feed sleeps until the chain moves past it. */
  private tipSeen: ChainBlock | undefined;

  /** The module reached the head (less its confirmations) at least once since the feed started. */
  caughtUp = false;
  /**
   * Steps committed and the events they carried, since the feed started; and the module's keys that
   * undone blocks had written and that kept a later write of another source (each named in a notice).
   */
  readonly handled = { steps: 0, events: 0, keptOnUndo: 0 };

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
    return new Promise((resolve, reject) => {
      if (this.stopped) return reject(this.stoppedError());
      const waiter = { number, hash, resolve, reject };
      if (!this.settles(waiter)) this.reachWaiters.push(waiter);
    });
  }

  private stoppedError(): EngineError {
    return new EngineError('stopped', `the feed of ${this.target.module} on chain ${this.chainId} stopped`, { module: this.target.module, chainId: String(this.chainId) });
  }

  private settles(waiter: ReachWaiter): boolean {
    const cursor = this.cursor;
    if (!cursor || cursor.number < waiter.number) return false;
    if (cursor.number === waiter.number && waiter.hash !== undefined && cursor.hash !== waiter.hash) return false;
    waiter.resolve();
    return true;
  }

  private settleWaiters(): void {
    for (let i = this.reachWaiters.length - 1; i >= 0; i--) if (this.settles(this.reachWaiters[i]!)) this.reachWaiters.splice(i, 1);
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    for (const waiter of this.reachWaiters.splice(0)) waiter.reject(this.stoppedError());
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
    const { interest } = this.options;
    const target = tip.number - BigInt(interest.confirmations);
    if (!this.cursor) return this.init(target);
    const finalBelow = tip.number - BigInt(this.options.reorgWindow);
    // Checked even with nothing new to deliver: a reorg can replace the cursor's block at the same
    // height (or shorten the chain), and a module must not keep effects of a block that is gone. A
    // cursor a catch-up step placed on a final block needs no check (it would cost a request per step).
    // (The catch-up step checks instead that each range starts on the cursor: see `catchUp`.)
    const final = this.cursorIsFinal && this.cursor.number <= finalBelow;
    if (!final && !(await this.follower.isCanonical(this.cursor.number, this.cursor.hash))) return this.rewind();
    if (this.cursor.number >= target) {
      this.caughtUp = true;
      return 'waiting';
    }
    let from = this.cursor.number + 1n;
    if (interest.blocks?.latestOnly && from < target) from = target;
    const result = from <= finalBelow ? await this.catchUp(from, target < finalBelow ? target : finalBelow) : await this.handleBlock(await this.follower.headerAt(from, 'live'));
    if (this.cursor.number >= target) this.caughtUp = true;
    return result;
  }

  /** Loads the cursor and journal; a new module starts at `startBlock` or the head, and says so durably. */
  private async init(target: bigint): Promise<'progressed' | 'stopped'> {
    const saved = (await this.target.store.cursor(source(this.chainId))) as CursorJson | undefined;
    this.journalNumbers = (await this.target.store.journal(this.chainId)).map((e) => e.number);
    if (saved) {
      this.cursor = cursorFromJson(saved);
      // A restarted engine may already be where a caller waits for: with no new block there is no commit to settle it.
      this.settleWaiters();
      return 'progressed';
    }
    const first = this.options.startBlock ?? (target < 0n ? 0n : target);
    const before = first - 1n;
    const start: BlockCursor = before < 0n ? { number: -1n, hash: '', origin: true } : { number: before, hash: (await this.follower.headerAt(before, 'backfill')).hash, origin: true };
    return this.commit({ events: [], cursor: start });
  }

  /**
   * A range of final blocks: their logs by range (and headers, for a block trigger), delivered in steps
   * of up to CATCH_UP_STEP_EVENTS events over as many blocks as fit, each step one invocation and one
   * commit with the cursor on its last block; the range's last step moves the cursor to its end. The
   * next range is fetched while this one is delivered.
   */
  private async catchUp(from: bigint, to: bigint): Promise<'progressed' | 'stopped'> {
    if (this.ahead[0]?.from !== from || this.ahead[0].end > to) this.ahead = []; // the cursor or the tip went elsewhere
    while (this.ahead.length <= PREFETCH_RANGES) {
      const start = (this.ahead.at(-1)?.end ?? from - 1n) + 1n;
      if (start > to) break;
      const end = minOf(start + BigInt(this.logs.range.max) - 1n, to);
      const blocks = this.fetchRange(start, end);
      blocks.catch(() => {}); // a failure is met (and retried) when the range is due
      this.ahead.push({ from: start, end, blocks });
    }
    const range = this.ahead.shift()!;
    const { blocks, endHash, startParent } = await range.blocks;
    // The range was fetched as final, by number: it must continue the module's cursor. If it does not,
    // the chain changed below the reorg window (rewind then finds nothing to undo, and halts).
    if (range.from === this.cursor!.number + 1n && startParent !== undefined && startParent !== this.cursor!.hash) return this.rewind();
    // Past the window now: the undo records of earlier live blocks can never be used (the first commit drops them).
    const pruned = () => (this.journalNumbers.length > 0 ? { journal: { remove: [...this.journalNumbers] } } : {});
    let events: GuestEvent[] = [];
    let last: BlockCursor | undefined;
    for (const { number, hash, logs, block } of blocks) {
      const count = logs.length + (block ? 1 : 0);
      if (last && events.length + count > CATCH_UP_STEP_EVENTS) {
        if ((await this.commit({ events, cursor: last, ...pruned() }, true)) === 'stopped') return 'stopped';
        events = [];
      }
      for (const log of logs) events.push(logEvent(log));
      if (block) events.push(blockEvent(block));
      last = { number, hash };
    }
    return this.commit({ events, cursor: { number: range.end, hash: endHash }, ...pruned() }, true);
  }

  /** The blocks of [from, end] with events for this module, ascending; the hashes of `end` and of `from - 1`. */
  private async fetchRange(from: bigint, end: bigint): Promise<{ blocks: RangeBlock[]; endHash: string; startParent: string | undefined }> {
    const { interest } = this.options;
    const byBlock = new Map<bigint, RangeBlock>();
    const [endHeader, startParent, fetched] = await Promise.all([
      this.follower.headerAt(end, 'backfill'),
      from > 0n ? this.follower.headerAt(from - 1n, 'backfill').then((b) => b.hash) : undefined,
      Promise.all(interest.filters.map((f) => this.logs.rangeLogs(f.key, f.filter, from, end))),
    ]);
    for (const log of mergeLogs(fetched)) {
      let entry = byBlock.get(log.blockNumber);
      if (!entry) byBlock.set(log.blockNumber, (entry = { number: log.blockNumber, hash: log.blockHash, logs: [] }));
      entry.logs.push(log);
    }
    if (interest.blocks) {
      const every = BigInt(interest.blocks.every);
      const numbers: bigint[] = [];
      for (let n = from + ((every - (from % every)) % every); n <= end; n += every) numbers.push(n);
      const headers = await mapConcurrently(numbers, 16, (n) => this.follower.headerAt(n, 'backfill'));
      for (const block of headers) {
        const entry = byBlock.get(block.number);
        if (entry) entry.block = block;
        else byBlock.set(block.number, { number: block.number, hash: block.hash, logs: [], block });
      }
    }
    const blocks = [...byBlock.values()].sort((a, b) => (a.number < b.number ? -1 : a.number > b.number ? 1 : 0));
    return { blocks, endHash: endHeader.hash, startParent };
  }

  /** One block near the head: its logs by hash, its block event, and an undo record. */
  private async handleBlock(block: ChainBlock): Promise<'progressed' | 'stopped'> {
    const { interest } = this.options;
    const cursor = this.cursor!;
    if (block.number === cursor.number + 1n && cursor.number >= 0n && block.parentHash !== cursor.hash) {
      // The cursor and this block came from two answers of the node, and the chain moved in between:
      // ask again (the next step sees the reorg, if it is one).
      throw new RpcDataError('inconsistent', { chainId: String(this.chainId), method: 'eth_getBlockByNumber', field: 'block.parentHash', value: block.parentHash, expected: `the module's cursor ${cursor.hash} at ${cursor.number}` });
    }
    const fetched = await Promise.all(interest.filters.map((f) => this.logs.blockLogs(f.key, f.filter, block)));
    const logs = mergeLogs(fetched);
    const events = logs.map(logEvent);
    if (interest.blocks && block.number % BigInt(interest.blocks.every) === 0n) events.push(blockEvent(block));
    const oldest = block.number - BigInt(this.options.reorgWindow);
    const remove = this.journalNumbers.filter((n) => n <= oldest);
    return this.commit({
      events,
      cursor: { number: block.number, hash: block.hash },
      ...(block.seenAt === undefined ? {} : { seenAt: block.seenAt }),
      journal: { record: { number: block.number, hash: block.hash, prev: cursor, payload: logs.map(logToJson) }, remove },
    });
  }

  /**
   * The cursor left the canonical chain. Walk back from it through the journal, step by step (each
   * record says where its step started), to the first position still canonical; undo every step
   * after it, newest first, each in one commit with the re-delivery of its logs as `removed`. A
   * position no record leads back from is one the module cannot undo: the reorg is deeper than the
   * window, and the module halts. (Except a new module's origin, below which nothing was applied:
   * it moves to the new block at its height.)
   */
  private async rewind(): Promise<'progressed' | 'stopped'> {
    this.ahead = [];
    const journal = await this.target.store.journal(this.chainId);
    const abandoned: JournalEntry[] = [];
    let position: BlockCursor = this.cursor!;
    for (let i = journal.length - 1; !(await this.follower.isCanonical(position.number, position.hash)); i--) {
      const entry = journal[i];
      if (entry && entry.number === position.number && entry.hash === position.hash) {
        abandoned.push(entry);
        position = entry.prev;
        continue;
      }
      if (position.origin) {
        position = { number: position.number, hash: (await this.follower.headerAt(position.number, 'reorg')).hash, origin: true };
        break;
      }
      this.options.logger.error({ chainId: String(this.chainId), module: this.target.module, cursor: String(this.cursor!.number), undoable: abandoned.length }, 'reorg deeper than the module can undo; module halted');
      this.target.reorgBeyondWindow(this.cursor!, this.options.reorgWindow);
      return 'stopped';
    }
    this.options.logger.info({ chainId: String(this.chainId), module: this.target.module, depth: abandoned.length, anchor: String(position.number) }, 'undoing abandoned blocks');
    for (const [i, entry] of abandoned.entries()) {
      const cursor = i === abandoned.length - 1 ? position : entry.prev;
      const removed = (entry.payload as ReturnType<typeof logToJson>[]).map(logFromJson).reverse();
      const result = await this.commit({ events: removed.map((log) => logEvent({ ...log, removed: true })), cursor, undo: { entry }, journal: { remove: [entry.number] } });
      if (result === 'stopped') return 'stopped';
    }
    // An origin that moved without anything to undo.
    if (abandoned.length === 0 && position.hash !== this.cursor!.hash) return this.commit({ events: [], cursor: position });
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
    this.handled.steps++;
    this.handled.events += delivery.events.length;
    const kept = delivery.undo?.plan?.kept.filter((key) => !this.target.reservedKey(key)) ?? [];
    if (kept.length > 0) {
      this.handled.keptOnUndo += kept.length;
      this.options.logger.warn({ chainId: String(this.chainId), module: this.target.module, block: String(delivery.undo!.entry.number), keys: kept.length }, 'undo kept keys written since the block by another source');
    }
    this.settleWaiters();
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

/**
 * A step without the events at `indices` (the module answered them with `err`): their logs leave the
 * undo record too, so a reorg does not re-deliver as removed a log whose handling was dropped.
 */
export function withoutEvents(delivery: FeedDelivery, indices: readonly number[]): FeedDelivery {
  const dropped = new Set(indices);
  const events = delivery.events.filter((_, i) => !dropped.has(i));
  const record = delivery.journal?.record;
  if (!record) return { ...delivery, events };
  // A live step's events are its logs, in the record's order, then its block event.
  const payload = (record.payload as unknown[]).filter((_, i) => !dropped.has(i));
  return { ...delivery, events, journal: { ...delivery.journal, record: { ...record, payload } } };
}

/** The logs of several filters as one list in (block, log index) order, each log once. */
function mergeLogs(lists: ChainLog[][]): ChainLog[] {
  if (lists.length === 1) return lists[0]!;
  const seen = new Map<string, ChainLog>();
  for (const list of lists) for (const log of list) seen.set(`${log.blockNumber}/${log.logIndex}`, log);
  return [...seen.values()].sort((a, b) => (a.blockNumber !== b.blockNumber ? (a.blockNumber < b.blockNumber ? -1 : 1) : a.logIndex - b.logIndex));
}

const minOf = (a: bigint, b: bigint) => (a < b ? a : b);

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
