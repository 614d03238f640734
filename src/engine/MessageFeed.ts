import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { DeliveryOutcome } from '../actor/Actor.ts';
import type { GuestEvent } from '../bus/guestEvents.ts';
import { decodeOutboxEntry } from '../host/messages.ts';
import { DEFAULT_DEAD_LETTERS, DEFAULT_MESSAGES } from '../limits/defaults.ts';
import type { Bytes, EngineStore, ModuleStore } from '../store/EngineStore.ts';
import type { GuardedModuleStore } from '../store/GuardedModuleStore.ts';
import { deadMessageKey, messageSource, outboxKey, outboxPrefix, parseOutboxKey, prefixLimit } from '../store/reservedKeys.ts';
import { cutForJson, decodeDeadMessage, encodeDeadMessage, pruneDeadMessages, type DeadMessage } from './messageDeadLetters.ts';
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

/**
 * How the feed reads: the receiver's cursors, and entries of a sender's committed state (its outbox);
 * and how it dead-letters a message: a commit of the receiver's, in its turn among the receiver's steps.
 */
export interface MessageSources {
  receiver: ModuleStore & Pick<GuardedModuleStore, 'commitIf'>;
  entries(sender: string, range: { gt: Bytes; lt: Bytes; limit: number }): Promise<[Bytes, Bytes][]>;
  /** Resolves once the receiver's actor serves again (its circuit closed or half-open): at once when it serves. */
  whenServing(): Promise<void>;
  /** The clock of dead letters' `deadAt` (epoch ms). */
  now?: () => number;
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
    private readonly retry: number = DEFAULT_MESSAGES.retry,
    /** Dead-lettered messages the receiver keeps, the newest (deadMessagesKept: a tenth of its storedBytes, at most tasks' retention count). */
    private readonly keepDead: number = DEFAULT_DEAD_LETTERS.maxCount,
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
          // A retraction of a message that was dead-lettered: the original never ran, so there is
          // nothing to take back, and the guest must not be asked to (found in review).
          if (entry.r !== undefined && this.sources.receiver.getSync(deadMessageKey(lane.from, BigInt(entry.r))) !== undefined) {
            if (!(await this.passRetraction(lane, seq, BigInt(entry.r)))) return;
            continue;
          }
          const event: GuestEvent = {
            tag: 'message',
            val: { from: lane.from, seq: entry.r === undefined ? seq : BigInt(entry.r), payload: entry.p, correlationId: entry.c, removed: entry.r !== undefined },
          };
          const generation = lane.generation;
          const { queued, outcome } = this.sink({ kind: 'message', event, from: lane.from, seq: Number(seq), lane: this.laneOf(lane) });
          void outcome.then((o) => this.ended(lane, generation, o, seq, event));
          lane.last = outcome;
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

  /**
   * A step that did not commit: the lane reads again from the committed cursor (once per failure, not
   * per message queued behind it); a message whose step ended in a signal more than `retry` times
   * running is dead-lettered first, so the lane reads on past it.
   */
  private ended(lane: Lane, generation: number, outcome: DeliveryOutcome, seq: bigint, event: GuestEvent): void {
    if (outcome.ok || this.stopped || generation !== lane.generation) return;
    if ('refused' in outcome && outcome.refused === 'stopped') return;
    lane.generation++;
    if ('signal' in outcome) {
      // A signal comes only from a step that ran, so in its turn (`seq` one past the committed cursor).
      const runs = lane.failing?.seq === seq ? ++lane.failing.runs : (lane.failing = { seq, runs: 1 }).runs;
      if (runs > this.retry) {
        void this.deadLetter(lane, seq, event, runs, outcome.signal).then(() => this.rewind(lane));
        return;
      }
    }
    this.rewind(lane, outcome);
  }

