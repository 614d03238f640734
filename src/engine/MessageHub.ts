import type { MessagesContext, OutboxEntry } from '../host/messages.ts';
import type { Write } from '../store/EngineStore.ts';
import { parseOutboxKey } from '../store/reservedKeys.ts';

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
}

/**
 * The engine's meeting point of senders and receivers: it wakes a receiver's feed once a sender's
 * commit put messages in the outbox to it, knows how far each receiver has handled each sender (its
 * committed cursors, which the senders' inbox bound is checked against, without a read) and counts.
 * Only modules loaded on this engine are known: a receiver that is not loaded here counts as having
 * handled nothing it has not been seen to commit, so its senders stop at the bound.
 */
export class MessageHub {
  private readonly feeds = new Map<string, ReceiverFeed>();
  /** `to\0from` → the highest seq of `from`'s messages `to` committed. */
  private readonly handledSeq = new Map<string, bigint>();
  /** `to\0from` → `to`'s inbox bound for `from`'s messages, from its `messages` trigger. */
  private readonly bounds = new Map<string, number>();
  private readonly counters = new Map<string, MessageStats>();

  /** The messages host context of `sender`, whose grant names `grants`. */
  context(sender: string, grants: readonly string[], defaultBound: number): MessagesContext {
    return {
      grants,
      inbox: (to) => ({ handled: this.handledSeq.get(pair(to, sender)) ?? 0n, bound: this.bounds.get(pair(to, sender)) ?? defaultBound }),
      full: () => this.stats(sender).inboxFull++,
    };
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
    if (woken) for (const to of woken) this.feeds.get(to)?.wake(sender);
  }

  stats(module: string): MessageStats {
    let stats = this.counters.get(module);
    if (!stats) this.counters.set(module, (stats = { sent: 0, delivered: 0, retracted: 0, inboxFull: 0 }));
    return stats;
  }

  /** Every module's counters that moved. */
  all(): Record<string, MessageStats> {
    return Object.fromEntries([...this.counters].map(([name, stats]) => [name, { ...stats }]));
  }
}

const pair = (to: string, from: string) => `${to}\u0000${from}`;
