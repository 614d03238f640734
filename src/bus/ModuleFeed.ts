import type { Logger } from 'pino';
import type { ChainFollower } from '../chain/ChainFollower.ts';
import type { BlockCursor, ChainBlock, ChainLog } from '../chain/types.ts';
import type { JournalEntry, ModuleStore, Write } from '../store/EngineStore.ts';
import type { ChainLogs } from './ChainLogs.ts';
import { blockEvent, logEvent, logFromJson, logToJson, type GuestEvent } from './guestEvents.ts';
import type { ChainInterest } from './triggers.ts';

/** One step of a module's cursor on a chain: the events to hand the guest, and what commits with them. */
export interface FeedDelivery {
  events: GuestEvent[];
  /** The cursor after this step, committed with the guest's writes. */
  cursor: BlockCursor;
  /** Journal changes: a record to undo this block later (blocks inside the reorg window), entries to drop. */
  journal?: { record?: Omit<JournalEntry, 'undo'>; remove?: bigint[] };
  /** Writes staged before the guest runs: the undo of a block a reorg abandoned. */
  prestage?: Write[];
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
 * Events per step when catching up: final blocks are handed over several at a time, in one invocation
 * and one commit, so a long backfill does not pay a worker round trip and a commit per block. A block
 * is never split: one with more events is a step of its own.
 */
const CATCH_UP_STEP_EVENTS = 1_000;
/** Catch-up ranges fetched ahead of the one being delivered: the node works while the module does (deeper did not help against anvil, and costs a provider more concurrent requests). */
const PREFETCH_RANGES = 1;

interface RangeBlock {
  number: bigint;
  hash: string;
  logs: ChainLog[];
  block?: ChainBlock;
}
const RETRY_MS = { initial: 250, max: 30_000 };

/**
 * Delivers one module's events of one chain, driven by its durable cursor (the last block it fully
 * handled, and that block's hash). The cursor is the only truth: on start, after an outage, after a
 * failed event, after a reorg, the feed simply asks "what comes after my cursor?". Far behind the
 * head it catches up by ranges of `eth_getLogs`; near the head it goes block by block (logs fetched
 * by block hash, shared with the other modules) and keeps an undo record per block. A cursor that is
 * no longer canonical rewinds through those records, re-delivering the abandoned logs with
 * `removed = true`, newest first. One step at a time: a failed step is tried again, never skipped.
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

  private readonly reachWaiters: { number: bigint; hash?: string | undefined; resolve: () => void }[] = [];

  /** The cursor as the feed last committed it. */
  get position(): BlockCursor | undefined {
    return this.cursor;
  }

  /**
   * Resolves once the module's cursor on this chain has passed block `number`, or stands on it (with
   * `hash`, if given: after a reorg at the same height, the new block, not the old one).
   */
  reached(number: bigint, hash?: string): Promise<void> {
    return new Promise((resolve) => {
      const waiter = { number, hash, resolve };
      if (!this.settles(waiter)) this.reachWaiters.push(waiter);
    });
  }

  private settles(waiter: { number: bigint; hash?: string | undefined; resolve: () => void }): boolean {
    const cursor = this.cursor;
    if (!cursor || cursor.number < waiter.number) return false;
    if (cursor.number === waiter.number && waiter.hash !== undefined && cursor.hash !== waiter.hash) return false;
    waiter.resolve();
    return true;
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
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
        if (progressed === 'waiting') await this.until(this.follower.changed(this.follower.tip));
        this.failures = 0;
      } catch (error) {
        // The node failed or answered malformed data: wait, then ask again from the same cursor.
        const delay = Math.min(RETRY_MS.max, RETRY_MS.initial * 2 ** this.failures++);
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
    const tip = this.follower.tip;
    if (!tip) return 'waiting';
    const { interest } = this.options;
    const target = tip.number - BigInt(interest.confirmations);
    if (!this.cursor) return this.init(target);
    const finalBelow = tip.number - BigInt(this.options.reorgWindow);
    // Checked even with nothing new to deliver: a reorg can replace the cursor's block at the same
    // height (or shorten the chain), and a module must not keep effects of a block that is gone. A
    // cursor a catch-up step placed on a final block needs no check (it would cost a request per step).
    const final = this.cursorIsFinal && this.cursor.number <= finalBelow;
    if (!final && !(await this.follower.isCanonical(this.cursor.number, this.cursor.hash))) return this.rewind();
    if (this.cursor.number >= target) return 'waiting';
    let from = this.cursor.number + 1n;
    if (interest.blocks?.latestOnly && from < target) from = target;
    if (from <= finalBelow) return this.catchUp(from, target < finalBelow ? target : finalBelow);
    return this.handleBlock(await this.follower.headerAt(from, 'live'));
  }

  /** Loads the cursor and journal; a new module starts at `startBlock` or the head, and says so durably. */
  private async init(target: bigint): Promise<'progressed' | 'stopped'> {
    const saved = (await this.target.store.cursor(source(this.chainId))) as { number: string; hash: string } | undefined;
    this.journalNumbers = (await this.target.store.journal(this.chainId)).map((e) => e.number);
    if (saved) {
      this.cursor = { number: BigInt(saved.number), hash: saved.hash };
      return 'progressed';
    }
    const first = this.options.startBlock ?? (target < 0n ? 0n : target);
    const before = first - 1n;
    const start: BlockCursor = before < 0n ? { number: -1n, hash: '' } : { number: before, hash: (await this.follower.headerAt(before, 'backfill')).hash };
    return this.commit({ events: [], cursor: start });
  }