  /**
   * Moves message `seq` to the receiver's dead letters: the record and the cursor past it in one commit
   * of the receiver's, in turn with its steps' commits, and only if its cursor on the sender has not
   * moved meanwhile (so a message is handled or dead, once). A failed commit leaves it to run again.
   */
  private async deadLetter(lane: Lane, seq: bigint, event: GuestEvent, runs: number, signal: { name: string; message: string }): Promise<void> {
    const message = event.val as { seq: bigint; payload: string; correlationId: string | undefined; removed: boolean };
    // Cut: a dead letter counts toward the receiver's storedBytes (see DEFAULT_MESSAGES.deadPayloadBytes).
    const payload = cutForJson(message.payload, DEFAULT_MESSAGES.deadPayloadBytes);
    const dead: DeadMessage = {
      from: lane.from,
      seq: Number(seq),
      payload,
      ...(payload === message.payload ? {} : { payloadBytes: Buffer.byteLength(message.payload, 'utf8'), payloadSha256: createHash('sha256').update(message.payload, 'utf8').digest('hex') }),
      ...(message.correlationId === undefined ? {} : { correlationId: message.correlationId }),
      removed: message.removed,
      ...(message.removed ? { retracts: Number(message.seq) } : {}),
      attempts: runs,
      lastError: { signal: signal.name, message: cutForJson(signal.message, DEFAULT_MESSAGES.deadErrorBytes) },
      deadAt: (this.sources.now ?? Date.now)(),
    };
    const key = deadMessageKey(lane.from, seq);
    const value = encodeDeadMessage(dead);
    const cursor = { source: messageSource(lane.from), value: { seq: Number(seq) } };
    try {
      const committed = await this.sources.receiver.commitIf({ writes: [{ key, value }], sizeDelta: key.byteLength + value.byteLength, cursor }, () => this.hub.handledBy(this.receiver, lane.from) === seq - 1n);
      if (!committed) return;
      lane.failing = undefined;
      this.hub.deadLettered(this.receiver, lane.from, seq);
      this.logger.warn({ from: lane.from, to: this.receiver, seq: Number(seq), attempts: runs, signal: signal.name }, 'message failed for the last time: dead-lettered');
      // A failed prune leaves one too many until the next dead letter: nothing to undo.
      await pruneDeadMessages(this.sources.receiver, this.keepDead).catch((error: unknown) => this.logger.warn({ err: error, to: this.receiver }, 'could not apply the dead-letter retention to messages'));
    } catch (error) {
      this.logger.error({ err: error, from: lane.from, to: this.receiver, seq: Number(seq) }, 'could not dead-letter a message; it runs again');
    }
  }

  /**
   * Moves the receiver's cursor past retraction `seq` of dead-lettered message `retracts` without running
   * it, once the steps queued before it have committed, and marks the dead letter `retracted`. False when
   * the lane was rewound meanwhile (an earlier step failed) or the commit failed: the next read decides.
   */
  private async passRetraction(lane: Lane, seq: bigint, retracts: bigint): Promise<boolean> {
    const generation = lane.generation;
    await lane.last?.catch(() => undefined);
    if (this.stopped || generation !== lane.generation) return false;
    const key = deadMessageKey(lane.from, retracts);
    const before = this.sources.receiver.getSync(key);
    const dead = before && decodeDeadMessage(before);
    const writes = dead ? [{ key, value: encodeDeadMessage({ ...dead, retracted: true }) }] : [];
    const sizeDelta = writes.length > 0 ? writes[0]!.value.byteLength - before!.byteLength : 0;
    try {
      const committed = await this.sources.receiver.commitIf({ writes, sizeDelta, cursor: { source: messageSource(lane.from), value: { seq: Number(seq) } } }, () => this.hub.handledBy(this.receiver, lane.from) === seq - 1n);
      if (!committed) return false;
    } catch (error) {
      this.logger.error({ err: error, from: lane.from, to: this.receiver, seq: Number(seq) }, 'could not pass the retraction of a dead-lettered message; it is read again');
      return false;
    }
    this.hub.handled(this.receiver, lane.from, seq, false);
    lane.position = seq;
    return true;
  }

  /** The lane reads again from the committed cursor: at once, or once the actor serves again after a refusal at its open circuit. */
  private rewind(lane: Lane, outcome?: DeliveryOutcome): void {
    if (this.stopped) return;
    lane.position = this.hub.handledBy(this.receiver, lane.from);
    // A signal's retry waits out the actor's own backoff; a refusal at an open circuit comes back at once,
    // so reading again straight away spun a core for as long as the circuit stayed open (found in review).
    if (outcome && 'refused' in outcome && outcome.refused === 'circuit-open') {
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
  /** The outcome of the last step queued: a retraction passed without running waits for it. */
  last: Promise<DeliveryOutcome> | undefined;
  /** The message whose step failed last, and how many runs of it in a row ended in a signal. */
  failing: { seq: bigint; runs: number } | undefined;
  view: MessageLane | undefined;

  constructor(readonly from: string) {}
}
