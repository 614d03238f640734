import type { MessagesContext, OutboxEntry } from '../host/messages.ts';
import { DEFAULT_MESSAGES } from '../limits/defaults.ts';
import type { EngineStore, Write } from '../store/EngineStore.ts';
import { messageSource, parseOutboxKey } from '../store/reservedKeys.ts';
import type { ResolvedManifest } from '../config/ModuleManifestSchema.ts';
import { messageSenders } from './messageGrants.ts';
import type { OutboxTrim } from './OutboxTrim.ts';

/** A receiver's feed as the hub wakes it (MessageFeed). */
export interface ReceiverFeed {
  readonly receiver: string;
  wake(from: string): void;
}

/** Counters of one module's messages, from 0 at the engine's start. */
export interface MessageStats {
  /** Messages it sent (committed to its outbox), retractions not counted. */
  sent: number;
  /** Messages it handled (their step committed its cursor), retractions included. */
  delivered: number;
  /** Retractions of messages it sent, written by a reorg's undo of the step that sent them. */
  retracted: number;
  /** Sends it made that were refused with `limit("inbox-full")`. */
  inboxFull: number;
  /** Entries of its outboxes deleted once handled and final (src/engine/OutboxTrim.ts). */
  trimmed: number;
  /** Messages it received whose step failed past their retries: moved to its dead letters (src/engine/MessageFeed.ts). */
  dead: number;
}

/**
 * The engine's meeting point of senders and receivers: it wakes a receiver's feed once a sender's
 * commit put messages in the outbox to it, knows how far each receiver has handled each sender (its
 * committed cursors, which the senders' inbox bound is checked against, without a read), has the
 * senders' outboxes trimmed of what their receivers handled, and counts. A receiver not served here
 * (on another replica, or not loaded) is known by its cursor as read from the store: after each commit
 * of a local sender with messages to it, and whenever a send to it was refused at the bound; on a
 * store shared by replicas, such a commit also wakes the replicas (`replicate`).
 */
export class MessageHub {
  private readonly feeds = new Map<string, ReceiverFeed>();
  /** `to\0from` → the highest seq of `from`'s messages `to` committed. */
  private readonly handledSeq = new Map<string, bigint>();
  /** `to\0from` → `to`'s inbox bound for `from`'s messages, from its `messages` trigger. */
  private readonly bounds = new Map<string, number>();
  private readonly counters = new Map<string, MessageStats>();
  /** Senders served here, by name: their outboxes are trimmed here. */
  private readonly trims = new Map<string, OutboxTrim>();
  /** `to\0from` → `to`'s cursor when `from`'s outbox to it was last trimmed. */
  private readonly trimmedTo = new Map<string, bigint>();
  /** `to\0from` → a read of `to`'s committed cursor from the store, running. */
  private readonly reads = new Map<string, Promise<bigint>>();
  /** Tells the other replicas that `from` committed messages (a NOTIFY): see `replicate`. */
  private notify: ((from: string) => void) | undefined;

  /** `store`: where a receiver not served here has its committed cursors. */
  constructor(private readonly store?: EngineStore) {}

  /**
   * On a store shared by replicas: a local sender's commit with messages to a receiver not served here
   * calls `notify(sender)` (the store's NOTIFY), and each replica's `wakeFrom` wakes its receivers.
   */
  replicate(notify: (from: string) => void): void {
    this.notify = notify;
  }

  /** `from` committed messages on another replica: every receiver here reads its outbox (a lane not taking from it ignores it). */
  wakeFrom(from: string): void {
    for (const feed of this.feeds.values()) feed.wake(from);
  }

  /** A sender serves here: its outboxes are trimmed by `trim` from now on. */
  addSender(trim: OutboxTrim): void {
    this.trims.set(trim.sender, trim);
    trim.request();
  }

  /** Its trims stop (resolves once the one running has committed). */
  async removeSender(sender: string): Promise<void> {
    const trim = this.trims.get(sender);
    if (!trim) return;
    this.trims.delete(sender);
    await trim.stop();
  }

  /** Resolves once no read of a receiver's cursor from the store, and then no trim, runs (the trims those reads asked for included). */
  async trimmed(): Promise<void> {
    await Promise.allSettled([...this.reads.values()]);
    await Promise.all([...this.trims.values()].map((trim) => trim.idle()));
  }

  /** The receiver's committed cursor on `from`: known here when `to` is served here, else read from the store. */
  async committedCursor(to: string, from: string): Promise<bigint> {
    if (this.feeds.has(to) || !this.store) return this.handledBy(to, from);
    const key = pair(to, from);
    let read = this.reads.get(key);
    if (!read) {
      read = this.readCursor(to, from).finally(() => this.reads.delete(key));
      this.reads.set(key, read);
    }
    return read;
  }

  /** The trim of `from`'s outbox to `to` read `to`'s cursor at `upTo` and deleted `count` entries. */
  outboxTrimmed(to: string, from: string, upTo: bigint, count: number): void {
    const key = pair(to, from);
    if ((this.trimmedTo.get(key) ?? 0n) < upTo) this.trimmedTo.set(key, upTo);
    this.stats(from).trimmed += count;
  }