  /**
   * A range of final blocks: their logs by range (and headers, for a block trigger), delivered in steps
   * of up to CATCH_UP_STEP_EVENTS events over as many blocks as fit, each step one invocation and one
   * commit with the cursor on its last block; the range's last step moves the cursor to its end. The
   * next range is fetched while this one is delivered.
   */
  private async catchUp(from: bigint, to: bigint): Promise<'progressed' | 'stopped'> {
    if (this.ahead[0]?.from !== from) this.ahead = []; // the cursor went elsewhere (a failure, a rewind)
    for (let next = this.ahead.at(-1)?.end ?? from - 1n; this.ahead.length <= PREFETCH_RANGES && next < to; next = this.ahead.at(-1)!.end) {
      const range = { from: next + 1n, end: minOf(next + BigInt(this.logs.range.max), to), blocks: this.fetchRange(next + 1n, minOf(next + BigInt(this.logs.range.max), to)) };
      range.blocks.catch(() => {}); // a failure is met (and retried) when the range is due
      this.ahead.push(range);
    }
    const range = this.ahead.shift()!;
    const { blocks, endHash } = await range.blocks;
    let events: GuestEvent[] = [];
    let last: BlockCursor | undefined;
    for (const { number, hash, logs, block } of blocks) {
      const count = logs.length + (block ? 1 : 0);
      if (last && events.length + count > CATCH_UP_STEP_EVENTS) {
        if ((await this.commit({ events, cursor: last }, true)) === 'stopped') return 'stopped';
        events = [];
      }
      for (const log of logs) events.push(logEvent(log));
      if (block) events.push(blockEvent(block));
      last = { number, hash };
    }
    return this.commit({ events, cursor: { number: range.end, hash: endHash } }, true);
  }

  /** The blocks of [from, end] with events for this module, ascending, and the hash of `end`. */
  private async fetchRange(from: bigint, end: bigint): Promise<{ blocks: RangeBlock[]; endHash: string }> {
    const { interest } = this.options;
    const byBlock = new Map<bigint, RangeBlock>();
    const endHeader = this.follower.headerAt(end, 'backfill');
    const fetched = await Promise.all(interest.filters.map((f) => this.logs.rangeLogs(f.key, f.filter, from, end)));
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
    return { blocks, endHash: (await endHeader).hash };
  }

  /** One block near the head: its logs by hash, its block event, and an undo record. */
  private async handleBlock(block: ChainBlock): Promise<'progressed' | 'stopped'> {
    const { interest } = this.options;
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
      journal: { record: { number: block.number, hash: block.hash, parentHash: block.parentHash, payload: logs.map(logToJson) }, remove },
    });
  }

  /**
   * The cursor left the canonical chain. Walk the journal back to the newest block still canonical;
   * undo every block after it, newest first, each in one commit with the re-delivery of its logs as
   * `removed`. Nothing to walk back through: the reorg is deeper than the window.
   */
  private async rewind(): Promise<'progressed' | 'stopped'> {
    const journal = await this.target.store.journal(this.chainId);
    const abandoned: JournalEntry[] = [];
    let anchor: BlockCursor | undefined;
    for (let i = journal.length - 1; i >= 0; i--) {
      const entry = journal[i]!;
      if (await this.follower.isCanonical(entry.number, entry.hash)) {
        anchor = { number: entry.number, hash: entry.hash };
        break;
      }
      abandoned.push(entry);
    }
    const oldest = abandoned[abandoned.length - 1];
    if (!anchor && oldest && (await this.follower.isCanonical(oldest.number - 1n, oldest.parentHash))) anchor = { number: oldest.number - 1n, hash: oldest.parentHash };
    if (!anchor) {
      this.options.logger.error({ chainId: String(this.chainId), module: this.target.module, cursor: String(this.cursor!.number) }, 'reorg deeper than the module can undo; module halted');
      this.target.reorgBeyondWindow(this.cursor!, this.options.reorgWindow);
      return 'stopped';
    }
    this.options.logger.info({ chainId: String(this.chainId), module: this.target.module, depth: abandoned.length, anchor: String(anchor.number) }, 'undoing abandoned blocks');
    for (const [i, entry] of abandoned.entries()) {
      const older = abandoned[i + 1];
      const cursor = older ? { number: entry.number - 1n, hash: entry.parentHash } : anchor;
      const removed = (entry.payload as ReturnType<typeof logToJson>[]).map(logFromJson).reverse();
      const result = await this.commit({ events: removed.map((log) => logEvent({ ...log, removed: true })), cursor, prestage: entry.undo, journal: { remove: [entry.number] } });
      if (result === 'stopped') return 'stopped';
    }
    return 'progressed';
  }

  /**
   * Hands a step to the module until it commits (a failure is retried, after the actor's backoff).
   * `final`: the step's blocks were fetched as final (catching up).
   */
  private async commit(delivery: FeedDelivery, final = false): Promise<'progressed' | 'stopped'> {
    for (let failures = 0; ; ) {
      if (this.stopped) return 'stopped';
      const result = await this.target.deliver(delivery);
      if (result === 'stopped') return 'stopped';
      if (result === 'done') break;
      if (result === 'failed') {
        const delay = Math.min(RETRY_MS.max, RETRY_MS.initial * 2 ** failures++);
        await this.until(new Promise<void>((resolve) => setTimeout(resolve, delay).unref()));
      }
    }
    this.cursor = delivery.cursor;
    this.cursorIsFinal = final;
    for (let i = this.reachWaiters.length - 1; i >= 0; i--) if (this.settles(this.reachWaiters[i]!)) this.reachWaiters.splice(i, 1);
    const { journal } = delivery;
    if (journal) {
      const removed = new Set(journal.remove ?? []);
      this.journalNumbers = this.journalNumbers.filter((n) => !removed.has(n));
      if (journal.record) this.journalNumbers.push(journal.record.number);
    }
    return 'progressed';
  }
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
