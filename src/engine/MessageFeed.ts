import type { Logger } from 'pino';
import type { DeliveryOutcome } from '../actor/Actor.ts';
import type { GuestEvent } from '../bus/guestEvents.ts';
import { decodeOutboxEntry } from '../host/messages.ts';
import { DEFAULT_MESSAGES } from '../limits/defaults.ts';
import type { Bytes, EngineStore, ModuleStore } from '../store/EngineStore.ts';
import { messageSource, outboxKey, outboxPrefix, parseOutboxKey, prefixLimit } from '../store/reservedKeys.ts';
import type { MessageHub } from './MessageHub.ts';

/** One message as the receiver's step takes it (the `message` envelope, src/engine/invocation.ts). */
export interface MessageDelivery {
  kind: 'message';
  event: GuestEvent;
  from: string;
  /** Its place in the sender's outbox to this receiver: the receiver's cursor on the sender commits it. */
  seq: number;
  lane: MessageLane;
}

/** What the step of a message asks of the feed that read it. */
export interface MessageLane {
  /** The seq its step must have to run: one past the last committed (an older one is a repeat, a newer one follows a failure). */
  expected(): bigint;
  /** Its step committed the cursor at `seq`. */
  handled(seq: bigint): void;
}

/** Hands one message to the receiver's mailbox; `queued` resolves once it is in, `outcome` when its step ended. */
export type MessageSink = (delivery: MessageDelivery) => { queued: Promise<void>; outcome: Promise<DeliveryOutcome> };

/** How the feed reads: the receiver's cursors, and entries of a sender's committed state (its outbox). */
export interface MessageSources {
  receiver: Pick<ModuleStore, 'cursor'>;
  entries(sender: string, range: { gt: Bytes; lt: Bytes; limit: number }): Promise<[Bytes, Bytes][]>;
  /** Resolves once the receiver's actor serves again (its circuit closed or half-open): at once when it serves. */
  whenServing(): Promise<void>;
}

/**
 * Reads a sender's committed entries through a read view, never `store.module(sender)`: on a store
 * shared by replicas that would try to acquire the sender (its lease) for the receiver's replica.
 */
export function viewEntries(store: EngineStore): MessageSources['entries'] {
  return async (sender, range) => {
    const view = await store.readView();
    try {
      const state = await view.module(sender);
      const out: [Bytes, Bytes][] = [];
      if (state) for await (const [key, value] of state.entries(range)) out.push([Uint8Array.from(key), Uint8Array.from(value)]);
      return out;
    } finally {
      await view.close();
    }
  };
}

/**
 * The messages of one receiver, read from its senders' outboxes (the senders' committed state) from
 * its committed cursor on each (`msg:<sender>`, `{ seq }`), when it starts and whenever a sender's
 * commit put messages to it there (MessageHub wakes it). Each sender is a lane of its own: read ahead
 * into the mailbox in seq order, and its step runs only if it is the one after the last committed
 * (`MessageLane.expected`), so a message is handled once, in order, whatever was queued twice. A step
 * that does not commit (a signal; refused as out of turn) rewinds the lane to the committed cursor.
 */
export class MessageFeed {
  private readonly lanes = new Map<string, Lane>();
  private stopped = false;

  constructor(
    readonly receiver: string,
    senders: readonly string[],
    private readonly sources: MessageSources,
    private readonly hub: MessageHub,
    private readonly sink: MessageSink,
    private readonly logger: Logger,
    private readonly batch: number = DEFAULT_MESSAGES.batch,
  ) {
    for (const from of senders) this.lanes.set(from, new Lane(from));
  }

  /** Reads each lane's committed cursor (the hub learns them), then reads every outbox from there. */
  async start(): Promise<void> {
    for (const lane of this.lanes.values()) {
      const cursor = (await this.sources.receiver.cursor(messageSource(lane.from))) as { seq?: unknown } | undefined;
      const seq = typeof cursor?.seq === 'number' ? BigInt(cursor.seq) : 0n;
      this.hub.handled(this.receiver, lane.from, seq, false);
      lane.position = seq;
    }
    for (const lane of this.lanes.values()) this.wake(lane.from);
  }

  /** `from` committed messages to this receiver (a read running now reads once more after it). */
  wake(from: string): void {
    const lane = this.lanes.get(from);
    if (!lane || this.stopped) return;
    lane.again = true;
    lane.running ??= this.drain(lane);
  }

  /** No read starts any more; resolves once those running have queued what they read. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.lanes.values()].map((lane) => lane.running));
  }

  private async drain(lane: Lane): Promise<void> {
    try {
      while (lane.again && !this.stopped) {
        lane.again = false;
        await this.read(lane);
      }
    } finally {
      lane.running = undefined;
    }
  }

  private async read(lane: Lane): Promise<void> {
    try {
      const end = prefixLimit(outboxPrefix(this.receiver));
      for (;;) {
        const entries = await this.sources.entries(lane.from, { gt: outboxKey(this.receiver, lane.position), lt: end, limit: this.batch });
        for (const [key, value] of entries) {
          if (this.stopped) return;
          const seq = parseOutboxKey(key)?.seq;
          const entry = decodeOutboxEntry(value);
          if (seq === undefined || seq <= lane.position || !entry) continue;
          const event: GuestEvent = {
            tag: 'message',
            val: { from: lane.from, seq: entry.r === undefined ? seq : BigInt(entry.r), payload: entry.p, correlationId: entry.c, removed: entry.r !== undefined },
          };
          const generation = lane.generation;
          const { queued, outcome } = this.sink({ kind: 'message', event, from: lane.from, seq: Number(seq), lane: this.laneOf(lane) });
          void outcome.then((o) => this.ended(lane, generation, o));
          lane.position = seq;
          await queued;
        }
        if (entries.length < this.batch) return;
      }
    } catch (error) {
      // The next wake reads again from the same position.
      if (!this.stopped) this.logger.warn({ err: error, from: lane.from }, 'messages could not be read');
    }
  }

  /** A step that did not commit: the lane reads again from the committed cursor (once per failure, not per message queued behind it). */
  private ended(lane: Lane, generation: number, outcome: DeliveryOutcome): void {
    if (outcome.ok || this.stopped || generation !== lane.generation) return;
    if ('refused' in outcome && outcome.refused === 'stopped') return;
    lane.generation++;
    lane.position = this.hub.handledBy(this.receiver, lane.from);
    // A signal's retry waits out the actor's own backoff; a refusal at an open circuit comes back at once,
    // so reading again straight away spun a core for as long as the circuit stayed open (found in review).
    if ('refused' in outcome && outcome.refused === 'circuit-open') {
      void this.sources.whenServing().then(() => this.wake(lane.from));
      return;
    }
    this.wake(lane.from);
  }

  private laneOf(lane: Lane): MessageLane {
    return (lane.view ??= {
      expected: () => this.hub.handledBy(this.receiver, lane.from) + 1n,
      handled: (seq) => this.hub.handled(this.receiver, lane.from, seq, true),
    });
  }
}

class Lane {
  /** The last seq queued (ahead of the committed cursor while steps wait in the mailbox). */
  position = 0n;
  /** Bumped by a rewind: outcomes of steps queued before it are of no interest. */
  generation = 0;
  running: Promise<void> | undefined;
  again = false;
  view: MessageLane | undefined;

  constructor(readonly from: string) {}
}