  /** The messages host context of `sender`, whose grant names `grants`. */
  context(sender: string, grants: readonly string[], defaultBound: number): MessagesContext {
    return {
      grants,
      inbox: (to) => ({ handled: this.handledSeq.get(pair(to, sender)) ?? 0n, bound: this.bounds.get(pair(to, sender)) ?? defaultBound }),
      full: (to) => {
        this.stats(sender).inboxFull++;
        // What this engine knows of a receiver served elsewhere may be old: the next send sees the store's.
        if (!this.feeds.has(to)) this.refresh(to, sender);
      },
    };
  }

  /** A module of the engine's (served here or not): its senders learn its inbox bound for them. */
  declare(manifest: ResolvedManifest): void {
    for (const [from, bound] of messageSenders(manifest)) this.bounds.set(pair(manifest.name, from), bound);
  }

  /** A receiver serves here: it hears of its senders' commits from now on. */
  attach(feed: ReceiverFeed, bounds: ReadonlyMap<string, number>): void {
    this.feeds.set(feed.receiver, feed);
    for (const [from, bound] of bounds) this.bounds.set(pair(feed.receiver, from), bound);
  }

  detach(feed: ReceiverFeed): void {
    if (this.feeds.get(feed.receiver) === feed) this.feeds.delete(feed.receiver);
  }

  /** `to` committed its cursor on `from`'s messages at `seq` (at its start, or a message's step). */
  handled(to: string, from: string, seq: bigint, delivered: boolean): void {
    const key = pair(to, from);
    if ((this.handledSeq.get(key) ?? -1n) < seq) this.handledSeq.set(key, seq);
    if (delivered) this.stats(to).delivered++;
    this.trimIfDue(to, from);
  }

  /** `to` committed its cursor on `from`'s messages at `seq` with message `seq` moved to its dead letters. */
  deadLettered(to: string, from: string, seq: bigint): void {
    this.stats(to).dead++;
    this.handled(to, from, seq, false);
  }

  /** The highest seq of `from`'s messages `to` is known to have committed. */
  handledBy(to: string, from: string): bigint {
    return this.handledSeq.get(pair(to, from)) ?? 0n;
  }

  /** `sender` committed `writes`: the receivers of the messages among them read their outboxes. */
  committed(sender: string, writes: readonly Write[]): void {
    let woken: Set<string> | undefined;
    for (const write of writes) {
      if (write.value === null) continue;
      const entry = write.decoded as OutboxEntry | undefined;
      if (entry === undefined || typeof entry.p !== 'string') continue;
      const to = parseOutboxKey(write.key)?.to;
      if (to === undefined) continue;
      if (entry.r === undefined) this.stats(sender).sent++;
      else this.stats(sender).retracted++;
      (woken ??= new Set()).add(to);
    }
    if (!woken) return;
    let elsewhere = false;
    for (const to of woken) {
      const feed = this.feeds.get(to);
      if (feed) feed.wake(sender);
      else {
        elsewhere = true;
        this.refresh(to, sender);
      }
    }
    if (elsewhere) this.notify?.(sender);
  }

  stats(module: string): MessageStats {
    let stats = this.counters.get(module);
    if (!stats) this.counters.set(module, (stats = { sent: 0, delivered: 0, retracted: 0, inboxFull: 0, trimmed: 0, dead: 0 }));
    return stats;
  }

  /** Every module's counters that moved. */
  all(): Record<string, MessageStats> {
    return Object.fromEntries([...this.counters].map(([name, stats]) => [name, { ...stats }]));
  }

  /** Reads `to`'s committed cursor on `from` from the store: the hub learns it (and trims if due). */
  private refresh(to: string, from: string): void {
    // A failed read leaves what is known: the next commit or refused send reads again.
    this.committedCursor(to, from).catch(() => undefined);
  }

  private async readCursor(to: string, from: string): Promise<bigint> {
    const view = await this.store!.readView();
    let seq = 0n;
    try {
      const cursor = (await (await view.module(to))?.cursors())?.[messageSource(from)] as { seq?: unknown } | undefined;
      if (typeof cursor?.seq === 'number') seq = BigInt(cursor.seq);
    } finally {
      await view.close();
    }
    this.handled(to, from, seq, false);
    return this.handledBy(to, from);
  }

  /** `from` serves here and `to` has handled enough of its messages since the last trim: `min(trimEvery, inbox)`. */
  private trimIfDue(to: string, from: string): void {
    const trim = this.trims.get(from);
    if (!trim) return;
    const key = pair(to, from);
    const every = BigInt(Math.min(DEFAULT_MESSAGES.trimEvery, this.bounds.get(key) ?? DEFAULT_MESSAGES.inbox));
    if ((this.handledSeq.get(key) ?? 0n) - (this.trimmedTo.get(key) ?? 0n) >= every) trim.request();
  }
}

const pair = (to: string, from: string) => `${to}\u0000${from}`;
